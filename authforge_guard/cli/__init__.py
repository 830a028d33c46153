"""Layer 7: the ``authforge-guard`` command line (also ``python -m authforge_guard``)."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="authforge-guard")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="the whole story on an embedded local server")
    args = parser.parse_args(argv)
    if args.command == "demo":
        sys.stdout.write("authforge-guard demo: coming with the CLI/demo issue.\n")
    return 0
