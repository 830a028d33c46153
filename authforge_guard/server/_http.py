"""HTTP/1.1 for the local server: JSON in, JSON out, whatever the client sends.

Every answer, the errors of the HTTP layer included, is a JSON object written
in a single send (two sends on a kept-alive connection would wait 40 ms for
Nagle and delayed ACK). A bad request gets a JSON 4xx, never a stack trace;
an unexpected error is logged here and answered ``system_error``.

With TLS, the accept loop only wraps the accepted socket; the handshake runs
in the connection's own thread under the idle timeout, so a client that
stalls it, speaks plain HTTP or sends garbage costs one thread for at most
that long and never holds up anyone else.
"""

from __future__ import annotations

import contextlib
import http
import json
import logging
import re
import socket
import socketserver
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Mapping, Optional, Set, Tuple
from urllib.parse import urlsplit

from .._protocol._encoding import compact_json
from .._version import __version__
from ._endpoints import Endpoints, Refusal

logger = logging.getLogger("authforge_guard.server")

MAX_BODY_BYTES = 64 * 1024
# An oversized body up to this size is read and dropped so the connection
# stays usable; a larger one is answered and the connection closed.
_DRAIN_LIMIT_BYTES = 8 * 1024 * 1024
IDLE_TIMEOUT_SECONDS = 30.0
_CONTENT_LENGTH_RE = re.compile(r"[0-9]{1,18}")

# 401 app problems, 403 license and session problems, 429 rate and credit
# limits, 400 bad input; codes of the HTTP layer itself are listed too.
STATUS_FOR_CODE: Dict[str, int] = {
    "invalid_app": 401,
    "app_disabled": 401,
    "invalid_key": 403,
    "expired": 403,
    "revoked": 403,
    "hwid_mismatch": 403,
    "blocked": 403,
    "session_expired": 403,
    "offline_activation_disabled": 403,
    "offline_activation_requires_perpetual": 403,
    "offline_activation_requires_seats": 403,
    "offline_activation_limit_reached": 403,
    "rate_limited": 429,
    "no_credits": 429,
    "app_burn_cap_reached": 429,
    "demo_quota_exceeded": 429,
    "bad_request": 400,
    "malformed_request": 400,
    "replay_detected": 400,
    "revoke_requires_session": 400,
    "not_found": 404,
    "method_not_allowed": 405,
    "system_error": 500,
}


def _failed(code: str) -> Dict[str, str]:
    return {"status": "failed", "error": code}


def _decode_object(raw: bytes) -> Optional[Dict[str, Any]]:
    """The JSON object in ``raw``, or ``None`` for anything else (not UTF-8, not JSON, array,
    or a ``\\ud800``-style lone surrogate, which no UTF-8 answer could echo back)."""
    try:
        value = json.loads(raw.decode("utf-8"))
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = f"authforge-guard-local/{__version__}"
    sys_version = ""
    timeout = IDLE_TIMEOUT_SECONDS  # an idle or stalled connection frees its thread
    server: LocalHTTPServer

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):  # not TCP (a test double): nothing to tune
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        if isinstance(self.connection, ssl.SSLSocket) and not self._handshake(self.connection):
            return
        super().handle()

    def _handshake(self, connection: ssl.SSLSocket) -> bool:
        """Complete the TLS handshake (under ``timeout``); False when it failed."""
        try:
            connection.do_handshake()
        except (OSError, ValueError) as exc:
            # Plain HTTP to the TLS port, an untrusted certificate on the client's
            # side, garbage, a client that left or stalled: that connection ends.
            self.close_connection = True
            logger.info("TLS handshake with %s failed: %s", self.client_address[0], exc)
            return False
        return True

    def do_POST(self) -> None:
        raw = self._read_body()
        if raw is None:
            return
        path = urlsplit(self.path).path
        endpoint = self.server.endpoints.route(path)
        if endpoint is None:
            self._send(404, _failed("not_found"))
            return
        body = _decode_object(raw)
        if body is None:
            self._send(400, _failed("malformed_request"))
            return
        try:
            answer = endpoint(body, self.client_address[0])
        except Refusal as refusal:
            logger.info("%s refused: %s", path, refusal.code)
            headers = {}
            if refusal.retry_after is not None:
                headers["Retry-After"] = str(refusal.retry_after)
            self._send(STATUS_FOR_CODE.get(refusal.code, 400), _failed(refusal.code), headers)
            return
        except Exception:
            logger.exception("internal error answering %s", path)
            self._send(500, _failed("system_error"))
            return
        self._send(200, answer)

    def _wrong_method(self) -> None:
        if self._read_body() is not None:  # read it so the next request parses
            self._send(405, _failed("method_not_allowed"), {"Allow": "POST"})

    do_GET = do_HEAD = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _wrong_method

    def _read_body(self) -> Optional[bytes]:
        """The request body, or ``None`` once an error answer has been sent instead."""
        if self.headers.get("Transfer-Encoding") is not None:
            # Chunked bodies are not supported: AuthForge clients send a length.
            self.close_connection = True
            self._send(411, _failed("bad_request"))
            return None
        declared = self.headers.get("Content-Length", "0").strip()
        if not _CONTENT_LENGTH_RE.fullmatch(declared):
            self.close_connection = True
            self._send(400, _failed("bad_request"))
            return None
        length = int(declared)
        if length > MAX_BODY_BYTES:
            if length <= _DRAIN_LIMIT_BYTES:
                self._discard(length)
            else:
                self.close_connection = True
            self._send(413, _failed("malformed_request"))
            return None
        raw = self.rfile.read(length)
        if len(raw) < length:  # the client went away mid-body
            self.close_connection = True
            return None
        return raw

    def _discard(self, length: int) -> None:
        while length > 0:
            chunk = self.rfile.read(min(length, MAX_BODY_BYTES))
            if not chunk:
                self.close_connection = True
                return
            length -= len(chunk)

    def _send(
        self, status: int, body: Mapping[str, Any], headers: Optional[Mapping[str, str]] = None
    ) -> None:
        data = compact_json(dict(body)).encode("utf-8")
        lines = [
            f"{self.protocol_version} {status} {http.HTTPStatus(status).phrase}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            "Content-Type: application/json",
            f"Content-Length: {len(data)}",
            "Cache-Control: no-store",
        ]
        lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head if getattr(self, "command", None) == "HEAD" else head + data)
        self.log_request(status)

    def send_error(
        self, code: int, message: Optional[str] = None, explain: Optional[str] = None
    ) -> None:
        """The standard library's own errors (bad request line, unknown method), as JSON."""
        self.close_connection = True  # the request was not understood: resynchronise
        if code == 501:  # a method with no do_* handler
            code = 405
        error = {404: "not_found", 405: "method_not_allowed"}.get(code, "bad_request")
        self._send(code, _failed(error), {"Allow": "POST"} if code == 405 else None)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


class LocalHTTPServer(ThreadingHTTPServer):
    """A thread per connection; knows its live connections so it can close them on stop."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self,
        address: Tuple[str, int],
        endpoints: Endpoints,
        tls: Optional[ssl.SSLContext] = None,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.endpoints = endpoints
        self.tls = tls
        self._live: Set[socket.socket] = set()
        self._live_changed = threading.Condition()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall
        # for seconds on a machine without DNS; the name is not needed here.
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def get_request(self) -> Tuple[socket.socket, Any]:
        request, client_address = super().get_request()
        if self.tls is None:
            return request, client_address
        try:
            # No I/O here: the handshake waits for the connection's own thread.
            wrapped = self.tls.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
        except (OSError, ValueError):
            request.close()
            raise OSError("the connection could not be wrapped for TLS") from None
        return wrapped, client_address

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._live_changed:
            self._live.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        try:
            super().shutdown_request(request)
        finally:
            with self._live_changed:
                self._live.discard(request)
                self._live_changed.notify_all()

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, OSError):  # a client that vanished: routine
            logger.debug("connection from %s ended: %s", client_address[0], error)
        else:
            logger.exception("unexpected error serving %s", client_address[0])

    def close_connections(self, timeout: float) -> None:
        """End every open connection and wait (bounded) for their threads to finish."""
        with self._live_changed:
            live = list(self._live)
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with self._live_changed:
            self._live_changed.wait_for(lambda: not self._live, timeout)
