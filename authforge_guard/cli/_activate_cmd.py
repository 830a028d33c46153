"""``authforge-guard activate KEY`` / ``deactivate``: a customer stores their license key once.

The key is checked with AuthForge first (a login, which takes this machine's
seat) and only then saved in the user's configuration directory (0600); every
program of the app on this machine then uses it when no key is configured.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from . import EXIT_OK
from ._common import add_app_options, app_id, given


def add_parser(subparsers: Any) -> None:
    activate = subparsers.add_parser(
        "activate",
        help="check a license key and store it for this user",
        description="Check KEY with AuthForge and, if it is good, store it in this user's "
        "configuration directory (readable by this user only). Programs of the app on this "
        "machine use it when no AUTHFORGE_LICENSE_KEY or license file is configured. App "
        "settings come from the AUTHFORGE_* variables (the app secret only from "
        "$AUTHFORGE_APP_SECRET).",
        epilog="exit codes: 0 activated, 1 refused, 2 configuration error, "
        "3 network (no answer from AuthForge)",
    )
    activate.add_argument("key", metavar="KEY", help="the license key")
    add_app_options(activate, api_url=True)
    activate.set_defaults(func=run_activate)

    deactivate = subparsers.add_parser(
        "deactivate",
        help="remove the stored license key",
        description="Remove the license key stored by `activate` for this user.",
        epilog="exit codes: 0 ok (also when no key was stored), 2 no app id",
    )
    add_app_options(deactivate, public_key=False)
    deactivate.set_defaults(func=run_deactivate)


def run_activate(args: argparse.Namespace) -> int:
    from .._exceptions import LicenseError
    from .._guard import Guard
    from .._keystore import activate, key_path
    from .._refusal import exit_code_for, user_message

    # No session cache and no heartbeat left behind: this process only checks and stores.
    guard = Guard(**given(args))
    try:
        session = activate(args.key, guard=guard)
    except LicenseError as exc:
        sys.stderr.write(user_message(exc) + "\n")
        return exit_code_for(exc)
    except ValueError as exc:  # not a key at all
        sys.stderr.write(f"error: {exc}\n")
        return 2
    finally:
        guard.logout()
    sys.stdout.write(
        f"Activated: license {session.license_key} (tier {session.tier or 'none'}).\n"
        f"Stored in {key_path(guard.settings.app_id)}\n"
    )
    return EXIT_OK


def run_deactivate(args: argparse.Namespace) -> int:
    from .._keystore import forget_key

    if forget_key(app_id(args)):
        sys.stdout.write("Deactivated: the stored license key was removed.\n")
    else:
        sys.stdout.write("No license key was stored.\n")
    return EXIT_OK
