"""What the Tk and Qt integrations share: the start-up flow, the reaction to a loss, live features.

Which thread runs what (the rule both toolkits keep):
- the GUI thread runs every line that touches a widget: the dialogs, ``save()``,
  the program's ``on_lost`` functions, enabling and disabling bound widgets,
  closing the windows;
- a worker thread runs every network call (the login, ``activate``): the GUI
  thread never waits for the license server;
- the library's own threads (hooks, heartbeats) only *post* to the GUI loop
  (``Desktop.post``), never touch a widget.

Where the program has no console (a windowed build: ``sys.stderr`` is
``None``), the lines the library writes for the customer (``_console.say``)
come to ``Desktop._notify`` and show in a dialog.

A loss reaches the GUI thread through ``_loops``: posted to the loop (no signal
while the loop is idle), and the toolkit's exception hook hands a
``LicenseLost`` raised inside a callback to the same reaction, never printed.

The reaction, once per loss: ``save()`` (on the GUI thread, stopped after
``hook_timeout`` seconds), the program's ``on_lost`` functions, the dialog
(what happened, where the work was saved, what to do), then the windows close
and the process exits with ``exit_code`` through the toolkit's normal exit, so
``finally`` blocks and ``atexit`` run; ``os._exit`` only if the program has not
ended ``exit_grace`` seconds later.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import TYPE_CHECKING, Any, Callable

from .._base import _console
from .._delivery import _interrupts, _loops
from .._delivery._hooks import CHANGED
from .._exceptions import ConfigurationError, LicenseError, LicenseLost
from .._guard._facade import Guard
from ._default_guard import get_guard

if TYPE_CHECKING:
    from .._guard._session import Session
    from ._licensed import licensed

logger = logging.getLogger("authforge_guard")

TITLE = "License"
CHECKING = "Checking your license..."
DEFAULT_SAVE_TIMEOUT = 30.0


class _SaveTimeout(BaseException):
    """Raised in ``save()`` on the GUI thread when it outlives its time (a
    ``BaseException``: the program's ``except Exception`` must not keep it)."""


class _Running:
    """The save, as the interrupt handler sees a block: live until it is done."""

    shield_depth = 0

    def __init__(self) -> None:
        self.done = threading.Event()

    @property
    def active(self) -> bool:
        return not self.done.is_set()


def check_install_arguments(
    guard: Any, save: Any, exit_code: Any, dialog: Any, activate: Any, where: str
) -> Guard:
    """The guard to use; a clear error for a wrong argument (never a crash later)."""
    if guard is not None and not isinstance(guard, Guard):
        raise TypeError(f"{where}(guard=...) takes a Guard, not {type(guard).__name__}")
    if save is not None and not callable(save):
        raise TypeError(f"{where}(save=...) takes a function (or None), not {type(save).__name__}")
    if isinstance(exit_code, bool) or not isinstance(exit_code, int) or not 0 <= exit_code <= 255:
        raise ValueError(f"{where}(exit_code=...) must be an int from 0 to 255; got {exit_code!r}")
    for name, value in (("dialog", dialog), ("activate", activate)):
        if not isinstance(value, bool):
            raise TypeError(f"{where}({name}=...) must be True or False; got {value!r}")
    return guard if guard is not None else get_guard()


class Desktop:
    """What ``install()`` returns: the live ``session``, ``on_lost(fn)``, ``bind_feature``.

    A toolkit subclass provides the widgets (``Toolkit`` methods below); this
    class decides what happens when.
    """

    def __init__(
        self,
        guard: Guard,
        *,
        save: Callable[[], Any] | None,
        exit_code: int,
        dialog: bool,
        activate: bool,
    ) -> None:
        self.guard = guard
        self._save = save
        self.exit_code = exit_code
        self._dialog = dialog
        self._activate = activate
        self._on_lost: list[Callable[[LicenseLost], Any]] = []
        self._bound: list[tuple[Any, str]] = []
        self._block: licensed | None = None
        self._session: Session | None = None
        self._lost = False
        self._closed = False
        self._loop: _loops.Loop | None = None
        self._activating = False

    # -- the public face ------------------------------------------------------
    @property
    def session(self) -> Session | None:
        """The live ``Session`` once the license is checked (``None`` before); its values
        follow heartbeats (``session.tier``)."""
        return self._session

    def on_lost(self, fn: Callable[[LicenseLost], Any]) -> Callable[[LicenseLost], Any]:
        """Run ``fn(lost)`` on the GUI thread when the license is lost, after ``save()`` and
        before the dialog. Usable as a decorator."""
        if not callable(fn):
            raise TypeError(f"on_lost() takes a function, not {type(fn).__name__}")
        self._on_lost.append(fn)
        return fn

    def bind_feature(self, widget: Any, name: str) -> Any:
        """Enable ``widget`` while the license grants ``name`` (a tier or a feature), disable
        it otherwise: now, on every "changed" event, and for good after a loss."""
        if not isinstance(name, str) or not name:
            raise ValueError("bind_feature() needs a feature or tier name, e.g. 'pro'")
        self._bound.append((widget, name))
        self._set_enabled(widget, self._grants(name))
        return widget

    def __repr__(self) -> str:
        return f"<{type(self).__name__} session={self._session!r}>"

    # -- what a toolkit provides ----------------------------------------------
    def post(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the GUI thread soon (thread-safe; wakes an idle loop)."""
        raise NotImplementedError

    def _call_soon(self, fn: Callable[[], None]) -> None:
        """On the GUI thread: run ``fn`` in a callback of its own, as soon as this one ends."""
        raise NotImplementedError

    def _set_enabled(self, widget: Any, enabled: bool) -> None:
        raise NotImplementedError

    def _show_checking(self) -> None:
        raise NotImplementedError

    def _hide_checking(self) -> None:
        raise NotImplementedError

    def _show_main(self) -> None:
        raise NotImplementedError

    def _tell(self, message: str) -> None:
        """A modal error dialog with ``message``."""
        raise NotImplementedError

    def _ask_retry(self, message: str) -> bool:
        """A modal dialog with Retry / Quit: True for Retry."""
        raise NotImplementedError

    def _ask_key(self, message: str) -> str | None:
        """The activation dialog: the key the customer entered, or ``None`` (Quit)."""
        raise NotImplementedError

    def _close_and_exit(self, code: int) -> None:
        """Close the windows and end the loop so the process exits with ``code``."""
        raise NotImplementedError

    # -- start-up ------------------------------------------------------------
    def _begin(self, key: str | None = None) -> None:
        """Show the checking window and log in on a worker thread (GUI thread)."""
        self._activating = key is not None
        self._show_checking()
        threading.Thread(
            target=self._login, args=(key,), name="authforge-gui-login", daemon=True
        ).start()

    def _login(self, key: str | None) -> None:
        # A worker thread: the network, never a widget.
        try:
            if key is not None:
                from ._activate import activate

                session = activate(key, guard=self.guard)
            else:
                session = self.guard.ensure()
        except (LicenseError, ConfigurationError) as exc:
            error: BaseException = exc
            self.post(lambda: self._start_failed(error))
        except Exception as exc:  # a bug or a broken setup: told, never a silent hang
            logger.exception("authforge_guard: the license check failed")
            error = LicenseError("unknown_error", f"license check failed: {type(exc).__name__}")
            self.post(lambda: self._start_failed(error))
        else:
            self.post(lambda: self._started(session))

    def _quit_checking(self) -> None:
        """The Quit button of the "Checking your license..." window: the customer will not
        wait for a server that does not answer; no verdict came, so exit 3 (unreachable)."""
        from ._refusal import EXIT_UNREACHABLE

        self._finish(EXIT_UNREACHABLE)

    def _started(self, session: Session) -> None:
        from ._licensed import licensed

        if self._closed:
            return
        if not session.active:
            self._start_failed(LicenseError(session.lost_code or "session_expired"))
            return
        block = licensed(guard=self.guard)
        try:
            block.__enter__()  # the session is live: no network here
        except (LicenseError, ConfigurationError) as exc:
            self._start_failed(exc)
            return
        self._block = block
        self._session = session
        self._hide_checking()
        self._refresh_features()
        self._show_main()

    def _start_failed(self, exc: BaseException) -> None:
        from .._words import MISSING_KEY, UNREACHABLE, kind_of
        from ._refusal import exit_code_for

        if self._closed:
            return
        kind = kind_of(exc)
        message = self._words(exc)
        if self._activate and (kind == MISSING_KEY or self._activating):
            prompt = message if kind != MISSING_KEY else "Enter your license key to start."
            key = self._ask_key(prompt)
            if key is not None:
                self._begin(key)
                return
        elif kind == UNREACHABLE:
            if self._ask_retry(message):
                self._begin()
                return
        else:
            self._tell(message)
        self._finish(exit_code_for(exc))

    # -- a loss --------------------------------------------------------------
    def _register_loop(self) -> None:
        """On the GUI thread, at install: losses of blocks on this thread come here."""
        signum = self.guard.settings.interrupt_signal if self.guard.settings.interrupt else None
        self._loop = _loops.register(self.post, self._react, signum=signum)
        self.guard.on(CHANGED)(self._changed_hook)
        _console.set_notifier(self._notify)

    def _notify(self, message: str) -> None:
        """``_console``'s notifier: a line for a customer who has no console (a windowed
        build), shown in a dialog. Any thread: on the GUI thread at once (an exit may
        follow the line), from elsewhere posted."""
        loop = self._loop
        if loop is not None and loop.thread_ident == threading.get_ident():
            self._show_notice(message)
        elif not self._closed:
            self.post(lambda: self._show_notice(message))

    def _show_notice(self, message: str) -> None:
        from ._refusal import PROGRESS_LINE

        session = self._session
        if self._closed or self._lost or message == PROGRESS_LINE:
            return  # our own window says "checking"; a loss has its own dialog
        if session is not None and not session.active:
            return  # the loss's line ("exiting with code N"): the loss dialog tells it
        self._tell(message)

    def _receive(self, exc: LicenseLost) -> None:
        """From the toolkit's exception hook (GUI thread): a callback raised ``LicenseLost``."""
        if self._loop is not None:
            self._loop.receive(exc)
        else:
            self._react(_loops.Delivery(exc, None))

    def _react(self, delivery: _loops.Delivery) -> None:
        """A loss reached the GUI thread (``Loop.take``): react once, in a callback of its
        own. ``take`` runs where the busy-loop interrupt is held off; the save must not be
        (its timeout is that interrupt), nor must the callback the loss interrupted."""
        if self._lost or self._closed:
            return
        self._lost = True
        self._call_soon(lambda: self._react_now(delivery))

    def _react_now(self, delivery: _loops.Delivery) -> None:
        exc = delivery.exc
        code = delivery.exit_code if delivery.exit_code is not None else self.exit_code
        try:
            for widget, _ in self._bound:
                with contextlib.suppress(Exception):
                    self._set_enabled(widget, False)
            saved = self._run_save()
            for fn in self._on_lost:
                try:
                    fn(exc)
                except Exception:
                    logger.exception("authforge_guard: on_lost function %r raised", fn)
            if self._dialog:
                try:
                    self._tell(self._words(exc, saved))
                except Exception:  # no dialog possible (a display gone): the exit still comes
                    logger.exception("authforge_guard: cannot show the loss dialog")
        finally:  # fail closed: whatever went wrong above (even a KeyboardInterrupt), exit
            self._finish(code)

    def _run_save(self) -> str | None:
        """``save()`` on this (the GUI) thread, stopped after the hook timeout; what to
        tell the customer about their work (``None``: no save function)."""
        save = self._save
        if save is None:
            return None
        timeout = self.guard.settings.hook_timeout or DEFAULT_SAVE_TIMEOUT
        running = _Running()
        loop = self._loop
        signum = loop.signum if loop is not None else None

        def stop() -> None:
            if running.active and signum is not None:
                _interrupts.interrupt_main(signum, _interrupts.Request(_SaveTimeout(), running))

        timer = threading.Timer(timeout, stop)
        timer.daemon = True
        timer.start()
        try:
            where = save()
        except _SaveTimeout:
            logger.error("authforge_guard: save() still running after %.1fs; stopped", timeout)
            return "Saving your work took too long and was stopped."
        except Exception as exc:
            logger.exception("authforge_guard: save() raised")
            return f"Your work could not be saved ({type(exc).__name__})."
        finally:
            running.done.set()
            timer.cancel()
        if isinstance(where, str) and where:
            return f"Your work was saved to {where}."
        return "Your work was saved."

    def _words(self, exc: BaseException, saved: str | None = None) -> str:
        from ._refusal import support_hint_of, user_message

        lines = user_message(exc, support_hint_of(self.guard)).split("\n")
        if saved:
            lines.insert(1, saved)
        return "\n\n".join(lines)

    def _finish(self, code: int) -> None:
        """Leave the block, stop listening, close the windows, exit with ``code``; the
        last resort (``os._exit``) if the program has not ended ``exit_grace`` later.

        A program already exiting then (its loop returned, its ``finally`` ran: the main
        thread has ended and the interpreter runs its ``atexit`` handlers, slowly on a
        loaded machine) gets one ``exit_grace`` more, so its cleanups run; a cleanup that
        hangs still ends with ``code`` then (fail closed: the bound is twice the grace)."""
        if self._closed:
            return
        self._shutdown()
        grace = self.guard.settings.exit_grace

        def last_resort() -> None:
            threading.Event().wait(grace)
            if not threading.main_thread().is_alive():
                logger.warning(
                    "authforge_guard: the program is still exiting after %.1fs; "
                    "its cleanups get %.1fs more",
                    grace,
                    grace,
                )
                threading.Event().wait(grace)
            logger.critical("authforge_guard: the program did not end within %.1fs", grace)
            _loops.exit_now(code)

        threading.Thread(target=last_resort, name="authforge-gui-exit", daemon=True).start()
        self._close_and_exit(code)

    def _shutdown(self) -> None:
        """The GUI is going away (a loss, or the program closed it): leave the block (its
        session logs out if nothing else uses it) and unregister the loop."""
        if self._closed:
            return
        self._closed = True
        block, self._block = self._block, None
        if block is not None:
            with contextlib.suppress(LicenseError):  # a lost block ends with its loss
                block.__exit__(None, None, None)
        loop, self._loop = self._loop, None
        if loop is not None:
            _loops.unregister(loop)
        if _console._notifier == self._notify:
            _console.set_notifier(None)

    # -- live features --------------------------------------------------------
    def _changed_hook(self, event: Any) -> None:
        # A hook thread: only post.
        if not self._closed:
            self.post(self._refresh_features)

    def _grants(self, name: str) -> bool:
        session = self._session
        return (
            session is not None and session.active and not self._lost and name in session.features
        )

    def _refresh_features(self) -> None:
        for widget, name in self._bound:
            try:
                self._set_enabled(widget, self._grants(name))
            except Exception:  # a widget the program destroyed
                logger.debug("authforge_guard: cannot update a bound widget", exc_info=True)
