"""Layer 2: how request bytes reach AuthForge.

One ``urllib3`` pool per client (keep-alive, TCP_NODELAY), TLS verification
always on, proxies, the protocol's retry policy with a fresh nonce per retry,
a total deadline per request, and the single place where urllib3 and socket
errors become ``AuthForgeError`` codes. Nothing else in the package catches them.

Fork-safe: a forked child never sends on a connection it inherited (the
parent may be in the middle of a request on it, and the two would read each
other's answers). Every transport gets a new, empty pool in the child.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import sys
import threading
import time
import urllib.parse
import weakref
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from .._base._clock import bounded_wait
from .._base._scheduler import CHECK_WORKERS
from .._exceptions import AuthForgeError
from .._protocol import compact_json_bytes, new_nonce, server_verdict_code
from .._version import __version__
from . import _watchdog
from ._addresses import check_base_url, choose_proxy
from ._retry import RetryPolicy

if TYPE_CHECKING:
    import urllib3

logger = logging.getLogger("authforge_guard")

# Answers are small JSON objects; an offline file with variables is a few KiB.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
USER_AGENT = f"authforge-guard/{__version__} (python)"
_HEADERS = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
# Connections kept per pool: at least as many as the threads that send requests at once,
# or each extra one is opened, used once and thrown away (a TLS handshake wasted, and
# urllib3's "Connection pool is full" warning). Those threads: the background checks'
# workers, and the callers' logins, e.g. an asyncio or concurrent.futures default
# executor's at most 32 threads. Connections are only opened as they are needed.
POOL_SIZE = CHECK_WORKERS + 32
_DEBUG = logging.DEBUG


class Reply(NamedTuple):
    """A JSON-object answer, its HTTP status, and the nonce of the attempt that produced it."""

    status: int
    data: dict[str, Any]
    nonce: str | None


# ------------------------------------------------------------------ fork safety

# Every live transport, so a forked child can give each a new pool.
_transports: weakref.WeakSet[Transport] = weakref.WeakSet()


def _forget_pools_in_child() -> None:
    _renew_inherited_queues()
    for transport in list(_transports):
        transport._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools_in_child)


class Transport:
    """POSTs JSON bodies to one AuthForge base URL and returns JSON-object replies.

    The pool is created on the first request, so building a client costs no
    sockets and no urllib3 import. ``timeout`` bounds each attempt as a whole
    (connect and every read together), not each read.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 15.0,
        proxy_url: str | None = None,
        ca_bundle: str | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url, self.host = check_base_url(base_url)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError("request_timeout must be a positive number of seconds")
        if ca_bundle is not None and not os.path.exists(ca_bundle):
            raise ValueError(f"ca_bundle {ca_bundle!r} does not exist")
        self.timeout = bounded_wait(float(timeout))
        self.proxy_url = choose_proxy(self.base_url, self.host, proxy_url)
        self.ca_bundle = ca_bundle
        self.retry = retry if retry is not None else RetryPolicy()
        self._sleep = sleep
        self._path_prefix = urllib.parse.urlsplit(self.base_url).path
        self._pool: urllib3.PoolManager | None = None
        self._timeout: Any = None
        self._opener_and_prefix: tuple[Any, str] | None = None
        self._pool_lock = threading.Lock()
        self._pid = os.getpid()
        _transports.add(self)

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r})"

    def _after_fork(self) -> None:
        """In a forked child: forget the parent's pool without touching it.

        Its sockets are shared with the parent, which may be using them right
        now; the child only drops its references (closing a shared descriptor
        sends nothing while the parent keeps it open). The lock is new too: a
        parent thread may have held the old one at the fork.
        """
        self._pool_lock = threading.Lock()
        _renew_inherited_queues()  # before the pool can be dropped (and its queue drained)
        self._pool, self._opener_and_prefix = None, None
        self._pid = os.getpid()

    def _opener(self) -> tuple[Any, str]:
        """What a request goes through, and the URL prefix to give it."""
        current = self._opener_and_prefix
        if current is not None and self._pid == os.getpid():
            return current
        if self._pid != os.getpid():  # a fork the at-fork hook did not see (a C-level fork)
            self._after_fork()
        with self._pool_lock:
            if self._opener_and_prefix is None:
                manager = self._pool = self._build_pool()
                if self.proxy_url:
                    # The proxy manager adds the proxy's headers and picks the URL form.
                    self._opener_and_prefix = (manager, self.base_url)
                else:
                    # Straight to the base URL's pool: the manager would parse the URL
                    # and look the pool up again on every request.
                    pool = manager.connection_from_url(self.base_url)
                    self._opener_and_prefix = (pool, self._path_prefix)
            return self._opener_and_prefix

    def _connection_pool(self) -> urllib3.HTTPConnectionPool:
        """The pool for the base URL (without a proxy, every request goes there)."""
        opener, _ = self._opener()
        if self.proxy_url:
            return opener.connection_from_url(self.base_url)  # type: ignore[no-any-return]
        return opener  # type: ignore[no-any-return]

    def _build_pool(self) -> urllib3.PoolManager:
        from . import _urllib3

        u3 = _urllib3.load()
        from urllib3.connection import HTTPConnection

        wait = self.timeout
        self._timeout = u3.Timeout(connect=wait, read=wait)
        options: dict[str, Any] = {
            "num_pools": 2,
            "maxsize": POOL_SIZE,
            "retries": False,
            "timeout": self._timeout,
            "cert_reqs": "CERT_REQUIRED",  # there is deliberately no way to turn this off
            "socket_options": [
                *HTTPConnection.default_socket_options,
                (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),
                (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
            ],
            "headers": _HEADERS,
        }
        if self.ca_bundle:
            options["ca_certs"] = self.ca_bundle  # replaces every other trust source
        elif self.base_url.startswith("https:"):
            context = _os_trust_store_context()
            if context is not None:
                options["ssl_context"] = context
        manager: urllib3.PoolManager
        if self.proxy_url:
            manager = u3.ProxyManager(self.proxy_url, **options)
        else:
            manager = u3.PoolManager(**options)
        # Pools whose connections tell the deadline watchdog which socket to cut.
        manager.pool_classes_by_scheme = _watched_pool_classes()
        return manager

    def close(self) -> None:
        """Drop pooled connections; the next request opens new ones."""
        with self._pool_lock:
            pool, self._pool, self._opener_and_prefix = self._pool, None, None
        if pool is not None:
            pool.clear()

    def post(
        self,
        path: str,
        body: dict[str, Any],
        *,
        retry: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> Reply:
        """Send ``body`` with the protocol's retries; the reply is a JSON object.

        Raises ``AuthForgeError`` with ``network_error``, ``timeout``,
        ``http_error_<status>``, ``invalid_json_response`` or
        ``response_not_json_object``. A retry replaces ``body["nonce"]`` (when
        present) with a fresh one; ``Reply.nonce`` is the one to find echoed.
        ``retry`` replaces the transport's policy for this one request.

        Each attempt ends within ``timeout`` seconds, connect and all reads
        together (a server dripping bytes cannot stretch it). ``deadline``, a
        ``time.monotonic()`` value, caps the whole call, retries and their
        waits included: no attempt runs past it, no retry starts when its wait
        would reach it, and the last failure is reported instead.
        """
        policy = retry if retry is not None else self.retry
        deadline = _watchdog.overall_deadline(deadline)  # a person's check: _watchdog.within
        sent = dict(body)
        rate_attempt = network_attempt = 0
        while True:
            try:
                status, retry_after, raw = self._send(path, sent, deadline)
            except _RetryableNetworkError as failure:
                delay = policy.network_delay(network_attempt)
                if delay is None or not _time_left_for(delay, deadline):
                    raise failure.error from failure.__cause__
                network_attempt += 1
                logger.debug("%s: %s, retrying in %.2fs", path, failure.error.code, delay)
                self._wait_and_refresh(sent, delay)
                continue
            data = _decode_object(status, raw)
            if _is_rate_limited(status, data):
                delay = policy.rate_limit_delay(rate_attempt, retry_after)
                if delay is not None and _time_left_for(delay, deadline):
                    rate_attempt += 1
                    logger.debug("%s: rate limited, retrying in %.2fs", path, delay)
                    self._wait_and_refresh(sent, delay)
                    continue
            if data is None:
                raise _undecodable(status, raw)
            nonce = sent.get("nonce")
            return Reply(status, data, nonce if isinstance(nonce, str) else None)

    def _wait_and_refresh(self, sent: dict[str, Any], delay: float) -> None:
        self._sleep(delay)
        if "nonce" in sent:
            sent["nonce"] = new_nonce()

    def _send(
        self, path: str, body: dict[str, Any], deadline: float | None
    ) -> tuple[int, str | None, bytes]:
        payload = compact_json_bytes(body)
        opener, prefix = self._opener()
        started = time.monotonic()
        ends = started + self.timeout
        timeout = self._timeout  # the pool's: connect and each read within self.timeout
        if deadline is not None and deadline < ends:
            ends, left = deadline, deadline - started
            if left <= 0:
                raise _timed_out(self.base_url)  # nothing is sent that could not be answered
            timeout = _u3().Timeout(connect=left, read=left)
        watch = _watchdog.arm(ends)
        response = None
        try:
            try:
                response = opener.urlopen(
                    "POST",
                    prefix + path,
                    body=payload,
                    headers=_HEADERS,
                    retries=_NO_RETRIES,
                    redirect=False,
                    assert_same_host=False,
                    preload_content=False,
                    timeout=timeout,
                )
                raw = _read_body(response)
            finally:
                # Before the connection can go back to the pool: once disarmed, the
                # watchdog never cuts it (another request may take it next).
                _watchdog.disarm(watch)
        except BaseException as exc:
            if response is not None:
                # A half-read connection must not be reused: closed, then its slot back.
                response.close()
                response.release_conn()
            if not isinstance(exc, Exception):
                raise
            error = _transport_error(exc, self.base_url, watch.expired)
            if error is None:
                raise
            raise error from exc
        if watch.expired:  # cut at the deadline just as the body ended: it may be short
            response.close()
            response.release_conn()
            raise _timed_out(self.base_url)
        response.release_conn()
        if logger.isEnabledFor(_DEBUG):
            spent = (time.monotonic() - started) * 1e3
            logger.debug("POST %s -> %d in %.1f ms", path, response.status, spent)
        return response.status, response.headers.get("Retry-After"), raw


def _time_left_for(delay: float, deadline: float | None) -> bool:
    """Whether a retry after ``delay`` seconds can still start before ``deadline``."""
    return deadline is None or time.monotonic() + delay < deadline


def _read_body(response: Any) -> bytes:
    """The whole body, refusing one larger than ``MAX_RESPONSE_BYTES`` before reading it
    when its length is announced (the usual case), after ``MAX + 1`` bytes otherwise."""
    length = response.length_remaining
    if length is not None and length <= MAX_RESPONSE_BYTES:
        return response.read()  # type: ignore[no-any-return]
    raw = b"" if length is not None else response.read(MAX_RESPONSE_BYTES + 1)
    if length is not None or len(raw) > MAX_RESPONSE_BYTES:
        raise AuthForgeError("unexpected_response", "unexpected_response: answer too large")
    return raw


class _RetryableNetworkError(Exception):
    """A network failure the retry policy may try again (carries the public error)."""

    def __init__(self, error: AuthForgeError) -> None:
        super().__init__(error.code)
        self.error = error


def _timed_out(base_url: str) -> _RetryableNetworkError:
    return _RetryableNetworkError(
        AuthForgeError("timeout", f"timeout: no answer from {base_url} in time")
    )


def _transport_error(exc: Exception, base_url: str, expired: bool) -> Exception | None:
    """The one seam where urllib3 and socket failures become AuthForge codes
    (``None``: not a transport failure, let it through)."""
    if expired:
        # The watchdog cut the socket: whatever broke next is the deadline's doing.
        return _timed_out(base_url)
    if isinstance(exc, AuthForgeError):
        return None
    u3 = _u3().exceptions
    tls = _tls_failure(exc, u3)
    if tls is not None:
        # A certificate problem does not go away in 2 s: fail closed, no retry. Its own
        # code: the customer's connection works, this computer does not trust the server.
        logger.warning(
            "authforge_guard: TLS to %s failed: %s (trust: %s)", base_url, tls, trust_source()
        )
        return AuthForgeError("tls_error", f"tls_error: cannot verify {base_url}: {tls}")
    if isinstance(exc, u3.NewConnectionError):
        # Checked before timeouts: urllib3 makes it a ConnectTimeoutError subclass.
        return _RetryableNetworkError(
            AuthForgeError("network_error", f"network_error: cannot connect to {base_url}")
        )
    if isinstance(exc, (u3.TimeoutError, socket.timeout, TimeoutError)):
        return _timed_out(base_url)
    if isinstance(exc, u3.MaxRetryError):
        code = "timeout" if isinstance(exc.reason, u3.TimeoutError) else "network_error"
        return _RetryableNetworkError(AuthForgeError(code, f"{code}: cannot reach {base_url}"))
    if isinstance(exc, (u3.HTTPError, OSError)):
        return _RetryableNetworkError(
            AuthForgeError("network_error", f"network_error: cannot reach {base_url}")
        )
    return None


def _tls_failure(exc: BaseException, u3: Any) -> str | None:
    """OpenSSL's reason when ``exc`` is a TLS failure (``"CERTIFICATE_VERIFY_FAILED:
    self-signed certificate"``), else ``None``. urllib3 wraps the ``ssl`` error once or
    twice (``SSLError``, ``MaxRetryError.reason``); the chain is walked to find it."""
    import ssl

    seen: set[int] = set()
    found = False
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return f"{current.reason}: {current.verify_message}"
        if isinstance(current, (ssl.SSLError, u3.SSLError)):
            found = True
            reason = getattr(current, "reason", None)
            if isinstance(reason, str) and reason:
                return reason
        current = _inner(current)
    return "TLS handshake failed" if found else None


def _inner(exc: BaseException) -> BaseException | None:
    """The error ``exc`` wraps: urllib3's ``reason``, its first argument, or the cause."""
    for nested in (getattr(exc, "reason", None), exc.args[0] if exc.args else None):
        if isinstance(nested, BaseException):
            return nested
    return exc.__cause__ or exc.__context__


# ------------------------------------------------------------------ trust


def trust_source() -> str:
    """Where certificates are trusted from when no ``ca_bundle`` is given (for logs)."""
    return "the OS trust store (truststore)" if _truststore() is not None else "OpenSSL's paths"


def _truststore() -> Any:
    """The ``truststore`` module (the ``tls`` extra), or ``None``: it needs Python 3.10+."""
    if sys.version_info < (3, 10):
        return None
    try:
        import truststore
    except ImportError:
        return None
    return truststore


def _os_trust_store_context() -> Any:
    """An ``SSLContext`` that verifies against the operating system's trust store
    (Keychain on macOS, the Windows certificate store, the distribution's bundle on
    Linux), when ``truststore`` is installed; else ``None`` (OpenSSL's default paths).

    Why: a frozen program carries the build machine's OpenSSL paths, and a macOS
    ``.app`` has no usable default store at all; the OS store is what the
    customer's browser trusts, including a company's inspecting proxy.
    """
    truststore = _truststore()
    if truststore is None:
        return None
    import ssl

    context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _decode_object(status: int, raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _undecodable(status: int, raw: bytes) -> AuthForgeError:
    """The error for an answer that is not a JSON object (a proxy page, a cut body)."""
    if status >= 400:
        code = f"http_error_{status}"
        return AuthForgeError(code, f"{code}: not an AuthForge answer")
    try:
        json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return AuthForgeError("invalid_json_response")
    return AuthForgeError("response_not_json_object")


def _is_rate_limited(status: int, data: dict[str, Any] | None) -> bool:
    """``rate_limited``, or a 429 without a code (never ``no_credits`` and its kind)."""
    code = server_verdict_code(data) if data is not None else None
    return code == "rate_limited" or (status == 429 and code is None)


# ------------------------------------------------------------------ urllib3, loaded on first use


# Once urllib3 is loaded, one ``Retry(False)`` for every request (from ``retries=False``
# urllib3 would build a new one per call).
_NO_RETRIES: Any = False
_WATCHED_POOLS: dict[str, Any] | None = None


def _u3() -> Any:
    """urllib3, already loaded by the time a request is sent (a dict lookup)."""
    from . import _urllib3

    return _urllib3.load()


def _watched_pool_classes() -> dict[str, Any]:
    """urllib3's pool classes, with connections that report themselves to the watchdog
    as they connect and send (so a deadline can cut the socket a request is using), and
    idle connections kept in a fork-safe queue (``IdleConnections``). Only public
    urllib3 API: ``ConnectionCls`` and ``QueueCls`` of a pool class, and a pool
    manager's ``pool_classes_by_scheme``."""
    global _WATCHED_POOLS, _NO_RETRIES
    if _WATCHED_POOLS is not None:
        return _WATCHED_POOLS
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.util.retry import Retry

    attach = _watchdog.attach

    def watched(pool_class: Any, connection_class: Any) -> Any:
        """``pool_class`` whose connections report themselves to the watchdog as they
        connect and send, and whose idle connections wait in an ``IdleConnections``."""

        class WatchedConnection(connection_class):  # type: ignore[misc]
            def connect(self) -> None:
                attach(self)
                super().connect()

            def request(self, *args: Any, **kwargs: Any) -> None:
                attach(self)
                super().request(*args, **kwargs)

        class WatchedPool(pool_class):  # type: ignore[misc]
            ConnectionCls = WatchedConnection
            QueueCls = IdleConnections  # a LifoQueue by its interface

        for cls, base in ((WatchedConnection, connection_class), (WatchedPool, pool_class)):
            cls.__name__ = cls.__qualname__ = f"_Watched{base.__name__}"
        return WatchedPool

    _NO_RETRIES = Retry(total=False, redirect=False)
    _WATCHED_POOLS = {
        "http": watched(HTTPConnectionPool, HTTPConnection),
        "https": watched(HTTPSConnectionPool, HTTPSConnection),
    }
    return _WATCHED_POOLS


class IdleConnections:
    """The idle connections of one pool, with locks that a forked child renews: the
    ``QueueCls`` of our pools (a public class attribute of urllib3's connection pools,
    the class a pool keeps its idle connections in; ``queue.LifoQueue`` by default).

    Why not ``queue.LifoQueue``, urllib3's default: in a forked child, dropping a pool
    inherited from the parent drains its queue (urllib3's finalizer closes the idle
    connections) under the queue's lock; a parent thread may have held that lock at the
    fork, and nobody would release it in the child, which would then hang on the drain,
    at the latest when it exits. Here the child gets new locks, and the drain closes the
    inherited sockets without a word on the wire (the parent still holds them open).

    What urllib3 2.x calls: ``get(block=, timeout=)``, ``put(item, block=)``, ``qsize()``,
    raising ``queue.Empty`` / ``queue.Full`` as ``queue.LifoQueue`` does (last in, first
    out: the most recently used connection is the likeliest to be alive).
    """

    def __init__(self, maxsize: int = 0) -> None:
        self.maxsize = maxsize
        self._items: list[Any] = []
        self._pid = os.getpid()
        self._renew()
        _idle_queues.add(self)

    def _renew(self) -> None:
        self._changed = threading.Condition(threading.Lock())

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return 0 < self.maxsize <= len(self._items)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        with self._changed:
            if block and not self._items:
                self._changed.wait_for(lambda: self._items, timeout)
            if not self._items:
                raise queue.Empty
            item = self._items.pop()
            self._changed.notify()
            return item

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        with self._changed:
            if block and self.full():
                self._changed.wait_for(lambda: not self.full(), timeout)
            if self.full():
                raise queue.Full
            self._items.append(item)
            self._changed.notify()

    def get_nowait(self) -> Any:
        return self.get(block=False)

    def put_nowait(self, item: Any) -> None:
        self.put(item, block=False)


# Every pool's idle connections, so a forked child can renew their locks.
_idle_queues: weakref.WeakSet[IdleConnections] = weakref.WeakSet()


def _renew_inherited_queues() -> None:
    """In a forked child: new locks for every queue made by another process (the parent)."""
    pid = os.getpid()
    for idle in list(_idle_queues):
        if idle._pid != pid:
            idle._pid = pid
            idle._renew()
