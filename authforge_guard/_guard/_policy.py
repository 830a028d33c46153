"""What a loss of the default license does once it is known: the ``on_lost`` policies.

A fatal loss runs in three steps: ``before_hooks``, the hooks, ``after_hooks``
(act). The session and its blocks are already marked lost, in one step, before
any of it (see ``LossPath.lose``); ``raises`` says whether those blocks raise.
- ``raise``: ``LicenseLost`` inside every ``licensed()`` block of the session;
- ``exit``: ``SystemExit(exit_code)`` in the main thread, so ``finally`` blocks
  and ``atexit`` run; the exit is logged at ERROR (and written to stderr when
  the program configured no logging), and the process ends with ``exit_code``
  even when a framework turns the interruption into a clean stop;
- ``warn``: a log line, and the program carries on without a license.
Per-user sessions (a key other than the default license's) always ``raise``:
one customer's revocation must not stop a service that serves many.
"""

from __future__ import annotations

import _thread
import atexit
import logging
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING

from .._base import _console
from .._delivery import _blocks, _interrupts, _loops
from ._config import GuardSettings

if TYPE_CHECKING:
    from .._delivery._blocks import Block
    from ._session import Loss

logger = logging.getLogger("authforge_guard")


class LossPolicy:
    """The ``warn`` policy, and the steps every policy has."""

    #: Whether blocks on a lost session raise ``LicenseLost``.
    raises = False

    def session_started(self) -> None:
        """A session began (in the thread that logged in)."""

    def session_ended(self) -> None:
        """The session was logged out."""

    def before_hooks(self, code: str) -> None:
        """The loss is known; the hooks are about to run."""

    def after_hooks(self, blocks: list[Block], loss: Loss) -> None:
        logger.warning("authforge_guard: continuing without a license (on_lost='warn')")

    def check_call(self) -> None:
        """Called by every guarded call that takes the slow path."""

    def close(self) -> None:
        """Give back what this policy holds in the process (tests; a discarded guard)."""

    def after_fork(self) -> None:
        """In a forked child."""


class RaisePolicy(LossPolicy):
    """``LicenseLost`` inside the blocks of the lost session (see ``_delivery._blocks``).

    Escalation (fail closed): a block in the main thread that the signal should
    have ended but that is still running ``exit_grace`` seconds later, outside
    ``shield()`` (the signal blocked or ignored again after the block opened, a
    C call that never returns to Python, a ``LicenseLost`` caught and ignored),
    gets the loss delivered once more; if it is still running after another
    ``exit_grace``, the process ends with ``exit_code`` (logged CRITICAL and told
    to the customer through ``_console``). Work that must finish after a loss
    belongs in a hook or in ``shield()``, which the escalation waits for.
    """

    raises = True

    def __init__(self, settings: GuardSettings | None = None) -> None:
        self.exit_code = settings.exit_code if settings is not None else 1
        self.grace = settings.exit_grace if settings is not None else 10.0

    def after_hooks(self, blocks: list[Block], loss: Loss) -> None:
        _blocks.interrupt(blocks, loss)
        main = [b for b in blocks if b.is_main and b.interrupts and b.active]
        if main and _loops.loop_of(main[0].thread_ident) is None:
            # (A GUI loop in the main thread has its own reaction and fallback: _loops.)
            threading.Thread(
                target=self._escalate, args=(main, loss), name="authforge-escalate", daemon=True
            ).start()

    def _escalate(self, blocks: list[Block], loss: Loss) -> None:
        """The escalation described in the class docstring (a thread of its own)."""
        for last in (False, True):
            time.sleep(self.grace)
            while any(b.active and b.shield_depth for b in blocks):
                time.sleep(min(self.grace, 1.0))  # a shield defers; it ends by itself
            if not any(b.active for b in blocks):
                return
            if not last:
                logger.warning(
                    "authforge_guard: the main thread has not taken the loss of its license "
                    "within %.1fs; delivering it again",
                    self.grace,
                )
                _blocks.interrupt([b for b in blocks if b.active], loss)
        message = (
            f"license lost ({loss.code}) and the program did not stop; "
            f"exiting with code {self.exit_code}"
        )
        # Where the main thread was held, for whoever reads the log: a program that
        # ignores the loss, a C call that never returns, or (a bug of ours) library code.
        logger.critical("authforge_guard: %s; the main thread was at:\n%s", message, _main_stack())
        _console.say(f"authforge_guard: {message}", logged=True)
        _loops.exit_now(self.exit_code)


class ExitPolicy(LossPolicy):
    """``SystemExit(exit_code)`` in the main thread after the hooks, with a watchdog."""

    def __init__(self, settings: GuardSettings) -> None:
        self.exit_code = settings.exit_code
        self.grace = settings.exit_grace
        # Without interrupts: cooperative, at the main thread's next guarded call.
        self.signum = settings.interrupt_signal if settings.interrupt else None
        self.cooperative = not settings.interrupt
        self._requested = False
        self._handler = False
        self._for_life = False
        # Made in the main thread (a program's set-up, an ASGI app's module): take the signal
        # now, for the Guard's life. A server that logs in from a worker thread (uvicorn, an
        # executor) could not later, and the main thread would only get a simulated Ctrl-C.
        self.session_started()
        self._for_life = self._handler

    def session_started(self) -> None:
        # The handler can only be installed from the main thread: at login.
        if self.signum is not None and not self._handler:
            self._handler = _interrupts.acquire(self.signum)

    def session_ended(self) -> None:
        if self._handler and self.signum is not None and not self._for_life:
            _interrupts.release(self.signum)
            self._handler = False

    def before_hooks(self, code: str) -> None:
        self._requested = True  # a guarded call during the hooks waits, then exits
        message = f"license lost ({code}); exiting with code {self.exit_code}"
        logger.error("authforge_guard: %s", message)
        if not _logging_configured() or not _console.console_usable():
            # A supervisor (systemd, Kubernetes, uvicorn's parent) must see why; with no
            # console at all (a windowed build), the GUI's notifier shows it.
            _console.say(f"authforge_guard: {message}", logged=True)
        # Whatever the main thread makes of the interruption (uvicorn and gunicorn
        # turn it into a clean shutdown with status 0), the process ends with ours.
        atexit.register(self._exit_at_shutdown)

    def after_hooks(self, blocks: list[Block], loss: Loss) -> None:
        main = threading.main_thread().ident
        if main is not None and _loops.loop_of(main) is not None:
            # A GUI loop in the main thread closes the app and exits with our code itself
            # (see _loops): no forced status at exit, so every atexit handler runs. Taken
            # back *before* the loss is posted: the app may close and reach its atexit
            # handlers before this thread runs again, and ours, registered last, would run
            # first and end the process before the program's own.
            atexit.unregister(self._exit_at_shutdown)
            if _loops.exit_through_loop(loss, self.exit_code, self.grace):
                return
            atexit.register(self._exit_at_shutdown)  # the loop ended meanwhile
        threading.Thread(target=self._watchdog, name="authforge-exit-watchdog", daemon=True).start()
        if self.cooperative:
            return
        request = _interrupts.Request(SystemExit(self.exit_code))
        if self.signum is None or not _interrupts.interrupt_main(self.signum, request):
            # No handler of ours: the program's SIGINT handling (a framework's clean
            # shutdown, or KeyboardInterrupt); the atexit hook sets the status.
            _thread.interrupt_main()

    def check_call(self) -> None:
        if self._requested and threading.current_thread() is threading.main_thread():
            raise SystemExit(self.exit_code)

    def close(self) -> None:
        """Give back what this policy holds in the process: its signal handler and, once a
        loss asked for it, the exit status at interpreter exit (tests; a discarded guard)."""
        atexit.unregister(self._exit_at_shutdown)
        self._for_life = False
        self.session_ended()

    def _exit_at_shutdown(self) -> None:
        _loops.exit_now(self.exit_code)

    def after_fork(self) -> None:
        self._handler = self._for_life = False

    def _watchdog(self) -> None:
        time.sleep(self.grace)
        logger.critical("authforge_guard: did not stop within %.1fs; exiting now", self.grace)
        _loops.exit_now(self.exit_code)


def _logging_configured() -> bool:
    """True when a record of ours reaches a real handler (not only our NullHandler)."""
    current: logging.Logger | None = logger
    while current is not None:
        if any(not isinstance(h, logging.NullHandler) for h in current.handlers):
            return True
        if not current.propagate:
            return False
        current = current.parent
    return False


def policy_for(settings: GuardSettings) -> LossPolicy:
    """The strategy ``settings.on_lost`` names."""
    if settings.on_lost == "raise":
        return RaisePolicy(settings)
    if settings.on_lost == "exit":
        return ExitPolicy(settings)
    return LossPolicy()


def _main_stack() -> str:
    """The main thread's current stack, innermost last (file, line, function and source
    line: code, never a variable's value)."""
    main = threading.main_thread().ident
    frame = sys._current_frames().get(main) if main is not None else None
    return "".join(traceback.format_stack(frame)) if frame is not None else "(not running)\n"
