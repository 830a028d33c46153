"""Waiting for something that happens on another thread, and recording what hooks saw."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

HEARTBEAT_THREAD = "authforge-heartbeat"


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, step: float = 0.01) -> Any:
    """Poll ``predicate`` until it is truthy or ``timeout`` passes; its last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(step)
        value = predicate()
    return value


def heartbeat_threads() -> list[threading.Thread]:
    """The live background-check threads of every client in this process."""
    return [t for t in threading.enumerate() if t.name == HEARTBEAT_THREAD and t.is_alive()]


def scheduled_checks(guard) -> int:
    """Sessions of ``guard`` with a background check scheduled (one timer thread serves
    every session of the process, so threads are no measure of it)."""
    return sum(
        1
        for entry in list(guard._entries.values())
        if entry.heartbeat_job is not None and not entry.heartbeat_job.cancelled
    )


class HookLog:
    """Registers a hook of every kind on a Guard and keeps what each one was given.

    ``events`` holds ``(kind, code, fatal)`` in the order the hooks ran:
    kind is ``"code"`` (a hook for the loss's code), ``"lost"``,
    ``"cleanup"`` or ``"transient"``.
    """

    FATAL_CODES = ("revoked", "signature_mismatch", "session_expired", "expired", "blocked")

    def __init__(self, guard: Any) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[str, Any, Any]] = []
        self.sessions_active_in_hook: list[bool] = []
        guard.on(*self.FATAL_CODES)(lambda event: self._add("code", event))
        guard.on_lost(lambda event: self._add("lost", event))
        guard.on_transient(lambda event: self._add("transient", event))
        guard.add_cleanup(self._cleanup)

    def _add(self, kind: str, event: Any) -> None:
        with self._lock:
            self.events.append((kind, event.code, event.fatal))
            if event.session is not None:
                self.sessions_active_in_hook.append(event.session.active)

    def _cleanup(self) -> None:
        with self._lock:
            self.events.append(("cleanup", None, None))

    def kinds(self) -> list[str]:
        with self._lock:
            return [kind for kind, _code, _fatal in self.events]

    def transient_codes(self) -> list[str]:
        with self._lock:
            return [code for kind, code, _fatal in self.events if kind == "transient"]

    def fatal_events(self) -> list[tuple[str, Any, Any]]:
        with self._lock:
            return [event for event in self.events if event[0] != "transient"]
