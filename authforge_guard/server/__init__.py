"""Layer 6: a local AuthForge-compatible server, on the standard library and sqlite.

Any AuthForge client, the official SDK included, can log in, heartbeat,
self-ban and activate offline against it exactly as against the hosted
service (docs/protocol.md), so licensed programs run and are tested with no
internet. ``AuthForgeServer`` serves one database file; ``server.admin``
(or ``Admin.open(path)`` from another process) manages apps, keys, licenses,
credits and offline files in it.

Choices where the protocol is silent: ``slots`` 0 or ``None`` means unlimited
machines (``maxHwidSlots: null`` on the wire); a forged, garbled or ended
session token is ``session_expired`` (403); a body that is not a JSON object
is ``malformed_request`` (400, or 413 above 64 KiB), and so is one holding
``NaN``, ``Infinity`` or ``1e999``; a JSON object with a missing or mistyped
field is ``bad_request`` (400); ``replay_detected`` and
``revoke_requires_session`` are 400; any path but the exact endpoint paths
(``//auth/validate`` included) is ``not_found`` (404) and another method
than POST ``method_not_allowed`` (405).

Hostile clients cost little: a waiting connection holds no thread, a
request must arrive whole within a deadline, connections are bounded, and
each app's nonce memory is bounded (``_connections``, ``_nonces``).

HTTPS: ``AuthForgeServer(..., tls=(certfile, keyfile))`` (or an
``ssl.SSLContext``) serves ``https://``; clients trust its certificate with
``ca_bundle=``. ``LocalAuthForge(tls=True)`` makes a throwaway one.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from types import TracebackType
from typing import Callable

from ._admin import Admin, AdminError, AppCredentials, to_epoch
from ._connections import Limits, LocalHTTPServer
from ._endpoints import Endpoints
from ._nonces import NONCE_LIMIT_PER_APP, NonceMemory
from ._ratelimit import SlidingWindowLimiter
from ._store import Store
from ._tls import TLSSetting, server_context

__all__ = [
    "Admin",
    "AdminError",
    "AppCredentials",
    "AuthForgeServer",
    "to_epoch",
]

logger = logging.getLogger("authforge_guard.server")

_STOP_GRACE_SECONDS = 5.0


class AuthForgeServer:
    """An AuthForge-compatible HTTP(S) server over one sqlite database file.

    ``start()`` binds (port 0 picks a free one) and serves from a background
    thread; ``stop()`` closes the listener and every open connection, then the
    database, which stays consistent at any moment (WAL), even on a kill.
    ``heartbeat_rate_limit=None`` lifts the 6-per-minute heartbeat limit.
    ``clock`` (epoch seconds) is for tests that need time to pass.

    Hostile clients: at most ``max_connections`` are open at once (a new one
    past that closes the one that has waited longest); a request must arrive
    whole within ``request_timeout`` seconds of its first byte, however slowly
    it drips, and a kept-alive connection may idle ``idle_timeout`` seconds.
    Waiting connections cost no thread: a fixed few workers answer. Each app
    remembers its last ``nonce_limit`` nonces (for at most 7 days) to detect
    replays.

    ``tls``: serve HTTPS with a ``(certfile, keyfile)`` pair of PEM files (an
    unencrypted key; the certificate file may hold the chain after it) or a
    server-side ``ssl.SSLContext`` (for anything more: an encrypted key, client
    certificates, a minimum version). The files are read here, so a bad one
    raises ``OSError`` (``ssl.SSLError``) or ``ValueError`` before ``start()``.
    """

    def __init__(
        self,
        db_path: str | os.PathLike[str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        heartbeat_rate_limit: int | None = 6,
        clock: Callable[[], float] = time.time,
        tls: TLSSetting | None = None,
        max_connections: int = 4096,
        request_timeout: float = 10.0,
        idle_timeout: float = 30.0,
        nonce_limit: int = NONCE_LIMIT_PER_APP,
    ) -> None:
        self._limits = Limits(
            max_connections=max_connections,
            request_timeout=request_timeout,
            idle_timeout=idle_timeout,
        )
        nonces = NonceMemory(nonce_limit)
        self._tls: ssl.SSLContext | None = server_context(tls) if tls is not None else None
        self.db_path = os.fspath(db_path)
        self.host = host
        self._requested_port = port
        self._store = Store(self.db_path)
        self.admin = Admin(self._store, clock)
        limiter = SlidingWindowLimiter(heartbeat_rate_limit, clock)
        self._endpoints = Endpoints(self._store, limiter, clock, nonces)
        self._httpd: LocalHTTPServer | None = None
        self._closed = False
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was asked for)."""
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return int(self._httpd.server_address[1])

    @property
    def tls(self) -> bool:
        """True when serving HTTPS."""
        return self._tls is not None

    @property
    def url(self) -> str:
        """The ``api_base_url`` for clients, e.g. ``http://127.0.0.1:8787`` (``https://``
        with ``tls``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def start(self) -> AuthForgeServer:
        """Bind and serve in a background thread; returns ``self``. Raises ``OSError`` if the
        address is taken."""
        with self._lock:
            if self._closed:
                raise RuntimeError("a stopped server cannot start again")
            if self._httpd is not None:
                return self
            self._httpd = LocalHTTPServer(
                (self.host, self._requested_port), self._endpoints, self._tls, self._limits
            )
            self._httpd.start(f"authforge-server-{self.port}")
        logger.info("AuthForge local server on %s (db %s)", self.url, self.db_path)
        return self

    def stop(self) -> None:
        """Stop serving, end open connections, close the database. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            httpd = self._httpd
        if httpd is not None:
            httpd.stop(_STOP_GRACE_SECONDS)
        self._store.close()
        logger.info("AuthForge local server stopped (db %s)", self.db_path)

    close = stop

    def __enter__(self) -> AuthForgeServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._httpd is not None and not self._closed else "not serving"
        return f"AuthForgeServer({where}, db={self.db_path!r})"
