"""The one place the library speaks to the person in front of the program.

A licensed program may have no console at all: a windowed PyInstaller or
Nuitka build, ``pythonw`` on Windows, a macOS ``.app``, a service started with
its standard streams closed. There ``sys.stderr`` is ``None`` (or a closed
file, or one whose ``write`` fails), and a line written to it must neither
raise (an ``AttributeError`` on the way to ``on_lost="exit"`` once let a
revoked program run on) nor vanish: the customer still has to learn why the
program stopped.

So every customer-facing line (``on_lost="exit"``, ``on_refused="exit"``, the
"Checking your license..." progress line) goes through ``say``:

- with a usable ``sys.stderr``, the line is written and flushed there;
- otherwise it is logged at ERROR on the ``authforge_guard`` logger (a log
  file the vendor configured still gets it) and handed to the notifier a GUI
  integration registered with ``set_notifier`` (``authforge_guard.tk`` and
  ``authforge_guard.qt`` register their dialog).

``say`` never raises: whatever follows it (an exit with its code) must happen.
The notifier is called in the thread that speaks (a heartbeat's loss arrives on
a thread of ours), so a GUI integration posts to its own event loop from it.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Callable

logger = logging.getLogger("authforge_guard")

Notifier = Callable[[str], None]

_notifier: Notifier | None = None
_lock = threading.Lock()  # one line at a time: a progress line and an exit line never mix


def set_notifier(fn: Notifier | None) -> None:
    """Register ``fn(message)`` to show a line where there is no console (``None``: none).

    One notifier per process (the GUI integration installed last wins). It is
    called only when ``sys.stderr`` cannot take the line, in whatever thread
    speaks; an exception it raises is logged and otherwise ignored.
    """
    global _notifier
    _notifier = fn


def say(message: str, *, logged: bool = False) -> None:
    """Tell the customer ``message`` (one or more lines, without the final newline).

    Written to ``sys.stderr`` when it is usable; otherwise logged at ERROR
    (unless the caller ``logged`` it already) and passed to the notifier.
    Never raises.
    """
    with _lock:
        if _write(message):
            return
    if not logged:
        logger.error("authforge_guard: %s", message)
    notifier = _notifier
    if notifier is not None:
        try:
            notifier(message)
        except Exception:  # a dialog that failed must not stop the exit that follows
            logger.exception("authforge_guard: the notifier failed")


def console_usable() -> bool:
    """True when ``sys.stderr`` is an open stream (it may still fail to write)."""
    stream = sys.stderr
    return stream is not None and not getattr(stream, "closed", False)


def _write(message: str) -> bool:
    """Write and flush ``message`` to ``sys.stderr``; False when it could not."""
    stream = sys.stderr  # looked up now: tests and GUI toolkits replace it
    if not console_usable():
        return False
    try:
        stream.write(message + "\n")
        stream.flush()
    except Exception:  # None-like objects, closed pipes, a broken replacement stream
        return False
    return True


def _forget_notifier_in_child() -> None:
    # The notifier shows a dialog through the parent's GUI loop, which the child does not
    # run; a line another thread was writing at the fork must not hold the lock forever.
    global _notifier, _lock
    _notifier = None
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_notifier_in_child)
