"""``authforge-guard activation-request``: ask the vendor for an offline file for this machine.

The request carries the app id, this machine's HWID, the OS and, only when
asked for, the hostname (often a person's name) and a license key. It is not
secret and not signed; the vendor answers with
``authforge-guard admin mint --from-request FILE`` (or their dashboard).
"""

from __future__ import annotations

import argparse
import platform
import socket
import sys
import time
from typing import Any

from ._common import add_app_options, app_id, hwid_override, this_machine_hwid
from ._exit_codes import EXIT_OK, EXIT_USAGE

DEFAULT_OUTPUT = "activation.authforge-request"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "activation-request",
        help="write an .authforge-request for this machine (air-gapped activation)",
        description="Write an activation request for this machine: the app id, this "
        "machine's HWID, the OS and the SDK version. Send the file to the vendor; they "
        "answer with a signed .authforge file bound to this machine. No network, no secret.",
        epilog="exit codes: 0 written, 2 no app id or the file cannot be written",
    )
    add_app_options(parser, public_key=False)
    parser.add_argument(
        "-o",
        "--output",
        default=DEFAULT_OUTPUT,
        metavar="PATH",
        help=f"where to write it (default: {DEFAULT_OUTPUT}; '-' for stdout)",
    )
    parser.add_argument(
        "--license-key",
        metavar="KEY",
        help="name the license to activate (default: $AUTHFORGE_LICENSE_KEY, if set)",
    )
    parser.add_argument(
        "--include-hostname",
        action="store_true",
        help="include this machine's hostname (left out by default: it is often a name)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._base._files import write_atomic
    from .._guard._config import text_setting
    from .._protocol import mask_key

    app = app_id(args)
    hwid = this_machine_hwid(app, hwid_override(args))
    key = text_setting("license_key", args.license_key, given_as="flag --license-key")
    text = _request_text(app, hwid, key, with_hostname=args.include_hostname)
    out = sys.stdout
    if args.output == "-":
        out.write(text)
        out.flush()
        return EXIT_OK
    try:
        write_atomic(args.output, text.encode("utf-8"))
    except OSError as exc:
        sys.stderr.write(f"error: cannot write {args.output}: {exc.strerror or exc}\n")
        return EXIT_USAGE
    out.write(f"wrote {args.output}\n")
    out.write(f"  app id    {app}\n")
    out.write(f"  hwid      {hwid}\n")
    out.write(f"  license   {mask_key(key) if key else '- (the vendor chooses it)'}\n")
    out.write(f"  hostname  {'included' if args.include_hostname else 'not included'}\n")
    out.write(
        "Send it to the vendor; they answer with a .authforge file "
        "(authforge-guard admin mint --from-request FILE).\n"
    )
    out.flush()
    return EXIT_OK


def _request_text(app: str, hwid: str, key: str | None, *, with_hostname: bool) -> str:
    """The request as ``AuthForgeClient.create_activation_request`` writes it (same fields)."""
    from .._protocol import format_activation_request, iso_utc, os_label
    from .._protocol._activation import SDK_TAG

    return format_activation_request(
        app_id=app,
        hwid=hwid,
        created_at=iso_utc(time.time()),
        machine_name=(platform.node() or socket.gethostname()) if with_hostname else None,
        os=os_label(),
        sdk=SDK_TAG,
        license_key=key,
    )
