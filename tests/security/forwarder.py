"""The end user's own HTTPS proxy: what they point ``AUTHFORGE_PROXY_URL`` / ``HTTPS_PROXY`` at.

It accepts ``CONNECT``, answers the tunnel with TLS under a certificate of the
user's own CA (the program trusts it through ``AUTHFORGE_CA_BUNDLE`` /
``SSL_CERT_FILE``), reads each HTTP request inside, lets a rule rewrite its
JSON body (keeping the nonce, so the answer still echoes it) and relays it to
the real AuthForge server. The server's answer comes back untouched: it is
genuinely signed, only for another request than the one the program sent.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import socketserver
import ssl
import threading
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from tests.support.tls import self_signed

# The vendor's API as the program names it: not a loopback address, so the
# user's proxy settings apply to it (loopback is never proxied).
API_HOST = "auth.vendor-licensing.test"
API_URL = f"https://{API_HOST}"

Rule = Callable[[dict[str, Any]], dict[str, Any]]


class RewritingForwarder:
    """A loopback CONNECT proxy that terminates TLS for ``API_HOST`` and relays to
    ``upstream`` (the local server's ``http://127.0.0.1:<port>``)."""

    def __init__(self, upstream: str, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        certificate = self_signed(directory, "users-own-ca", hosts=(API_HOST,))
        self.ca_bundle = str(certificate.cert_path)
        self._tls = certificate.server_context()
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._lock = threading.Lock()
        self._rules: dict[str, Rule] = {}
        self._failing: dict[str, int] = {}
        self.rewritten: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self.forwarded: dict[str, int] = {}
        self.connections = 0  # every connection made to the proxy, tunnel or not
        self._tunnels: list[socket.socket] = []
        self.answered = threading.Condition(self._lock)
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def rewrite(self, path: str, rule: Rule) -> None:
        """From now on, pass every request body for ``path`` through ``rule``."""
        with self._lock:
            self._rules[path] = rule

    def fail(self, path: str, status: int = 502) -> None:
        """From now on, answer ``path`` with ``status`` and an HTML page, as a proxy does."""
        with self._lock:
            self._failing[path] = status

    def count(self, table: dict[str, int], path: str) -> int:
        with self._lock:
            return table.get(path, 0)

    def close(self) -> None:
        """Stop listening: from now on a connection to ``url`` is refused (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
        with self._lock:
            tunnels, self._tunnels = self._tunnels, []
        for tunnel in tunnels:  # kept-alive tunnels end too: nothing gets through any more
            with contextlib.suppress(OSError):
                tunnel.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> RewritingForwarder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------ one request

    def _answer(self, path: str, raw: bytes) -> tuple[int, str, bytes]:
        with self._lock:
            rule = self._rules.get(path)
            failing = self._failing.get(path)
        if failing is not None:
            self._note(self.failed, path)
            page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            return failing, "text/html", page
        if rule is not None:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if isinstance(body, dict):
                raw = json.dumps(rule(body), separators=(",", ":")).encode("utf-8")
                self._note(self.rewritten, path)
        self._note(self.forwarded, path)
        upstream = http.client.HTTPConnection(*self._upstream, timeout=30)
        try:
            upstream.request("POST", path, raw, {"Content-Type": "application/json"})
            response = upstream.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read()
        finally:
            upstream.close()

    def _note(self, table: dict[str, int], path: str) -> None:
        with self._lock:
            table[path] = table.get(path, 0) + 1
            self.answered.notify_all()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, forwarder: RewritingForwarder) -> None:
        self.forwarder = forwarder
        super().__init__(("127.0.0.1", 0), _Tunnel)


class _Tunnel(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        with self.server.forwarder._lock:
            self.server.forwarder.connections += 1
        request_line = self.rfile.readline(8192).decode("latin-1").split()
        while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
            pass
        if len(request_line) != 3 or request_line[0] != "CONNECT":
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        try:
            tls = self.server.forwarder._tls.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self.server.forwarder._lock:
            self.server.forwarder._tunnels.append(tls)
        with tls, tls.makefile("rb") as reader:
            while True:
                try:
                    request = _read_request(reader)
                except (OSError, ValueError):
                    return
                if request is None:
                    return
                path, raw = request
                status, content_type, body = self.server.forwarder._answer(path, raw)
                head = (
                    f"HTTP/1.1 {status} {http.client.responses.get(status, 'Status')}\r\n"
                    f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                    "Connection: keep-alive\r\n\r\n"
                )
                try:
                    tls.sendall(head.encode("latin-1") + body)
                except OSError:
                    return


def _read_request(reader: Any) -> tuple[str, bytes] | None:
    """``(path, body)`` of the next request on the tunnel, ``None`` when it closes."""
    line = reader.readline(8192)
    if not line.strip():
        return None
    parts = line.decode("latin-1").split()
    length = 0
    while True:
        header = reader.readline(8192)
        if header in (b"\r\n", b"\n", b""):
            break
        name, _, value = header.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return parts[1], reader.read(length) if length else b""
