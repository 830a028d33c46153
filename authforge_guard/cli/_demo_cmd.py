"""``authforge-guard demo``: the whole story on an embedded local server."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="the whole story on an embedded local server")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    sys.stdout.write("authforge-guard demo: coming with the CLI/demo issue.\n")
    return 0
