"""The heartbeat rate limit: at most N admitted calls per key in any 60-second window.

Kept in memory on purpose: a limit that forgets on restart costs nothing, and
the database stays free of a write per refused call.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from typing import Callable

WINDOW_SECONDS = 60.0


class SlidingWindowLimiter:
    """``limit=None`` admits everything (fast tests)."""

    def __init__(
        self, limit: int | None, clock: Callable[[], float], window: float = WINDOW_SECONDS
    ) -> None:
        if limit is not None and limit < 1:
            raise ValueError("a rate limit must admit at least one call (or be None)")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._calls: dict[str, deque[float]] = {}

    def admit(self, key: str) -> int | None:
        """``None`` when the call is admitted (and counted), else whole seconds to wait."""
        if self.limit is None:
            return None
        now = self._clock()
        with self._lock:
            calls = self._calls.setdefault(key, deque())
            while calls and calls[0] <= now - self.window:
                calls.popleft()
            if len(calls) >= self.limit:
                return max(1, math.ceil(calls[0] + self.window - now))
            calls.append(now)
            if len(self._calls) > 4096:  # forget idle keys so memory stays bounded
                self._forget_idle(now)
            return None

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, calls in self._calls.items() if calls[-1] <= now - self.window]:
            del self._calls[key]
