"""``authforge-guard activate KEY`` / ``deactivate``: a customer stores their license key once.

The key is checked with AuthForge first (a login, which takes this machine's
seat) and only then saved in the user's configuration directory (0600); every
program of the app on this machine then uses it when no key is configured.
"""

from __future__ import annotations

import argparse
from typing import Any

from ._common import add_app_options, app_id, given
from ._exit_codes import EXIT_OK
from ._output import print_line


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
    activate.add_argument(
        "--support-hint",
        metavar="TEXT",
        help="who the customer contacts, named in a refusal (a vendor's shortcut sets it)",
    )
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
    from .._api._activate import activate
    from .._api._refusal import exit_code_for, user_message
    from .._base._console import say
    from .._exceptions import LicenseError
    from .._guard._facade import Guard
    from .._guard._keystore import key_path

    # No session cache and no heartbeat left behind: this process only checks and stores.
    guard = Guard(**given(args), support_hint=args.support_hint)
    try:
        session = activate(args.key, guard=guard)
    except LicenseError as exc:  # activate() set the support hint
        say(user_message(exc, exc.support_hint))
        return exit_code_for(exc)
    except ValueError as exc:  # not a key at all
        say(f"error: {exc}")
        return 2
    finally:
        guard.logout()
    print_line(
        f"Activated: license {session.license_key} (tier {session.tier or 'none'}).\n"
        f"Stored in {key_path(guard.settings.app_id)}"
    )
    return EXIT_OK


def run_deactivate(args: argparse.Namespace) -> int:
    from .._guard._keystore import forget_key

    if forget_key(app_id(args)):
        print_line("Deactivated: the stored license key was removed.")
    else:
        print_line("No license key was stored.")
    return EXIT_OK
