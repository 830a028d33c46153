"""A total deadline for blocking socket I/O, kept by one thread for the whole process.

A socket timeout bounds each ``recv`` alone: a server that drips one byte
every second keeps a reader busy for as long as it likes (a stuck heartbeat
would keep a session alive past its signed end). So a request registers its
connection here with an absolute deadline; at the deadline this module's
thread shuts the socket down (``shutdown(2)``, not ``close``), which wakes the
blocked reader at once with an end of stream, and marks the request as timed
out so the transport reports ``timeout``, not a broken connection.

Cheap on the fast path: arming and disarming are a lock and a dict operation.
The thread sleeps until the earliest deadline; a request that finishes in time
never wakes it, and a new deadline wakes it only when it is earlier than the
one it sleeps towards (rare: deadlines are mostly "now + the same timeout").
The thread is started on first use and again in a forked child (threads do not
survive ``fork``).
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time
from typing import Any

from ._clock import bounded_wait


class Watch:
    """One request's deadline (``time.monotonic()``) and the connection it uses."""

    __slots__ = ("connection", "deadline", "expired")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.connection: Any = None  # set by the connection when it opens or sends
        self.expired = False


class _Watchdog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[Watch, None] = {}
        self._wake = threading.Event()
        self._wake_at = math.inf
        self._thread: threading.Thread | None = None

    def arm(self, watch: Watch) -> None:
        with self._lock:
            self._armed[watch] = None
            if watch.deadline < self._wake_at:
                self._wake_at = watch.deadline
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="authforge-io-deadline", daemon=True
                    )
                    self._thread.start()
                else:
                    self._wake.set()

    def disarm(self, watch: Watch) -> None:
        # Under the lock: once this returns, the thread will not touch the socket.
        with self._lock:
            self._armed.pop(watch, None)

    def _run(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                for watch in [w for w in self._armed if w.deadline <= now]:
                    del self._armed[watch]
                    watch.expired = True
                    _cut(watch.connection)
                self._wake_at = min((w.deadline for w in self._armed), default=math.inf)
                self._wake.clear()
                wait = None if self._wake_at == math.inf else bounded_wait(self._wake_at - now)
            self._wake.wait(wait)


def _cut(connection: Any) -> None:
    """Wake whoever blocks on ``connection``'s socket: shut it down, without closing it.

    ``socket.socket.shutdown`` is called on the plain socket even for TLS, so
    the ``SSLSocket`` object is left as its reader holds it (its own
    ``shutdown`` would drop the TLS state under the reader's feet). The reader
    sees an end of stream; the connection is then discarded, never reused.
    """
    sock = getattr(connection, "sock", None)
    if sock is None:
        return  # not connected yet: the connect timeout bounds that part
    with contextlib.suppress(OSError, TypeError):  # already closed, or not a socket
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_watchdog = _Watchdog()
_current = threading.local()


def arm(deadline: float) -> Watch:
    """Start watching the calling thread's next connection until ``disarm``."""
    watch = Watch(deadline)
    _current.watch = watch
    _watchdog.arm(watch)
    return watch


def disarm(watch: Watch) -> None:
    _current.watch = None
    _watchdog.disarm(watch)


def attach(connection: Any) -> None:
    """Called by a connection as it connects or sends: it is what the thread's watch cuts."""
    watch: Watch | None = getattr(_current, "watch", None)
    if watch is not None:
        watch.connection = connection


def _reset_in_child() -> None:
    # The parent's thread does not exist here and its lock may have been held
    # at the fork: start from nothing (requests in flight belonged to the parent).
    global _watchdog, _current
    _watchdog = _Watchdog()
    _current = threading.local()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)
