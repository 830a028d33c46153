"""Layer 7: the ``authforge-guard`` command line (also ``python -m authforge_guard``).

Subcommands: ``hwid``, ``check``, ``verify-file``, ``activate``, ``deactivate``,
``activation-request``, ``server``, ``admin``, ``demo``. Each lives in a module exposing
``add_parser(subparsers)`` (which sets ``func``), listed in
``build_parser``; modules import the library inside ``func``, so
``--help`` stays fast. Exit codes: 0 ok, 1 license refused, 2 usage or
configuration error (a ``ConfigurationError`` is one line, no traceback),
3 network (no answer from AuthForge).
"""

from __future__ import annotations

import argparse
import sys

from .._version import __version__
from ._exit_codes import EXIT_NETWORK, EXIT_OK, EXIT_REFUSED, EXIT_USAGE

__all__ = ["EXIT_NETWORK", "EXIT_OK", "EXIT_REFUSED", "EXIT_USAGE", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="authforge-guard",
        description="AuthForge licensing tools: this machine's HWID, license checks, "
        "offline files, a local AuthForge server and its admin, and a demo. Settings come "
        "from the same AUTHFORGE_* environment variables a Guard reads.",
        epilog="exit codes: 0 ok, 1 license refused, 2 usage or configuration error, "
        "3 network (no answer from AuthForge). Start with: authforge-guard demo",
    )
    parser.add_argument("--version", action="version", version=f"authforge-guard {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    # Import statements, not computed names: a frozen program that ships this command
    # line (PyInstaller, Nuitka) finds every subcommand. Each module is cheap to import.
    from . import (
        _activate_cmd,
        _admin_cmd,
        _check_cmd,
        _demo_cmd,
        _hwid_cmd,
        _request_cmd,
        _server_cmd,
    )

    # In the order ``--help`` lists them.
    for module in (
        _hwid_cmd,
        _check_cmd,  # check, verify-file
        _activate_cmd,  # activate, deactivate
        _request_cmd,
        _server_cmd,
        _admin_cmd,
        _demo_cmd,
    ):
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    from .._exceptions import ConfigurationError

    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigurationError as exc:
        # A setting the user can fix: one line, no traceback (and no crash without a console).
        from .._base._console import say

        say(f"error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
