"""What the licensing subcommands share: app options, settings read as a ``Guard`` reads
them, and the exit code a license code means.

Settings come from the flags first, then the same ``AUTHFORGE_*`` variables a
``Guard`` reads. The CLI is a tool of whoever runs it (a vendor, a developer, a
customer checking their own license), so it trusts the environment
(``trust_environment=True``), as a licensed program's own Guard does not.

The app secret is never a flag: command lines are visible to every user of the
machine (``ps``), so it comes from ``AUTHFORGE_APP_SECRET`` only.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._guard._config import GuardSettings

_FLAG_SETTINGS = {
    "app_id": "app_id",
    "public_key": "public_key",
    "api_url": "api_base_url",
    "hwid_override": "hwid_override",
}


def exit_code_for(code: str) -> int:
    """The exit code an AuthForge code means: ``_refusal`` decides it for every CLI (ours and
    the apps'), 1 for a verdict, 3 when no verdict came back (network, timeout, 5xx...)."""
    from .._api._refusal import exit_code_for as for_error
    from .._exceptions import LicenseError

    return for_error(LicenseError(code))


def add_app_options(
    parser: argparse.ArgumentParser,
    *,
    public_key: bool = True,
    api_url: bool = False,
    override_flags: tuple[str, ...] = ("--hwid-override",),
) -> None:
    """``--app-id``, ``--public-key``, ``--api-url``, ``--hwid-override`` (each optional)."""
    parser.add_argument("--app-id", metavar="ID", help="the app id (default: $AUTHFORGE_APP_ID)")
    if public_key:
        parser.add_argument(
            "--public-key",
            metavar="KEY",
            help="the app's Ed25519 public key, base64; several comma-separated during a "
            "rotation (default: $AUTHFORGE_PUBLIC_KEY)",
        )
    if api_url:
        parser.add_argument(
            "--api-url",
            metavar="URL",
            help="the AuthForge API (default: $AUTHFORGE_API_URL, else https://auth.authforge.cc)",
        )
    parser.add_argument(
        *override_flags,
        dest="hwid_override",
        metavar="TEXT",
        help="an HWID override such as tg:123, used instead of this machine's HWID "
        "(default: $AUTHFORGE_HWID_OVERRIDE)",
    )


def given(args: argparse.Namespace) -> dict[str, Any]:
    """The ``Guard`` keywords the user set with flags, and ``trust_environment=True``."""
    found: dict[str, Any] = {"trust_environment": True}
    for dest, keyword in _FLAG_SETTINGS.items():
        value = getattr(args, dest, None)
        if value is not None:
            found[keyword] = value
    return found


def settings(args: argparse.Namespace) -> GuardSettings:
    """Flags, then ``AUTHFORGE_*`` (trusted): what a ``Guard`` with
    ``trust_environment=True`` would be configured with. Raises ``ConfigurationError``
    (the CLI prints it as one line, exit 2)."""
    from .._guard._config import resolve_settings

    return resolve_settings(given(args))


def app_id(args: argparse.Namespace) -> str:
    """``--app-id`` or ``AUTHFORGE_APP_ID``, for commands that need no public key."""
    from .._guard._config import text_setting

    value = text_setting(
        "app_id", getattr(args, "app_id", None), given_as="flag --app-id", required=True
    )
    assert value is not None
    return value


def hwid_override(args: argparse.Namespace) -> str | None:
    from .._guard._config import text_setting

    return text_setting(
        "hwid_override", getattr(args, "hwid_override", None), given_as="flag --hwid-override"
    )


def this_machine_hwid(app: str, override: str | None) -> str:
    """What a ``Guard`` for ``app`` sends as the HWID on this machine."""
    from .._protocol import resolve_hwid

    return resolve_hwid(app, override)
