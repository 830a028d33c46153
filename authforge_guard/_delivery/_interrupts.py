"""Raising an exception in the main thread while it is blocked (sleep, input, a lock).

``_thread.interrupt_main`` only lands when the blocking call returns; a real
signal sent to the main thread with ``pthread_kill`` interrupts the call, and a
Python handler that raises ends it.

Per platform (``wake``):
- POSIX (Linux, macOS): ``pthread_kill(main, SIGURG)``; a blocking system call
  (sleep, ``select``, a read) returns with EINTR and our handler raises.
- No ``pthread_kill`` (Windows): the signal is SIGINT (``default_interrupt_signal``)
  and ``_thread.interrupt_main(SIGINT)`` runs our handler at the main thread's
  next bytecode boundary (whether a main thread blocked in ``time.sleep`` wakes
  at once there is what the ``windows``-marked test in ``tests/shipping`` tells;
  otherwise the block ends when the call returns, and ``exit_grace`` escalation
  bounds it). Our handler chains to the program's for a real Ctrl-C, so
  ``KeyboardInterrupt`` still works. Python 3.9's ``interrupt_main()`` takes no
  number and always means SIGINT, which is the signal used there.

Nobody outside the code can switch delivery off: the signal is a code-only
setting (``_config``), and ``acquire`` unblocks it in the main thread (a
launcher can block a signal before ``exec``, and a blocked signal would stay
pending for as long as the block runs).

The handler is built like Trio's ``KeyboardInterrupt`` delivery
(``trio/_core/_ki.py``): it takes no lock and decides nothing. Whoever asks
for an interrupt works out beforehand what to raise and where it may land (a
``Request``: the exception and the block it is for); the handler only picks
requests up, and raises one when

- its block is still active and not inside ``shield()``, and
- the main thread is not running the library's own bookkeeping (a frame whose
  code was registered with ``protect``: a block's ``__enter__``/``__exit__``,
  a shield's, the guarded-call check). That code checks for a loss itself
  before it returns to the program; a loss that comes after its check is not
  dropped either: the request is kept and the signal sent again
  ``REDELIVER_AFTER`` seconds later, until it lands outside (a request is
  level-triggered, as Trio keeps a ``KeyboardInterrupt`` pending in protected
  code) or its block has ended;
- on Python 3.9, the main thread is not between a ``with`` body and the call
  of its ``__exit__`` (``_closing_a_with``): raised there, the exception
  would skip that ``__exit__``.

The handler is installed only while a block in the main thread needs it
(counted), chains to the handler it replaced for a signal that was not ours,
and on the way out puts that handler back only if ours is still the one
installed: a handler the program installed in the meantime is the program's.
"""

from __future__ import annotations

import _thread
import collections
import contextlib
import logging
import os
import sys
import threading
import time
from types import CodeType, FrameType
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_sig: Any
try:  # the C functions under ``signal``'s: no enum conversion on every block's entry,
    # and no enum classes built at import (``signal`` converts its constants to enums)
    import _signal as _sig  # type: ignore[import-not-found, no-redef, unused-ignore]
except ImportError:  # pragma: no cover - another interpreter
    import signal as _sig  # type: ignore[no-redef, unused-ignore]

logger = logging.getLogger("authforge_guard")


class Request:
    """An exception to raise in the main thread, for ``block`` (``None``: anywhere)."""

    __slots__ = ("block", "exc")

    def __init__(self, exc: BaseException, block: Any = None) -> None:
        self.exc = exc
        self.block = block  # has ``active`` and ``shield_depth``


_lock = threading.Lock()  # acquire/release only; never taken by the handler
_previous: dict[int, Any] = {}  # signum -> the handler ours replaced
_users: dict[int, int] = {}
_requests: collections.deque[Request] = collections.deque()  # append/popleft are atomic
_protected: set[CodeType] = set()


def protect(fn: F) -> F:
    """Mark ``fn``'s frames as library bookkeeping the handler must not interrupt."""
    code = getattr(fn, "__code__", None)
    if code is not None:
        _protected.add(code)
    return fn


def signal_number(name: str) -> int | None:
    """The number of the signal ``name`` (``"SIGURG"``) here, or None where it does not exist."""
    number = getattr(_sig, name, None)
    return int(number) if number is not None else None


def threads_take_signals() -> bool:
    """True where a signal can be sent to one thread (``pthread_kill``: POSIX)."""
    return hasattr(_sig, "pthread_kill") and hasattr(_sig, "SIGURG")


def can_interrupt(signum: int | None) -> bool:
    """True when ``signum`` can be delivered to the main thread on this platform: by
    ``pthread_kill``, else by ``_thread.interrupt_main`` (any signal on 3.10+, SIGINT on 3.9)."""
    if signum is None:
        return False
    if hasattr(_sig, "pthread_kill") or sys.version_info >= (3, 10):
        return True
    return signum == getattr(_sig, "SIGINT", None)


def wake(ident: int, signum: int) -> None:
    """Make the main thread (``ident``) run the handler of ``signum`` as soon as it can."""
    kill = getattr(_sig, "pthread_kill", None)
    if kill is not None:
        kill(ident, signum)
    elif sys.version_info >= (3, 10):
        _thread.interrupt_main(signum)  # type: ignore[arg-type, unused-ignore]
    else:  # pragma: no cover - 3.9 without pthread_kill (Windows): SIGINT, see can_interrupt
        _thread.interrupt_main()


def _unblock(signum: int) -> None:
    """Unblock ``signum`` in this (the main) thread where the platform has signal masks.

    A launcher may block it before ``exec`` (the mask is inherited): our
    ``pthread_kill`` would then stay pending until the block ends by itself.
    The mask is the calling thread's own, so no lock is needed (nor taken: the
    warning below runs the program's logging handlers).
    """
    mask = getattr(_sig, "pthread_sigmask", None)
    if mask is None:
        return
    try:
        before = mask(_sig.SIG_UNBLOCK, (signum,))
    except (OSError, ValueError):  # pragma: no cover - a signal the OS will not unblock
        return
    if signum in before:
        logger.warning(
            "authforge_guard: signal %s was blocked in the main thread (by whatever "
            "started the program); it is unblocked so that a lost license reaches the program",
            signum,
        )


def acquire(signum: int) -> bool:
    """Install our handler for ``signum`` (main thread only); False if that is impossible."""
    if threading.current_thread() is not threading.main_thread() or not can_interrupt(signum):
        return False
    _unblock(signum)
    with _lock:
        users = _users.get(signum, 0)
        if users == 0:
            try:
                previous = _sig.signal(signum, _handler)
            except (ValueError, OSError) as exc:
                logger.warning(
                    "authforge_guard: cannot use signal %s for interrupts: %s", signum, exc
                )
                return False
            if previous is not _handler:
                _previous[signum] = previous
        _users[signum] = users + 1
    return True


def release(signum: int) -> None:
    """Undo one ``acquire``; the last one puts the replaced handler back (main thread
    only), unless the program has installed its own since: that one stays."""
    with _lock:
        users = _users.get(signum, 0)
        if users == 0:
            return
        if users > 1:
            _users[signum] = users - 1
            return
        if threading.current_thread() is not threading.main_thread():
            return  # cannot be restored from here; ours stays installed (it only chains)
        del _users[signum]
        previous = _previous.pop(signum, None)
        current = _sig.signal(signum, previous if previous is not None else _sig.SIG_DFL)
        if current is not _handler:  # the program installed its own meanwhile: it stays
            _sig.signal(signum, current)


def ours(signum: int | None) -> bool:
    """True while our handler is the one installed for ``signum``."""
    return signum is not None and _sig.getsignal(signum) is _handler


def interrupt_main(signum: int, request: Request) -> bool:
    """Ask the main thread to raise ``request.exc`` now, even if it is blocked.

    Returns False (nothing sent) when our handler is not the installed one:
    not acquired, or the program took the signal over. The block then sees
    its loss at its exit and at its next guarded call.
    """
    if not ours(signum):
        return False
    main = threading.main_thread()
    if main.ident is None or not main.is_alive():
        return False
    _requests.append(request)
    wake(main.ident, signum)
    return True


def _protected_frame(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code in _protected:
            return True
        frame = frame.f_back
    return False


#: Python 3.9 runs signal handlers right after a ``with`` body, before the call of its
#: ``__exit__`` (bpo-29988; 3.10+ checks for signals only at calls and backward jumps):
#: an exception raised there by a handler that is not ours (a real Ctrl-C) skips that
#: ``__exit__``. Ours never raises there (``_closing_a_with``).
EXITS_CAN_BE_SKIPPED = sys.version_info < (3, 10)

# Python 3.9's numbers (its ``opcode.opmap``) of the instructions that end a ``with`` body.
_POP_BLOCK, _LOAD_CONST, _DUP_TOP, _CALL_FUNCTION = 87, 100, 4, 131


def _closing_a_with(frame: FrameType | None) -> bool:
    """True when ``frame`` has ended a ``with`` body and not yet called its ``__exit__``.

    Python 3.9 runs signal handlers right after the ``POP_BLOCK`` that ends a
    ``with`` body, before ``LOAD_CONST None; DUP_TOP; DUP_TOP; CALL_FUNCTION 3``
    calls ``__exit__`` (bpo-29988, fixed in 3.10, which checks for signals only
    at calls and backward jumps): an exception raised there skips ``__exit__``,
    and the ``licensed()`` block it ends would stay open for good (its session
    used, and the escalation, which sees the block still running, would end a
    program that did take the loss)."""
    if sys.version_info >= (3, 10) or frame is None:
        return False
    code = frame.f_code
    raw = code.co_code
    at = frame.f_lasti
    for start in range(at, max(at - 8, -2), -2):  # the POP_BLOCK at or just before ``at``
        ops = raw[start : start + 10]
        if (
            len(ops) == 10
            and ops[0] == _POP_BLOCK
            and (ops[2], ops[4], ops[6]) == (_LOAD_CONST, _DUP_TOP, _DUP_TOP)
            and code.co_consts[ops[3]] is None
            and (ops[8], ops[9]) == (_CALL_FUNCTION, 3)
        ):
            return True
    return False


#: How long a request held back in the library's own code waits for its next signal.
REDELIVER_AFTER = 0.05
_redelivering = False  # a thread is on its way to send the signal again


def _redeliver(signum: int, delay: float) -> None:
    """Send ``signum`` to this (the main) thread again ``delay`` seconds from now, from
    another thread: sent from the handler itself, it would run the handler again inside
    the same call, still at the same place. One such thread at a time."""
    global _redelivering
    if _redelivering:
        return
    _redelivering = True
    try:
        _thread.start_new_thread(_wake_again, (threading.get_ident(), signum, delay))
    except RuntimeError:  # no new thread (interpreter exit): the escalation signals again
        _redelivering = False


def _wake_again(ident: int, signum: int, delay: float) -> None:
    global _redelivering
    if delay:
        time.sleep(delay)
    _redelivering = False
    with contextlib.suppress(OSError, ValueError):  # the main thread has ended meanwhile
        wake(ident, signum)


def _handler(signum: int, frame: FrameType | None) -> None:
    mine = False
    chosen: Request | None = None
    held: Request | None = None
    while True:
        try:
            request = _requests.popleft()
        except IndexError:
            break
        mine = True
        if chosen is not None:
            continue
        block = request.block
        if block is None:
            chosen = request  # not tied to a block (SystemExit of on_lost="exit")
        elif block.active and not block.shield_depth:
            if not _protected_frame(frame):
                chosen = request
            elif held is None:
                held = request
    if chosen is not None and _closing_a_with(frame):
        # Not here (3.9): inside that ``__exit__`` (ours checks for the loss itself) or
        # just after it.
        _requests.appendleft(chosen)
        _redeliver(signum, 0.0)
        return
    if chosen is not None:
        raise chosen.exc
    if held is not None:
        # Library code is running: it checks for a loss before it returns, but one that
        # came after its check would be lost, and the program could then sleep on inside
        # a lost block. Kept, and signalled again soon (level-triggered, as Trio keeps a
        # KeyboardInterrupt that lands in protected code pending): once the block has
        # ended, or is shielded, the request is dropped.
        _requests.appendleft(held)
        _redeliver(signum, REDELIVER_AFTER)
        return
    if not mine:
        previous = _previous.get(signum)
        if callable(previous):
            previous(signum, frame)


def _reset_after_fork() -> None:
    # Another thread may have held the lock at the fork; it does not exist in the
    # child, and neither do the requests' senders.
    global _lock, _redelivering
    _lock = threading.Lock()
    _requests.clear()
    _redelivering = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
