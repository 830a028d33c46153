"""Raising an exception in the main thread while it is blocked (sleep, input, a lock).

``_thread.interrupt_main`` only lands when the blocking call returns; a real
signal sent to the main thread with ``pthread_kill`` interrupts the call, and a
Python handler that raises ends it. The handler is installed only while
something needs it (reference counted), chains to the handler it replaced for
signals that are not ours, and is restored afterwards. Signals are process-wide,
so this module is the single owner of the handler.
"""

from __future__ import annotations

import collections
import logging
import os
import signal
import threading
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

logger = logging.getLogger("authforge_guard")

# Called in the main thread by the handler: an exception to raise there, or None.
Resolver = Callable[[], Optional[BaseException]]

_lock = threading.Lock()
_installed: Dict[int, Tuple[Any, int]] = {}  # signum -> (previous handler, users)
_requests: Deque[Resolver] = collections.deque()


def can_interrupt(signum: Optional[int]) -> bool:
    """True when ``signum`` can be delivered to the main thread on this platform."""
    return signum is not None and hasattr(signal, "pthread_kill")


def acquire(signum: int) -> bool:
    """Install our handler for ``signum`` (main thread only); False if that is impossible."""
    if threading.current_thread() is not threading.main_thread() or not can_interrupt(signum):
        return False
    with _lock:
        previous, users = _installed.get(signum, (None, 0))
        if users == 0:
            try:
                previous = signal.signal(signum, _handler)
            except (ValueError, OSError) as exc:
                logger.warning(
                    "authforge_guard: cannot use signal %s for interrupts: %s", signum, exc
                )
                return False
        _installed[signum] = (previous, users + 1)
    return True


def release(signum: int) -> None:
    """Undo one ``acquire``; the last one restores the previous handler (main thread only)."""
    with _lock:
        previous, users = _installed.get(signum, (None, 0))
        if users == 0:
            return
        if users > 1:
            _installed[signum] = (previous, users - 1)
            return
        if threading.current_thread() is not threading.main_thread():
            return  # cannot restore from here; keep it installed (it only chains)
        del _installed[signum]
    signal.signal(signum, previous if previous is not None else signal.SIG_DFL)


def installed(signum: Optional[int]) -> bool:
    with _lock:
        return signum is not None and _installed.get(signum, (None, 0))[1] > 0


def interrupt_main(signum: int, resolver: Resolver) -> bool:
    """Ask the main thread to raise whatever ``resolver`` returns, now, even if it is blocked.

    Returns False when our handler is not installed (nothing was sent).
    """
    if not installed(signum):
        return False
    _requests.append(resolver)
    main = threading.main_thread()
    if main.ident is None or not main.is_alive():
        return False
    signal.pthread_kill(main.ident, signum)
    return True


def _handler(signum: int, frame: Any) -> None:
    pending: List[BaseException] = []
    while _requests:
        try:
            resolver = _requests.popleft()
        except IndexError:
            break
        exc = resolver()
        if exc is not None:
            pending.append(exc)
    if pending:
        raise pending[0]
    with _lock:
        previous = _installed.get(signum, (None, 0))[0]
    if callable(previous):
        previous(signum, frame)


def _reset_after_fork() -> None:
    # Another thread may have held the lock at the fork; it does not exist in the child.
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
