"""Where logins asked for by coroutines run, and what an outage does to the next one.

Two things a bot or an async API needs when AuthForge is slow or down:

- **Its own threads, a bounded number.** ``aensure`` used to hand a login to
  ``loop.run_in_executor(None, ...)``: the event loop's default executor, shared
  with the application's own jobs (``loop.getaddrinfo`` among them). With the
  server hanging, every worker of it sat in a login and an unrelated DNS lookup
  waited 32 s. ``LoginPool`` runs logins on at most ``login_workers`` daemon
  threads of ours, started on demand and gone when idle; a login still queued
  after its deadline is not started at all (its callers get ``timeout``).
- **An outage is the server's, not a tenant's.** When a login finds the server
  unreachable (no answer, a timeout, a 5xx), every other tenant's login would
  find the same, each after its own retry cycle: 60 tenants queued one behind
  another for 20 s. ``Reachability`` remembers the outage; while one login
  (the probe) is trying the server again, the others fail at once with the
  same transient code, caused by (a copy of) the failure the last probe met, so
  whoever reads the traceback sees why the server is believed down. The first
  answer of any kind (a session, a verdict) ends the outage.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import weakref
from typing import Callable

from .._exceptions import LicenseError
from ._sessions import copy_error

logger = logging.getLogger("authforge_guard")

IDLE_SECONDS = 30.0  # a worker with nothing to do for this long ends


class LoginPool:
    """At most ``workers`` daemon threads running logins, first come first served."""

    def __init__(self, workers: int, *, name: str = "authforge-login") -> None:
        if workers < 1:
            raise ValueError("login_workers must be at least 1")
        self.workers = workers
        self._name = name
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[tuple[float, Callable[[], None], Callable[[], None]]] = (
            queue.SimpleQueue()
        )
        self._threads = 0
        self._idle = 0
        _FORK_RESET.add(self)

    def submit(
        self, run: Callable[[], None], too_late: Callable[[], None], deadline: float
    ) -> None:
        """Run ``run()`` on a worker; if no worker took it within ``deadline`` seconds, call
        ``too_late()`` instead (on the worker, when it gets to it). Neither may raise."""
        self._jobs.put((time.monotonic() + deadline, run, too_late))
        with self._lock:
            if self._idle > 0 or self._threads >= self.workers:
                return
            self._threads += 1
            index = self._threads
        threading.Thread(target=self._work, name=f"{self._name}-{index}", daemon=True).start()

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            try:
                due, run, too_late = self._jobs.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    self._idle -= 1
                    if self._jobs.empty():
                        self._threads -= 1
                        return
                continue
            with self._lock:
                self._idle -= 1
            try:
                (run if time.monotonic() < due else too_late)()
            except BaseException:  # a job must not end the worker
                logger.exception("authforge_guard: a login job raised")
            finally:
                # Idle until the next job, a worker keeps nothing of this one: its
                # closures hold a Guard's login flow and session table.
                del run, too_late

    def _after_fork(self) -> None:
        # The threads did not survive the fork; queued jobs belong to the parent's loop.
        self._lock = threading.Lock()
        self._jobs = queue.SimpleQueue()
        self._threads = self._idle = 0


def is_unreachable(code: str) -> bool:
    """No answer came back from the server itself: the network, a timeout, a 5xx."""
    return code in ("network_error", "timeout") or code.startswith("http_error_5")


class Reachability:
    """Whether the license server is known to be down, and the one login probing it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down: str | None = None  # the transient code of the outage, or None
        # What the last login that found the server unreachable raised: the cause of
        # every fast failure (a copy each), for whoever reads the traceback.
        self._failure: BaseException | None = None
        self._probing = False
        _FORK_RESET.add(self)

    @property
    def down(self) -> str | None:
        return self._down

    def enter(self) -> bool:
        """Before a login's request: True if this login is the probe of a known outage.
        Raises the outage's code at once while another login is probing, caused by a copy
        of the last probe's failure."""
        with self._lock:
            if self._down is None:
                return False
            if self._probing:
                code, failure = self._down, self._failure
            else:
                self._probing = True
                return True
        raise LicenseError(
            code,
            f"license refused: {code} (the license server is not reachable; "
            "another login is trying it again)",
        ) from (copy_error(failure) if failure is not None else None)

    def leave(self, probe: bool, code: str | None, failure: BaseException | None = None) -> None:
        """After the request: ``code`` is the failure's code, or ``None`` for any answer
        from the server (a session or a verdict); ``failure`` what the request raised (its
        message and cause chain name no license key or token: the transport's errors)."""
        with self._lock:
            if probe:
                self._probing = False
            if code is not None and is_unreachable(code):
                # A copy: not the frames of the login that raised it (they hold the Guard).
                self._failure = copy_error(failure) if failure is not None else None
                if self._down is None:
                    logger.warning(
                        "authforge_guard: the license server is not reachable (%s); other "
                        "logins fail fast until one gets through",
                        code,
                    )
                self._down = code
            elif self._down is not None:
                self._down = self._failure = None
                logger.info("authforge_guard: the license server answers again")

    def abandon(self, probe: bool) -> None:
        """After a request that ended without news of the server (not an AuthForge error)."""
        if probe:
            with self._lock:
                self._probing = False

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._probing = False


# A forked child gets fresh locks, no workers and no probe in flight.
_FORK_RESET: weakref.WeakSet[LoginPool | Reachability] = weakref.WeakSet()


def _reset_in_child() -> None:
    for item in list(_FORK_RESET):
        item._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)
