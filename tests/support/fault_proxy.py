"""A fault-injecting HTTP proxy: what a flaky network or a hostile middlebox does to a client.

``FaultProxy`` is a real loopback HTTP/1.1 server (keep-alive, TCP_NODELAY)
that forwards each ``POST`` to an upstream AuthForge server and hands back
the upstream's status, headers and body, unless a ``Fault`` is armed for the
request. The client under test is pointed at ``proxy.url`` and cannot tell the
proxy from the server, so a test can say exactly which answer goes wrong::

    with FaultProxy(server_url) as proxy:
        proxy.arm(Fault.drop())                                   # next request
        proxy.arm(Fault.delay(3.0), times=2, path="/auth/heartbeat")
        proxy.arm(Fault.status(429), always=True)                 # until disarm()
        ...
        proxy.requests          # [(path, json body), ...] in arrival order

Armed faults form a queue: a request takes the first armed fault whose path
matches (or that has no path). Everything is safe to call from any thread.
"""

from __future__ import annotations

import functools
import http.client
import json
import socket
import ssl
import struct
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from authforge_guard._protocol import (
    SigningKey,
    decode_payload,
    is_success_status,
    new_nonce,
    signed_response,
)
from authforge_guard._protocol._encoding import b64encode, compact_json

Headers = tuple[tuple[str, str], ...]
PayloadEdit = Callable[[dict[str, Any]], Optional[dict[str, Any]]]

# Hop-by-hop headers (RFC 9110 7.6.1) and those the proxy writes itself.
# Accept-Encoding is not passed on so the upstream answers uncompressed bytes
# that the rewriting faults can cut and edit.
_NOT_FORWARDED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "accept-encoding",
        "server",
        "date",
    }
)


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, headers (Content-Length is always computed) and body bytes."""

    status: int
    headers: Headers = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), or ``None``."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def with_header(self, name: str, value: str) -> Answer:
        """This answer with header ``name`` set to ``value`` (replacing any other spelling)."""
        kept = tuple((key, old) for key, old in self.headers if key.lower() != name.lower())
        return replace(self, headers=(*kept, (name, value)))

    def with_json(self, body: Mapping[str, Any]) -> Answer:
        """This answer with ``body`` as its compact JSON body."""
        return replace(self, body=compact_json(dict(body)).encode("utf-8"))


@dataclass(frozen=True)
class Fault:
    """What the proxy does to one request; build one with the class methods.

    The proxy applies the fields in this order: ``connection_action`` (``"drop"``
    or ``"reset"``: no answer at all), ``delay_seconds`` (wait, then go on),
    ``canned`` (answer without asking the upstream), ``from_history`` (replay an
    earlier answer), else forward upstream and pass its answer through
    ``rewrite``.
    """

    label: str
    connection_action: str | None = None
    delay_seconds: float = 0.0
    held_until: threading.Event | None = field(default=None, compare=False)
    canned: Answer | None = None
    from_history: bool = False
    rewrite: Callable[[Answer], Answer] | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        return f"Fault.{self.label}"

    # --- the connection fails ------------------------------------------------

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without sending a byte: the client sees a disconnect."""
        return cls("drop()", connection_action="drop")

    @classmethod
    def reset(cls) -> Fault:
        """Abort the connection with a TCP RST (SO_LINGER 0): ``ConnectionResetError``."""
        return cls("reset()", connection_action="reset")

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Wait ``seconds``, then forward as usual; longer than a client timeout, it times out.

        The upstream still gets the request, as a slow real network would deliver it.
        """
        return cls(f"delay({seconds})", delay_seconds=float(seconds))

    @classmethod
    def hold(cls, release: threading.Event) -> Fault:
        """Hold the request until ``release`` is set, then forward as usual: it times out
        in the client whatever its timeout and however loaded the machine, and the upstream
        still gets it, late. Set ``release`` in a ``finally`` (closing the proxy drops it)."""
        return cls("hold()", held_until=release)

    # --- something other than AuthForge answers ------------------------------

    @classmethod
    def status(
        cls,
        code: int,
        body: Any = None,
        content_type: str | None = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> Fault:
        """A canned answer: ``body`` is bytes, text, a JSON-able object, or ``None`` (empty)."""
        canned_headers: Headers = tuple((headers or {}).items())
        if content_type:
            canned_headers = (("Content-Type", content_type), *canned_headers)
        return cls(f"status({code})", canned=Answer(code, canned_headers, _body_bytes(body)))

    @classmethod
    def html(cls, status: int = 502) -> Fault:
        """The HTML error page a reverse proxy shows when the service behind it is down."""
        title = f"{status} {_reason(status)}"
        page = (
            f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n"
        )
        canned = cls.status(status, page, content_type="text/html")
        return replace(canned, label=f"html({status})")

    @classmethod
    def json(cls, obj: Any, status: int = 200) -> Fault:
        """Any JSON answer, e.g. ``{"status": "revoked"}``, which is not an AuthForge verdict."""
        return replace(cls.status(status, compact_json(obj)), label=f"json({obj!r}, {status})")

    # --- the real answer, damaged --------------------------------------------

    @classmethod
    def truncated(cls) -> Fault:
        """The upstream answer cut in half, with a Content-Length that matches the cut body."""
        return cls("truncated()", rewrite=_cut_in_half)

    @classmethod
    def wrong_content_type(cls) -> Fault:
        """The upstream answer, labelled ``text/plain``."""
        return cls("wrong_content_type()", rewrite=_as_text_plain)

    @classmethod
    def tamper(cls, fn: PayloadEdit) -> Fault:
        """Edit the signed ``payload`` with ``fn`` and keep the old signature.

        ``fn`` gets the decoded payload dict and returns the new one, or ``None``
        after editing it in place. An answer with no signed payload passes unchanged.
        """
        return cls("tamper()", rewrite=functools.partial(_tamper, fn))

    @classmethod
    def resign(cls, signing_key: SigningKey, fn: PayloadEdit | None = None) -> Fault:
        """Edit the payload with ``fn`` (if given) and sign it anew with ``signing_key``."""
        return cls(
            f"resign({signing_key.key_id})", rewrite=functools.partial(_resign, signing_key, fn)
        )

    @classmethod
    def swap_nonce(cls) -> Fault:
        """Replace the payload's echoed ``nonce`` with another random one (not re-signed)."""
        return replace(cls.tamper(_new_nonce_in), label="swap_nonce()")

    @classmethod
    def replay(cls) -> Fault:
        """Answer with the latest earlier successful upstream answer for this path, verbatim.

        The upstream is not asked. With no earlier success to replay, the
        request is forwarded unchanged.
        """
        return cls("replay()", from_history=True)


class FaultProxy:
    """A loopback HTTP/1.1 proxy to ``upstream_url`` that injects armed ``Fault``s.

    Serving starts at construction; ``close()`` (or leaving the ``with`` block)
    stops it, aborts pending delays and closes client connections.
    """

    def __init__(
        self,
        upstream_url: str,
        *,
        upstream_timeout: float = 30.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream_url must be an http:// URL, not {upstream_url!r}")
        self._upstream_host = parts.hostname
        self._upstream_port = parts.port or 80
        self._upstream_prefix = parts.path.rstrip("/")
        self._upstream_timeout = upstream_timeout
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []
        self._requests: list[tuple[str, Any]] = []
        self._forwarded: list[str] = []
        self._last_success: dict[str, Answer] = {}
        self._closing = threading.Event()
        self._scheme = "https" if tls is not None else "http"
        self._server = _ProxyServer(self, tls)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # close() waits one poll; keep it short
            name="fault-proxy",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (``https://`` when serving TLS): the base URL to give
        the client under test."""
        return f"{self._scheme}://127.0.0.1:{self._server.server_port}"

    def arm(
        self, fault: Fault, *, times: int = 1, always: bool = False, path: str | None = None
    ) -> None:
        """Apply ``fault`` to the next ``times`` requests for ``path`` (any path if ``None``).

        ``always=True`` keeps it armed until ``disarm()``.
        """
        if not always and times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._armed.append(_Armed(fault, path, None if always else times))

    def disarm(self) -> None:
        """Forget every armed fault: requests are forwarded untouched again."""
        with self._lock:
            self._armed.clear()

    @property
    def requests(self) -> list[tuple[str, Any]]:
        """``(path, parsed JSON body or None)`` of every request seen so far, in order."""
        with self._lock:
            return list(self._requests)

    def has_history(self, path: str) -> bool:
        """True once an upstream success for ``path`` has been seen (``Fault.replay`` has one)."""
        with self._lock:
            return path in self._last_success

    def forwarded_count(self, path: str | None = None) -> int:
        """How many requests (for ``path``, or all) were sent on to the upstream."""
        with self._lock:
            return sum(1 for seen in self._forwarded if path is None or seen == path)

    def close(self) -> None:
        """Stop serving; idempotent."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FaultProxy({self.url} -> {self._upstream_host}:{self._upstream_port})"

    # --- called by the request handler, one thread per connection ------------

    def _handle(self, path: str, raw: bytes, headers: Iterable[tuple[str, str]]) -> Answer | str:
        """The answer for one request, or ``"drop"``/``"reset"`` for no answer at all.

        Bookkeeping and matching use the path without its query string.
        """
        route = urlsplit(path).path
        self._record(route, raw)
        fault = self._take_fault(route)
        if fault is None:
            return self._forward(path, raw, headers)
        if fault.connection_action is not None:
            return fault.connection_action
        if fault.delay_seconds and self._closing.wait(fault.delay_seconds):
            return "drop"  # the proxy is closing: do not start an upstream call now
        while fault.held_until is not None and not fault.held_until.wait(0.05):
            if self._closing.is_set():
                return "drop"
        if fault.canned is not None:
            return fault.canned
        if fault.from_history:
            with self._lock:
                earlier = self._last_success.get(route)
            if earlier is not None:
                return earlier
        answer = self._forward(path, raw, headers)
        return fault.rewrite(answer) if fault.rewrite is not None else answer

    def _record(self, path: str, raw: bytes) -> None:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        with self._lock:
            self._requests.append((path, body))

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for armed in self._armed:
                if armed.path is None or armed.path == path:
                    if armed.remaining is not None:
                        armed.remaining -= 1
                        if armed.remaining == 0:
                            self._armed.remove(armed)
                    return armed.fault
        return None

    def _forward(self, path: str, raw: bytes, headers: Iterable[tuple[str, str]]) -> Answer:
        route = urlsplit(path).path
        with self._lock:
            self._forwarded.append(route)
        connection = http.client.HTTPConnection(
            self._upstream_host, self._upstream_port, timeout=self._upstream_timeout
        )
        try:
            connection.request(
                "POST", self._upstream_prefix + path, body=raw, headers=dict(_end_to_end(headers))
            )
            response = connection.getresponse()
            answer = Answer(response.status, _end_to_end(response.getheaders()), response.read())
        except (OSError, http.client.HTTPException) as exc:
            message = f"fault proxy: upstream unreachable ({type(exc).__name__})"
            return Answer(502, (("Content-Type", "text/plain"),), message.encode("utf-8"))
        finally:
            connection.close()
        if _is_success(answer):
            with self._lock:
                self._last_success[route] = answer
        return answer


@dataclass
class _Armed:
    fault: Fault
    path: str | None
    remaining: int | None  # None: until disarm()


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real AuthForge endpoint offers
    disable_nagle_algorithm = True  # TCP_NODELAY
    server: _ProxyServer

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        outcome = self.server.proxy._handle(self.path, raw, self.headers.items())
        if isinstance(outcome, Answer):
            self._send(outcome)
            return
        self.close_connection = True
        if outcome == "reset":
            self.server.reset_on_close(self.connection)

    def _send(self, answer: Answer) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a test's output is not the place for an access log."""


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, proxy: FaultProxy, tls: ssl.SSLContext | None) -> None:
        self.proxy = proxy
        self._connections_lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._to_reset: set[socket.socket] = set()
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        if tls is not None:
            # The handshake then happens on the handler's first read, in its own
            # thread: a client that refuses the certificate cannot stall accept().
            self.socket = tls.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def reset_on_close(self, request: socket.socket) -> None:
        with self._connections_lock:
            self._to_reset.add(request)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._open.discard(request)
            reset = request in self._to_reset
            self._to_reset.discard(request)
        if not reset:
            super().shutdown_request(request)
            return
        # The base class would shutdown(SHUT_WR) first, and the peer would read
        # that FIN as an orderly end before the RST arrives. Close directly:
        # with a zero linger time the kernel answers with a RST alone.
        try:
            request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        finally:
            request.close()

    def close_connections(self) -> None:
        """Wake every handler blocked reading a kept-alive connection, so its thread ends."""
        with self._connections_lock:
            still_open = list(self._open)
        for request in still_open:
            try:
                request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its handler

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a timeout, a closed pool, a refused certificate)
        # is what these tests provoke on purpose; anything else is a bug in the
        # proxy and is shown.
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


def _end_to_end(headers: Iterable[tuple[str, str]]) -> Headers:
    return tuple((name, value) for name, value in headers if name.lower() not in _NOT_FORWARDED)


def _is_success(answer: Answer) -> bool:
    if not 200 <= answer.status < 300:
        return False
    try:
        body = json.loads(answer.body)
    except ValueError:
        return False
    return isinstance(body, dict) and is_success_status(body.get("status"))


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return compact_json(body).encode("utf-8")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _cut_in_half(answer: Answer) -> Answer:
    return replace(answer, body=answer.body[: len(answer.body) // 2])


def _as_text_plain(answer: Answer) -> Answer:
    return answer.with_header("Content-Type", "text/plain")


def _signed_parts(answer: Answer) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The JSON body of a signed answer and its decoded payload, or ``None``."""
    try:
        body = json.loads(answer.body)
        payload = decode_payload(body["payload"])
    except (ValueError, TypeError, KeyError):  # AuthForgeError is a ValueError
        return None
    return body, payload


def _edited(fn: PayloadEdit, payload: dict[str, Any]) -> dict[str, Any]:
    result = fn(payload)
    return payload if result is None else result


def _tamper(fn: PayloadEdit, answer: Answer) -> Answer:
    parts = _signed_parts(answer)
    if parts is None:
        return answer
    body, payload = parts
    body["payload"] = b64encode(compact_json(_edited(fn, payload)).encode("utf-8"))
    return answer.with_json(body)


def _resign(signing_key: SigningKey, fn: PayloadEdit | None, answer: Answer) -> Answer:
    parts = _signed_parts(answer)
    if parts is None:
        return answer
    body, payload = parts
    if fn is not None:
        payload = _edited(fn, payload)
    body.update(signed_response(payload, signing_key))
    return answer.with_json(body)


def _new_nonce_in(payload: dict[str, Any]) -> None:
    payload["nonce"] = new_nonce()
