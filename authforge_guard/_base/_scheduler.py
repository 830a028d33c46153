"""When the next background check runs: a fixed interval with jitter, on its own thread.

Jitter keeps a fleet of clients that started together (a deploy, an office
opening its laptops) from checking in together: later checks come
``interval`` +-10% apart, and the first one half an interval plus where a
check of a long-running fleet would fall, so from half an interval after a
common start the fleet's load is flat (no surge where first and second
checks overlap) and an outage does not line the phases up.
A check is never later than the session's own end (``until``): a session
ends at its signed expiry, not up to one interval after it. Waits are
measured on the session clock (``CLOCK_BOOTTIME``, which counts a laptop's
suspend) in slices, so a machine waking from sleep checks within a slice,
not a whole interval later.
"""

from __future__ import annotations

import collections
import logging
import math
import os
import random
import threading
import weakref
from typing import Any, Callable

from .._exceptions import AuthForgeError
from ._clock import bounded_wait, elapsed

logger = logging.getLogger("authforge_guard")

DEFAULT_JITTER = 0.10
# Wake this long after the session's end, so the check finds it passed.
END_MARGIN = 0.01
# The longest single wait: how late a check can be after the machine wakes from suspend.
WAIT_SLICE = 30.0


# Online mode ends a session whose heartbeats have all failed for this many intervals,
# for the Guard and the drop-in client alike (unless max_unreachable says otherwise).
UNREACHABLE_INTERVALS = 3


def silence_bound(confirmed: float, limit: float, error: AuthForgeError) -> AuthForgeError:
    """``server_unreachable`` once online checks have failed for ``limit`` seconds since
    the server last vouched for the session (``confirmed``, on the elapsed clock, which
    the user's wall clock cannot move); else ``error`` as it is. A proxy answering 502
    or a blocked connection must not keep a revoked license running until its end."""
    silent = elapsed() - confirmed
    if silent < limit:
        return error
    unreachable = AuthForgeError(
        "server_unreachable",
        f"server_unreachable: no answer from AuthForge for {silent:.0f} s "
        f"(max_unreachable={limit:g}); last failure: {error.code}",
    )
    unreachable.__cause__ = error
    return unreachable


def first_delay(interval: float, rng: random.Random, jitter: float = DEFAULT_JITTER) -> float:
    """Delay before the first check: half an interval, then the time to the next check
    of a client that has been running for long (the residual of a ``next_delay`` cycle).

    That residual is uniform over the first ``1 - jitter`` of an interval and
    tapers off linearly up to ``1 + jitter``. Had it been uniform over a plain
    interval, a fleet started together would peak at 1.5x its mean load one
    and a half intervals later, where its first checks meet the jittered
    second ones.
    """
    low, high = interval * (1.0 - jitter), interval * (1.0 + jitter)
    if rng.random() < 1.0 - jitter:
        residual = rng.uniform(0.0, low)
    else:  # the taper: density falling linearly from low to high
        residual = high - (high - low) * math.sqrt(rng.random())
    return interval / 2 + residual


def next_delay(interval: float, rng: random.Random, jitter: float = DEFAULT_JITTER) -> float:
    """Delay between two checks: ``interval`` +- ``jitter`` (a fraction)."""
    return interval * (1.0 + rng.uniform(-jitter, jitter))


def wait_on_session_clock(stopped: threading.Event, delay: float) -> bool:
    """Sleep ``delay`` seconds of session-clock time; True if ``stopped`` was set meanwhile.

    ``Event.wait`` runs on the monotonic clock, which stands still while the
    machine is suspended; re-measuring on the session clock every slice keeps
    a check (or an expiry) on time across a suspend.
    """
    target = elapsed() + delay
    while True:
        remaining = target - elapsed()
        if remaining <= 0:
            return stopped.is_set()
        if stopped.wait(min(remaining, WAIT_SLICE)):
            return True


class SessionTimer:
    """``threading.Timer`` on the session clock: runs ``fn`` once after ``delay`` unless
    cancelled (an offline file's expiry)."""

    def __init__(self, delay: float, fn: Callable[[], None], *, name: str) -> None:
        self._delay = bounded_wait(delay)
        self._fn = fn
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self._cancelled.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        if not wait_on_session_clock(self._cancelled, self._delay):
            self._fn()


class HeartbeatScheduler:
    """Runs ``tick()`` every interval on a daemon thread until ``tick`` returns False or
    ``stop()`` is called.

    ``stop()`` never joins, so it is safe from inside ``tick`` and from hooks;
    a stopped scheduler cannot be restarted (make a new one).
    """

    def __init__(
        self,
        interval: float,
        tick: Callable[[], bool],
        *,
        name: str = "authforge-heartbeat",
        rng: random.Random | None = None,
        jitter: float = DEFAULT_JITTER,
        until: Callable[[], float | None] | None = None,
    ) -> None:
        self.interval = interval
        self._tick = tick
        self._until = until
        self._rng = rng if rng is not None else random.Random()
        self._jitter = jitter
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stopped.is_set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _capped(self, delay: float) -> float:
        """``delay``, shortened to end just after the session does (while it has not)."""
        remaining = self._until() if self._until is not None else None
        if remaining is not None and remaining > 0:
            delay = min(delay, remaining + END_MARGIN)
        return bounded_wait(delay)

    def _run(self) -> None:
        delay = first_delay(self.interval, self._rng, self._jitter)
        while not wait_on_session_clock(self._stopped, self._capped(delay)):
            try:
                keep_going = self._tick()
            except Exception:  # a bug in a tick must not kill licensing silently
                logger.exception("authforge_guard: background check crashed; will retry")
                keep_going = True
            if not keep_going:
                break
            delay = next_delay(self.interval, self._rng, self._jitter)
        self._stopped.set()


# ---------------------------------------------------------------------------
# One timer thread for every session of every Guard in the process, and for the
# transport's request deadlines (``_watchdog``).


class Job:
    """A call scheduled on the shared timer; ``cancel()`` before it runs drops it."""

    __slots__ = ("cancelled", "due", "fn", "seq", "state", "timers", "worker")

    def __init__(
        self,
        due: float,
        seq: int,
        fn: Callable[[], None],
        worker: bool,
        timers: Timers | None = None,
    ) -> None:
        self.due = due
        self.seq = seq
        self.fn = fn
        self.worker = worker
        self.cancelled = False
        self.timers = timers  # the heap it waits in, told of a cancel so it can shrink
        self.state = _QUEUED  # changed under the timers' lock only

    def cancel(self) -> None:
        self.cancelled = True
        self.fn = _nothing  # drop what the call holds (a session, a guard's weak reference)
        timers, self.timers = self.timers, None
        if timers is not None:
            timers._cancelled(self)

    def __lt__(self, other: Job) -> bool:
        return (self.due, self.seq) < (other.due, other.seq)


# Threads running background checks (network I/O) for every session of the process.
CHECK_WORKERS = 4

# Job.state: in the heap; in the heap and counted as cancelled; out of the heap.
_QUEUED, _COUNTED, _OUT = 0, 1, 2
# The heap is rebuilt without its cancelled jobs once they are this many and half of it.
COMPACT_AT = 64


def _nothing() -> None:
    pass


class Timers:
    """A heap of calls due on the session clock, run by one daemon thread.

    Heartbeats of ten thousand sessions cost one thread, not ten thousand.
    Calls that may block (a heartbeat is network I/O) are marked ``worker`` and
    handed to a small pool, so a stuck request never delays another session's
    deadline: deadlines run on the timer thread itself and take no I/O.
    Callers hold their owner weakly (see ``Guard``): a program that drops a
    Guard stops its heartbeats.

    The transport's request deadlines are one job here too (``_watchdog``: it
    cuts the sockets of requests past their deadline, then schedules itself for
    the next one), so a process has one thread of ours, whether it runs Guards,
    drop-in clients or both. Hence the rule for a call that is not ``worker``:
    it never sends a request or waits on I/O (a request's deadline would wait
    behind it). The thread starts at the first ``call_later`` (a Guard's first
    session or the first request) and again in a forked child.

    A cancelled job leaves the heap soon, not at its due time: a logout cancels
    a deadline a day away, and a server's tenants log in and out all day. Once
    cancelled jobs are ``COMPACT_AT`` and half the heap, the heap is rebuilt
    without them (amortised O(1) per cancel), so it holds at most about twice
    the live jobs.
    """

    def __init__(self, *, workers: int = CHECK_WORKERS) -> None:
        import heapq

        self._heapq = heapq
        self._heap: list[Job] = []
        self._cond = threading.Condition(threading.Lock())
        self._seq = 0
        self._cancelled_jobs = 0  # jobs in the heap whose cancel() was counted
        self._pid = os.getpid()
        self._thread: threading.Thread | None = None
        self._pool = _WorkerPool(workers)

    def call_later(self, delay: float, fn: Callable[[], None], *, worker: bool = False) -> Job:
        """Run ``fn`` after ``delay`` seconds of session-clock time (suspend included)."""
        with self._cond:
            self._seq += 1
            job = Job(elapsed() + max(0.0, delay), self._seq, fn, worker, self)
            self._heapq.heappush(self._heap, job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="authforge-timers", daemon=True
                )
                self._thread.start()
            elif self._heap[0] is job:
                self._cond.notify()
        return job

    def queued(self) -> int:
        """How many jobs the heap holds, cancelled ones not yet dropped included."""
        with self._cond:
            return len(self._heap)

    def _cancelled(self, job: Job) -> None:
        """``job`` was cancelled: count it, and drop the cancelled jobs once they are many."""
        if os.getpid() != self._pid:
            return  # a forked child: these timers (and maybe their lock) are the parent's
        with self._cond:
            if job.state != _QUEUED:
                return  # already run, or dropped
            job.state = _COUNTED
            self._cancelled_jobs += 1
            heap = self._heap
            if self._cancelled_jobs >= COMPACT_AT and 2 * self._cancelled_jobs >= len(heap):
                kept = []
                for queued in heap:
                    if queued.cancelled:
                        queued.state = _OUT
                    else:
                        kept.append(queued)
                heap[:] = kept  # the same list: the timer thread holds it
                self._heapq.heapify(heap)
                self._cancelled_jobs = 0

    def _popped(self, job: Job) -> Job:
        """Under the lock: ``job`` left the heap."""
        if job.state == _COUNTED:
            self._cancelled_jobs -= 1
        job.state = _OUT
        job.timers = None
        return job

    def settle(self, timeout: float) -> bool:
        """Wait until no background check (network I/O on the worker pool) is queued or
        running: for a clean shutdown, and for tests that must know a late answer has been
        dealt with. False if ``timeout`` passed first."""
        return self._pool.settle(timeout)

    def _run(self) -> None:
        heap, heappop = self._heap, self._heapq.heappop
        while True:
            with self._cond:
                while True:
                    while heap and heap[0].cancelled:
                        self._popped(heappop(heap))
                    if not heap:
                        self._cond.wait(WAIT_SLICE)
                        continue
                    wait = heap[0].due - elapsed()
                    if wait <= 0:
                        job = self._popped(heappop(heap))
                        break
                    self._cond.wait(min(wait, WAIT_SLICE))
            if job.worker:
                self._pool.submit(job.fn)
            else:
                _call_logged(job.fn)


def _call_logged(fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception:  # a bug in one session's check must not stop every other one
        logger.exception("authforge_guard: background task crashed")


class _WorkerPool:
    """Up to ``limit`` daemon threads running blocking background calls, made on demand."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._queue: collections.deque[Callable[[], None]] = collections.deque()
        self._cond = threading.Condition(threading.Lock())
        self._threads = 0
        self._idle = 0
        self._busy = 0

    def submit(self, fn: Callable[[], None]) -> None:
        with self._cond:
            self._queue.append(fn)
            if self._idle == 0 and self._threads < self._limit:
                self._threads += 1
                threading.Thread(target=self._run, name="authforge-check", daemon=True).start()
            else:
                self._cond.notify()

    def settle(self, timeout: float) -> bool:
        """Wait until no call is queued or running; False if ``timeout`` passed first."""
        deadline = elapsed() + timeout
        with self._cond:
            while self._queue or self._busy:
                remaining = deadline - elapsed()
                if remaining <= 0 or not self._cond.wait(bounded_wait(remaining)):
                    return not (self._queue or self._busy)
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._idle += 1
                    self._cond.wait()
                    self._idle -= 1
                fn = self._queue.popleft()
                self._busy += 1
            try:
                _call_logged(fn)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()  # settle() waiters, and idle workers recheck


_timers: Timers | None = None
_timers_lock = threading.Lock()


def weak_method(owner: object, method: str) -> Callable[..., None]:
    """``owner.method`` as a callback that does not keep ``owner`` alive (a call after
    ``owner`` is gone does nothing)."""
    ref = weakref.ref(owner)

    def call(*args: Any) -> None:
        target = ref()
        if target is not None:
            getattr(target, method)(*args)

    return call


def weak_call(owner: object, method: str, args: tuple[Any, ...]) -> Callable[[], None]:
    """A timer call of ``owner.method(*args)`` that does not keep ``owner`` alive: a Guard
    (or a part of it) no one references stops, its timers with it."""
    bound = weak_method(owner, method)
    return lambda: bound(*args)


def shared_timers() -> Timers:
    """The process's timers (made on first use; a forked child gets its own).

    Look it up at each use rather than keeping it: after a fork this returns the
    child's, whatever order the modules' at-fork hooks ran in."""
    global _timers
    timers = _timers
    if timers is None:
        with _timers_lock:
            if _timers is None:
                _timers = Timers()
            timers = _timers
    return timers


def _reset_after_fork() -> None:
    # The timer and worker threads did not survive the fork; their jobs belong to
    # the parent's sessions, which the child's Guards forget (see _guard), and to
    # the parent's requests, which _watchdog forgets.
    global _timers, _timers_lock
    _timers = None
    _timers_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
