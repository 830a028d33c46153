"""A store that fails never takes licensing down: the failure becomes "absent", counted.

Every store call that meets an error (Redis down or slow, a disk gone
read-only) is answered as if the store were empty: no entry, no lease, nothing
published; the caller logs in by itself, as it would without a store. The
first failure is a WARNING, later ones are counted and reported at most once a
minute, and the store comes back silently but for one INFO line.

After a failure the store is not asked again for ``cooldown`` seconds: during
an outage a call costs nothing instead of a connect timeout each time.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import Callable, TypeVar

from .._base._clock import elapsed

logger = logging.getLogger("authforge_guard")

T = TypeVar("T")

WARN_EVERY_SECONDS = 60.0
COOLDOWN_SECONDS = 1.0


class Fallback:
    """Failure bookkeeping for one store: cooldown, rate-limited warnings, recovery."""

    def __init__(
        self,
        name: str,
        *,
        cooldown: float = COOLDOWN_SECONDS,
        warn_every: float = WARN_EVERY_SECONDS,
        clock: Callable[[], float] = elapsed,
    ) -> None:
        self.name = name  # how the log names the store (no password)
        self.cooldown = cooldown
        self.warn_every = warn_every
        self._clock = clock
        self._lock = threading.Lock()
        _LIVE.add(self)
        self._down_until: float | None = None
        self._last_warning: float | None = None
        self._unreported = 0
        self.fallbacks = 0  # calls answered "absent" because of a failure (for tests, bench)

    def skip(self) -> bool:
        """True while cooling down after a failure: answer "absent" without trying."""
        with self._lock:
            if self._down_until is None or self._clock() >= self._down_until:
                return False
            self.fallbacks += 1
            self._unreported += 1
            return True

    def failed(self, operation: str, exc: BaseException) -> None:
        """A call failed: log (rate-limited) and cool down."""
        now = self._clock()
        with self._lock:
            self.fallbacks += 1
            self._unreported += 1
            self._down_until = now + self.cooldown
            if self._last_warning is not None and now - self._last_warning < self.warn_every:
                return
            self._last_warning = now
            count, self._unreported = self._unreported, 0
        # The exception's type only: its text may quote a URL with a password.
        logger.warning(
            "authforge_guard: session store %s unavailable (%s during %s); carrying on "
            "without it (%d store call%s fell back since the last warning)",
            self.name,
            type(exc).__name__,
            operation,
            count,
            "" if count == 1 else "s",
        )

    def succeeded(self) -> None:
        """A call worked: if the store was down, say once that it is back."""
        if self._down_until is None:
            return
        with self._lock:
            if self._down_until is None:
                return
            self._down_until = None
            count, self._unreported = self._unreported, 0
        logger.info(
            "authforge_guard: session store %s reachable again (%d call%s fell back)",
            self.name,
            count,
            "" if count == 1 else "s",
        )


# A forked child must not inherit a lock another thread held at the fork: every Fallback
# gets a fresh one there (its counts carry on; they are only for the log).
_LIVE: weakref.WeakSet[Fallback] = weakref.WeakSet()


def _fresh_locks_in_child() -> None:
    for bookkeeping in list(_LIVE):
        bookkeeping._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_locks_in_child)
