"""What a store tells the log about entries it refused, and how it calls a watcher."""

from __future__ import annotations

import logging
import os
import re
import threading
import weakref
from typing import Callable

from .._base._clock import elapsed
from .._exceptions import ConfigurationError
from ._entry import Found

logger = logging.getLogger("authforge_guard")

# Refusals that mean someone or something wrote the entry (an edit, a forgery, a
# copy from another machine, a clock set back): worth a WARNING. The rest (expired,
# too little left, ended elsewhere) are the ordinary life of a session.
_SUSPECT = (
    "not validly signed",
    "issued to another",
    "issued for another",
    "unknown format",
    "clock_rollback",
    "session token unreadable",
    "unreadable",
)
REPEAT_SECONDS = 60.0


def closed_store(what: str) -> ConfigurationError:
    """The error for ``watch()`` (or a fleet's ``follow``) after ``close()``: a closed store
    would start a watcher that stops at once, and tombstones from the other instances
    would never arrive, silently."""
    return ConfigurationError(
        f"session store: {what} was closed and watches nothing; use a new one",
        argument="session_store",
    )


class RefusalLog:
    """Logs why a store refused an entry: once a minute per kind of reason, so instances
    polling a forged entry while they wait for a login do not flood the log."""

    def __init__(self, where: str, *, every: float = REPEAT_SECONDS) -> None:
        self.where = where
        self._every = every
        self._lock = threading.Lock()
        _LIVE.add(self)
        self._last: dict[str, float] = {}

    def report(self, found: Found) -> None:
        """Log why ``found`` holds no session (nothing when there simply was no entry)."""
        if found.session is not None or found.missing:
            return
        kind = re.sub(r"[0-9]+", "#", found.reason)
        now = elapsed()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self._every:
                return
            self._last[kind] = now
        level = logging.WARNING if found.reason.startswith(_SUSPECT) else logging.INFO
        logger.log(
            level,
            "authforge_guard: not resuming a cached session: %s (%s)",
            found.reason,
            self.where,
        )


def deliver(on_tombstone: Callable[[str, str, str], None], *fields: str) -> None:
    """Call a watcher; what it raises is logged, never lost in the store's thread."""
    try:
        on_tombstone(*fields)
    except Exception:
        logger.exception("authforge_guard: a session-store tombstone handler raised")


# A forked child must not inherit a lock another thread held at the fork: every RefusalLog
# gets a fresh one there (its counts carry on; they are only for the log).
_LIVE: weakref.WeakSet[RefusalLog] = weakref.WeakSet()


def _fresh_locks_in_child() -> None:
    for bookkeeping in list(_LIVE):
        bookkeeping._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_locks_in_child)
