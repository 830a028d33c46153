"""``authforge-guard hwid``: the HWID this machine sends for an app (what a vendor binds to)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import add_app_options, app_id, hwid_override, this_machine_hwid
from ._exit_codes import EXIT_OK


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "hwid",
        help="print this machine's HWID for an app",
        description="Print the HWID a licensed program sends from this machine: "
        "sha256_hex('authforge-hwid-v2|' + app_id + '|' + machine_id), where machine_id "
        "is the OS machine id (/etc/machine-id on Linux, IOPlatformUUID on macOS, "
        "MachineGuid on Windows). With an override (--override or "
        "$AUTHFORGE_HWID_OVERRIDE) that text is what is sent, unchanged.",
        epilog="exit codes: 0 ok, 2 no app id",
    )
    add_app_options(parser, public_key=False, override_flags=("--override", "--hwid-override"))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    override = hwid_override(args)
    hwid = override if override is not None else this_machine_hwid(app_id(args), None)
    sys.stdout.write(hwid + "\n")
    return EXIT_OK
