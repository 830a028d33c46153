"""Layer 7: the ``authforge-guard`` command line (also ``python -m authforge_guard``).

Each subcommand lives in its own module exposing ``add_parser(subparsers)``
(which sets ``func``) and is listed in ``_COMMAND_MODULES``. Exit codes:
0 ok, 1 license refused, 2 usage or configuration error, 3 network.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_NETWORK = 3

# Subcommand modules, in the order ``--help`` lists them.
_COMMAND_MODULES = ("._server_cmd", "._admin_cmd", "._demo_cmd")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="authforge-guard",
        description="AuthForge licensing tools: HWIDs, license checks, offline files, "
        "a local AuthForge server and its admin, and a demo.",
        epilog="exit codes: 0 ok, 1 license refused, 2 usage or configuration error, 3 network",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in _COMMAND_MODULES:
        importlib.import_module(name, __name__).add_parser(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
