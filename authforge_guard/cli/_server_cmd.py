"""``authforge-guard server``: run the local AuthForge server in the foreground."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sqlite3
import sys
import threading
from typing import Any, Callable, Dict

from . import EXIT_OK, EXIT_USAGE


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "server",
        help="run a local AuthForge-compatible server",
        description="Serve the AuthForge API from a sqlite database until Ctrl-C or SIGTERM. "
        "A new database gets one app (offline activation on); its secret is printed only "
        "with --show-credentials (or later by 'admin app show --reveal-secret'). Plain "
        "http is fine on loopback (clients accept http:// only for loopback addresses); "
        "--tls-cert and --tls-key serve https, e.g. to test a private CA (clients trust it "
        "with AUTHFORGE_CA_BUNDLE or ca_bundle=).",
        epilog="exit codes: 0 stopped cleanly, 2 bad arguments, unusable database or port",
    )
    parser.add_argument(
        "--db", required=True, metavar="PATH", help="database file (created if missing)"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=8787, help="port (default 8787; 0: any free port)"
    )
    parser.add_argument(
        "--heartbeat-rate-limit",
        type=int,
        default=6,
        metavar="N",
        help="heartbeats per minute per license (default 6; 0: no limit)",
    )
    parser.add_argument(
        "--tls-cert",
        metavar="PEM",
        help="serve https with this certificate (its chain may follow it); needs --tls-key",
    )
    parser.add_argument(
        "--tls-key", metavar="PEM", help="the certificate's private key (not encrypted)"
    )
    parser.add_argument(
        "--show-credentials",
        action="store_true",
        help="print the first app's id, secret and public key",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every refusal")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..server import AuthForgeServer
    from ..server._tls import server_context

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    out = sys.stdout
    if not 0 <= args.port <= 65535 or args.heartbeat_rate_limit < 0:
        sys.stderr.write("error: --port must be 0-65535 and --heartbeat-rate-limit >= 0\n")
        return EXIT_USAGE
    if (args.tls_cert is None) != (args.tls_key is None):
        sys.stderr.write("error: --tls-cert and --tls-key go together: give both or neither\n")
        return EXIT_USAGE
    tls = None
    if args.tls_cert is not None:
        missing = [path for path in (args.tls_cert, args.tls_key) if not os.path.isfile(path)]
        try:
            if missing:
                raise FileNotFoundError(f"no such file: {missing[0]}")
            tls = server_context((args.tls_cert, args.tls_key))
        except (OSError, ValueError) as exc:
            sys.stderr.write(
                f"error: cannot serve https with --tls-cert {args.tls_cert} "
                f"--tls-key {args.tls_key}: {exc}\n"
            )
            return EXIT_USAGE
    try:
        server = AuthForgeServer(
            args.db,
            host=args.host,
            port=args.port,
            heartbeat_rate_limit=args.heartbeat_rate_limit or None,
            tls=tls,
        )
    except (sqlite3.Error, OSError, RuntimeError) as exc:
        sys.stderr.write(f"error: cannot open database {args.db}: {exc}\n")
        return EXIT_USAGE
    try:
        apps = server.admin.list_apps()
        created = not apps
        app_id = (
            server.admin.create_app("default", offline_activation=True).app_id
            if created
            else apps[0]["app_id"]
        )
        server.start()
    except OSError as exc:
        server.stop()
        sys.stderr.write(f"error: cannot listen on {args.host}:{args.port}: {exc}\n")
        return EXIT_USAGE

    stop = threading.Event()
    restore = _on_stop_signals(lambda: stop.set())
    try:
        out.write(f"AuthForge local server listening on {server.url}\n")
        out.write(f"database: {args.db}{' (new)' if created else ''}\n")
        out.write(f"app id: {app_id}\n")
        if args.show_credentials:
            info = server.admin.app_info(app_id, reveal_secret=True)
            out.write(f"app secret: {info['app_secret']}\npublic key: {info['public_key']}\n")
        out.write("press Ctrl-C to stop\n")
        out.flush()
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        restore()
    out.write("stopped; database closed\n")
    out.flush()
    return EXIT_OK


def _on_stop_signals(handler: Callable[[], None]) -> Callable[[], None]:
    """Route SIGINT and SIGTERM to ``handler``; returns what puts the old handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # only the main thread may set signal handlers
    previous: Dict[int, Any] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, lambda _signum, _frame: handler())

    def restore() -> None:
        for signum, old in previous.items():
            signal.signal(signum, old)

    return restore
