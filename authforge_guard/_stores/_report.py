"""What a store tells the log about entries it refused, and how it calls a watcher."""

from __future__ import annotations

import logging
from typing import Callable

from ._entry import Found

logger = logging.getLogger("authforge_guard")

# Refusals that mean someone or something wrote the entry (an edit, a forgery, a
# copy from another machine, a clock set back): worth a WARNING. The rest (expired,
# too little left, ended elsewhere) are the ordinary life of a session.
_SUSPECT = ("not validly signed", "issued to another", "issued for another", "unknown format",
            "clock_rollback",
            "session token unreadable", "unreadable")


def report_refusal(found: Found, where: str) -> None:
    """Log why ``found`` holds no session (nothing when there simply was no entry)."""
    if found.session is not None or found.missing:
        return
    level = logging.WARNING if found.reason.startswith(_SUSPECT) else logging.INFO
    logger.log(level, "authforge_guard: not resuming a session from %s: %s", where, found.reason)


def deliver(on_tombstone: Callable[[str, str, str], None], *fields: str) -> None:
    """Call a watcher; what it raises is logged, never lost in the store's thread."""
    try:
        on_tombstone(*fields)
    except Exception:
        logger.exception("authforge_guard: a session-store tombstone handler raised")
