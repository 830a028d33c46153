"""A total deadline for blocking socket I/O, kept as one job on the process's timer thread.

A socket timeout bounds each ``recv`` alone: a server that drips one byte
every second keeps a reader busy for as long as it likes (a stuck heartbeat
would keep a session alive past its signed end). So a request registers its
connection here with an absolute deadline; at the deadline its socket is shut
down (``shutdown(2)``, not ``close``), which wakes the blocked reader at once
with an end of stream, and the request is marked as timed out so the
transport reports ``timeout``, not a broken connection.

No thread of its own: the deadlines are kept in a table here, and ONE job on
the shared timer heap (``_scheduler.shared_timers()``, the thread that also
runs every session's checks and deadlines) is scheduled for the earliest of
them. When it runs it cuts what has expired and schedules itself for the next
earliest (or not at all when nothing is armed). A process has one background
thread of ours for both, not one each.

Cheap on the fast path: arming and disarming are a lock and a dict operation.
A request that finishes in time never wakes the timer thread, and an arm
touches the heap only when its deadline is earlier than the one the job is
scheduled for (rare: deadlines are mostly "now + the same timeout", so
later); it then cancels that job and schedules a new one, which wakes the
timer thread only if it is now the heap's earliest.

What the transport relies on:

- Once ``disarm`` returns, the socket is never touched: the job cuts under the
  lock ``disarm`` takes, so the connection may go back to the pool and serve
  another request.
- The job does no I/O and takes no lock that is held across I/O:
  ``socket.shutdown`` returns at once. The lock order is this module's lock,
  then the timers' (``call_later``), never the reverse: the timer thread runs
  a job without holding its own lock. (The first ``call_later`` of a process
  starts the timer thread while this lock is held: a thread start, once, not
  I/O.)
- A request is never sent from the timer thread itself: its deadline would
  wait behind it. Online checks run on the timers' worker pool for that reason.
- Deadlines are ``time.monotonic()`` values (the transport's); the timers wait
  on the session clock, which runs at least as fast (it also counts a
  suspend). So the job is never late; after a suspend it may run early, cut
  nothing and schedule itself again.
- After ``fork`` both modules start from nothing in the child (threads do not
  survive it; a lock may have been held). This module never keeps a
  ``Timers``: it asks ``shared_timers()`` each time it schedules, so the order
  of the two at-fork hooks does not matter, and the child's first request
  starts the child's timer thread.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from .._base._scheduler import Job, shared_timers


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
        self._due = math.inf  # the deadline ``_job`` is scheduled for (inf: no job)
        self._job: Job | None = None

    def arm(self, watch: Watch) -> None:
        with self._lock:
            self._armed[watch] = None
            if watch.deadline < self._due:
                try:
                    self._schedule(watch.deadline)
                except BaseException:  # no timer thread (the OS refused one): not armed
                    del self._armed[watch]
                    raise

    def disarm(self, watch: Watch) -> None:
        # Under the lock: once this returns, the job will not touch the socket.
        with self._lock:
            self._armed.pop(watch, None)

    def _schedule(self, due: float) -> None:
        """Replace the job by one due at ``due`` (none for ``inf``); under the lock.
        If ``call_later`` fails (the OS refuses the timer thread) nothing has changed."""
        job = None
        if due != math.inf:
            job = shared_timers().call_later(due - time.monotonic(), self._expire)
        if self._job is not None:
            self._job.cancel()  # harmless when it is the job running now
        self._job, self._due = job, due

    def _expire(self) -> None:
        """The job (timer thread): cut every request past its deadline, then schedule
        the job again for the earliest deadline left."""
        with self._lock:
            try:
                now = time.monotonic()
                for watch in [w for w in self._armed if w.deadline <= now]:
                    del self._armed[watch]
                    watch.expired = True
                    _cut(watch.connection)
            finally:  # whatever happened, the deadlines left keep a job
                self._schedule(min((w.deadline for w in self._armed), default=math.inf))


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


# A deadline for every request the calling code makes, retries included (see ``within``).
_overall: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "authforge_guard_overall_deadline", default=None
)


@contextlib.contextmanager
def within(seconds: float | None) -> Iterator[None]:
    """Every request made inside (in this thread or task) ends within ``seconds`` from now,
    its retries and their waits included (``None``: no such bound).

    This is how a license check a person waits for keeps its total deadline on
    every platform: the requests themselves stop, through this module's
    ``shutdown`` of their socket, instead of relying on a signal that interrupts
    the waiting main thread (POSIX only).
    """
    if seconds is None:
        yield
        return
    token = _overall.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _overall.reset(token)


def overall_deadline(deadline: float | None) -> float | None:
    """The earlier of ``deadline`` and the one ``within`` set around the caller."""
    ambient = _overall.get()
    if ambient is None:
        return deadline
    return ambient if deadline is None else min(ambient, deadline)


def _reset_in_child() -> None:
    # The parent's job is on the parent's timers (reset by _scheduler) and the lock
    # may have been held at the fork: start from nothing (requests in flight
    # belonged to the parent). Nothing here touches the timers: see the docstring.
    global _watchdog, _current
    _watchdog = _Watchdog()
    _current = threading.local()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)
