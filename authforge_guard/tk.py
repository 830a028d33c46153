"""Licensing for a Tkinter app: ``install(root)`` and the app is licensed, from activation to exit.

::

    root = tkinter.Tk()
    app = install(root, save=editor.save)       # before mainloop()
    app.bind_feature(export_button, "pro")
    root.mainloop()

``install`` hides ``root`` and checks the license on a worker thread while a
small "Checking your license..." window shows; ``root`` appears once the
license is good. A loss is posted to Tk's loop through a pipe Tk watches
(``createfilehandler``), so an idle app wakes at once and no signal lands in
a Tk callback; see ``_gui`` for the order of the reaction and ``_loops`` for
the busy-callback fallback. Tk's ``report_callback_exception`` hands a
``LicenseLost`` from a callback to the same reaction instead of printing it.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import threading
import tkinter
from tkinter import messagebox, ttk
from typing import Any, Callable

from ._api._gui import CHECKING, TITLE, Desktop, check_install_arguments
from ._delivery import _interrupts
from ._exceptions import LicenseLost
from ._guard._facade import Guard

__all__ = ["TkLicense", "install"]

logger = logging.getLogger("authforge_guard")

_POLL_MS = 50  # where Tk cannot watch a pipe (Windows): how often the queue is read

#: Widget names a test (or an accessibility tool) can find the dialogs by.
CHECKING_NAME = "authforge_checking"
ACTIVATE_NAME = "authforge_activate"


class TkLicense(Desktop):
    """What ``install(root)`` returns (see ``Desktop``)."""

    def __init__(self, root: tkinter.Tk, guard: Guard, **options: Any) -> None:
        super().__init__(guard, **options)
        self.root = root
        self._queue: collections.deque[Callable[[], None]] = collections.deque()
        self._checking: tkinter.Toplevel | None = None
        self._pipe: tuple[int, int] | None = None
        self._previous_report = root.report_callback_exception
        self._open_wakeup()
        root.report_callback_exception = self._report
        root.bind("<Destroy>", self._destroyed, add="+")

    # -- posting to Tk's loop -------------------------------------------------
    def _open_wakeup(self) -> None:
        # Tk calls are only safe on Tk's thread; a byte on a pipe Tk watches wakes
        # its idle loop from any thread, without touching Tk.
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)
        try:
            self.root.tk.createfilehandler(read_fd, tkinter.READABLE, self._woken)
        except (AttributeError, tkinter.TclError):  # no file handlers here: poll the queue
            os.close(read_fd)
            os.close(write_fd)
            self.root.after(_POLL_MS, self._poll)
            return
        self._pipe = (read_fd, write_fd)

    def post(self, fn: Callable[[], None]) -> None:
        self._queue.append(fn)
        pipe = self._pipe
        if pipe is not None:
            with contextlib.suppress(BlockingIOError, OSError):  # full: a wake-up is pending
                os.write(pipe[1], b"\0")

    @_interrupts.protect  # see _loops: the fallback never lands in our own dispatch
    def _woken(self, fd: int, mask: int) -> None:
        if self._loop is not None:
            self._loop.dispatching()
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(fd, 512):
                pass
        self._run_posted()

    def _poll(self) -> None:
        self._run_posted()
        if not self._closed:
            self.root.after(_POLL_MS, self._poll)

    @_interrupts.protect
    def _run_posted(self) -> None:
        while True:
            try:
                fn = self._queue.popleft()
            except IndexError:
                return
            try:
                fn()
            except LicenseLost as exc:
                self._receive(exc)
            except SystemExit:
                raise  # our own exit (or the program's): ends mainloop()
            except Exception:
                logger.exception("authforge_guard: a posted GUI call raised")

    def _report(self, exc_type: Any, exc: Any, tb: Any) -> None:
        """Tk's ``report_callback_exception``: a loss is the loss, anything else as before."""
        if isinstance(exc, LicenseLost):
            self._receive(exc)
            return
        if self._lost and isinstance(exc, tkinter.TclError):
            # An outer callback (a button ``invoke`` from an ``after``) whose inner callback
            # ended in our exit: Tcl reports the unwinding as an empty TclError.
            logger.debug("authforge_guard: Tk error while closing after a loss: %r", exc)
            return
        self._previous_report(exc_type, exc, tb)

    def _destroyed(self, event: Any) -> None:
        if event.widget is self.root:
            self._shutdown()
            pipe, self._pipe = self._pipe, None
            if pipe is not None:
                with contextlib.suppress(tkinter.TclError, OSError):
                    self.root.tk.deletefilehandler(pipe[0])
                for fd in pipe:
                    with contextlib.suppress(OSError):
                        os.close(fd)

    def _call_soon(self, fn: Callable[[], None]) -> None:
        self.root.after(0, fn)

    # -- widgets --------------------------------------------------------------
    def _set_enabled(self, widget: Any, enabled: bool) -> None:
        widget.configure(state="normal" if enabled else "disabled")

    def _show_checking(self) -> None:
        if self._checking is not None:
            return
        window = tkinter.Toplevel(self.root, name=CHECKING_NAME)
        window.title(TITLE)
        window.resizable(False, False)
        ttk.Label(window, text=CHECKING, padding=20).pack()
        bar = ttk.Progressbar(window, mode="indeterminate", length=200, name="progress")
        bar.pack(padx=20, pady=(0, 20))
        bar.start(50)
        ttk.Button(window, text="Quit", command=self._quit_checking, name="quit").pack(pady=(0, 12))
        window.protocol("WM_DELETE_WINDOW", self._quit_checking)
        self._checking = window

    def _hide_checking(self) -> None:
        window, self._checking = self._checking, None
        if window is not None:
            with contextlib.suppress(tkinter.TclError):
                window.destroy()

    def _show_main(self) -> None:
        self.root.deiconify()

    def _parent(self) -> tkinter.Misc:
        # A dialog on a withdrawn root would be withdrawn with it (Tk's transient rule).
        if self._checking is not None:
            return self._checking
        return self.root

    def _tell(self, message: str) -> None:
        messagebox.showerror(TITLE, message, parent=self._parent())

    def _ask_retry(self, message: str) -> bool:
        return bool(messagebox.askretrycancel(TITLE, message, parent=self._parent()))

    def _ask_key(self, message: str) -> str | None:
        window = tkinter.Toplevel(self.root, name=ACTIVATE_NAME)
        window.title("Activate")
        window.resizable(False, False)
        ttk.Label(window, text=message, wraplength=360, padding=(16, 16, 16, 8)).pack()
        entry = ttk.Entry(window, width=40, name="key")
        entry.pack(padx=16, pady=4)
        answer: list[str | None] = [None]

        def ok(event: Any = None) -> None:
            text = entry.get().strip()
            if text:
                answer[0] = text
                window.destroy()

        buttons = ttk.Frame(window, padding=12)
        buttons.pack()
        ttk.Button(buttons, text="Activate", command=ok, name="ok").pack(side="left", padx=4)
        ttk.Button(buttons, text="Quit", command=window.destroy, name="quit").pack(side="left")
        window.bind("<Return>", ok)
        window.protocol("WM_DELETE_WINDOW", window.destroy)
        entry.focus_set()
        with contextlib.suppress(tkinter.TclError):  # not viewable yet: modal without a grab
            window.wait_visibility()
            window.grab_set()
        window.wait_window()
        return answer[0]

    def _close_and_exit(self, code: int) -> None:
        self._hide_checking()
        with contextlib.suppress(tkinter.TclError):
            self.root.destroy()
        # Raised from a Tk callback, SystemExit ends mainloop() with it: the program's
        # ``finally`` and ``atexit`` run, the process ends with ``code``.
        raise SystemExit(code)


def install(
    root: tkinter.Tk,
    *,
    guard: Guard | None = None,
    save: Callable[[], Any] | None = None,
    exit_code: int = 1,
    dialog: bool = True,
    activate: bool = True,
) -> TkLicense:
    """License the Tk app of ``root`` (call it on root's thread, before ``mainloop()``).

    ``save`` runs first on a loss (its return value, a path, is named in the
    dialog); ``exit_code`` is the process's exit status after a loss;
    ``dialog=False`` skips the loss dialog; ``activate=False`` shows no
    activation dialog when no key is set up (the start-up fails instead).
    """
    if not isinstance(root, tkinter.Tk):
        raise TypeError(f"install() takes the app's tkinter.Tk, not {type(root).__name__}")
    if threading.current_thread() is not threading.main_thread():
        logger.info("authforge_guard: Tk runs outside the main thread; no busy-loop interrupt")
    active = check_install_arguments(guard, save, exit_code, dialog, activate, "install")
    app = TkLicense(root, active, save=save, exit_code=exit_code, dialog=dialog, activate=activate)
    app._register_loop()
    root.withdraw()
    app._begin()
    return app
