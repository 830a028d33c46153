"""``authforge-guard server``: run the local AuthForge server in the foreground."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import signal
import sqlite3
import ssl
import sys
import threading
from typing import Any, Callable

from ._exit_codes import EXIT_OK, EXIT_USAGE


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "server",
        help="run a local AuthForge-compatible server",
        description="Serve the AuthForge API from a sqlite database until Ctrl-C or SIGTERM. "
        "A new database gets one app (offline activation on); its secret is printed only "
        "with --show-credentials (or later by 'admin app show --reveal-secret'). Plain "
        "http is fine on loopback (clients accept http:// only for loopback addresses); "
        "--tls self-signed serves https with a certificate for localhost made (or reused) "
        "next to the database, and prints how to trust it from Python and Node; "
        "--tls-cert and --tls-key serve https with your own, e.g. to test a private CA "
        "(clients trust it with AUTHFORGE_CA_BUNDLE or ca_bundle=).",
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
        "--tls",
        choices=["self-signed"],
        help="serve https with a self-signed certificate for localhost, 127.0.0.1 and ::1 "
        "(and --host), kept and reused next to the database or in --tls-dir",
    )
    parser.add_argument(
        "--tls-dir",
        metavar="DIR",
        help="where --tls self-signed keeps its certificate (default: the database's folder)",
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
    if args.tls is not None and args.tls_cert is not None:
        sys.stderr.write("error: give --tls self-signed or --tls-cert/--tls-key, not both\n")
        return EXIT_USAGE
    if args.tls_dir is not None and args.tls is None:
        sys.stderr.write("error: --tls-dir goes with --tls self-signed\n")
        return EXIT_USAGE
    tls: ssl.SSLContext | None = None
    trust: list[str] = []
    try:
        if args.tls_cert is not None:
            tls = _given_certificate(args.tls_cert, args.tls_key)
        elif args.tls is not None:
            tls, trust = _self_signed(args)
    except _Refused as refused:
        sys.stderr.write(f"error: {refused}\n")
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
        out.writelines(f"{line}\n" for line in trust)
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


class _Refused(Exception):
    """A TLS setting the server cannot use; the message is the whole error line."""


def _given_certificate(cert: str, key: str) -> ssl.SSLContext:
    from ..server._tls import server_context

    missing = [path for path in (cert, key) if not os.path.isfile(path)]
    try:
        if missing:
            raise FileNotFoundError(f"no such file: {missing[0]}")
        return server_context((cert, key))
    except (OSError, ValueError) as exc:
        message = f"cannot serve https with --tls-cert {cert} --tls-key {key}: {exc}"
        raise _Refused(message) from None


def _self_signed(args: argparse.Namespace) -> tuple[ssl.SSLContext, list[str]]:
    """The server context for ``--tls self-signed``, and the lines that say how to trust it."""
    from ..server._tls import LOOPBACK_NAMES, ensure_self_signed, server_context

    folder = args.tls_dir or os.path.dirname(os.path.abspath(args.db))
    name = os.path.splitext(os.path.basename(args.db))[0] + "-tls"
    wildcard = args.host in ("", "0.0.0.0", "::")  # noqa: S104 (names, not a bind)
    hosts = list(dict.fromkeys([*LOOPBACK_NAMES, *([] if wildcard else [args.host])]))
    try:
        cert, key, created = ensure_self_signed(folder, name, hosts)
        context = server_context((cert, key))
    except (OSError, ValueError) as exc:
        raise _Refused(f"cannot make a self-signed certificate in {folder}: {exc}") from None
    path = shlex.quote(cert)
    return context, [
        f"tls certificate: {cert} (self-signed for {', '.join(hosts)}; "
        f"{'new' if created else 'reused'})",
        f"trust it from Python: AUTHFORGE_CA_BUNDLE={path} (authforge_guard) or "
        f"SSL_CERT_FILE={path} (the official SDK; replaces the system CAs for that process)",
        f"trust it from Node: NODE_EXTRA_CA_CERTS={path}",
    ]


def _on_stop_signals(handler: Callable[[], None]) -> Callable[[], None]:
    """Route SIGINT and SIGTERM to ``handler``; returns what puts the old handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # only the main thread may set signal handlers
    previous: dict[int, Any] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, lambda _signum, _frame: handler())

    def restore() -> None:
        for signum, old in previous.items():
            signal.signal(signum, old)

    return restore
