"""Session deadlines that wall-clock jumps cannot move.

A session's end is signed as an epoch time, but the local wall clock may jump
(NTP, a user changing the date). At the moment an answer is accepted the
remaining lifetime is turned into a deadline on a clock that only moves
forward: ``CLOCK_BOOTTIME`` where it exists (it keeps counting during
suspend, so sleeping a laptop cannot stretch a session), else ``monotonic``.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from .._protocol._encoding import server_time as server_time  # the layer-3 name of it

# The longest single wait a lock, an event or a socket accepts (about 292
# years); asking for more raises OverflowError in the thread that waits.
MAX_WAIT = threading.TIMEOUT_MAX


def bounded_wait(seconds: float) -> float:
    """``seconds`` clipped to ``[0, MAX_WAIT]``: any interval or timeout a setting accepts
    can be waited for (a longer one wakes early, which every caller tolerates)."""
    return min(max(0.0, seconds), MAX_WAIT)


def _pick_elapsed_clock() -> Callable[[], float]:
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is not None:
        try:
            time.clock_gettime(boottime)
        except OSError:
            pass
        else:
            return lambda: time.clock_gettime(boottime)
    return time.monotonic


elapsed = _pick_elapsed_clock()


class Deadline:
    """When a session ends, measured on the elapsed clock.

    ``issued_at`` is the server's own time of the answer when known: for a
    fresh (nonce-checked) answer the lifetime is then ``expires_at -
    issued_at``, independent of the local clock's error. Without it (a session
    restored from disk) the local wall clock is the only reference.
    """

    __slots__ = ("_deadline", "expires_at")

    def __init__(self, expires_at: float, *, issued_at: float | None = None) -> None:
        self.expires_at = expires_at
        reference = issued_at if issued_at is not None else time.time()
        self._deadline = elapsed() + (expires_at - reference)

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self._deadline - elapsed()

    def passed(self) -> bool:
        return self.remaining() <= 0
