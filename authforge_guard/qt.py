"""Licensing for a Qt app (PySide6, or PyQt6): ``install(app, window=w)`` and it is licensed.

::

    app = QApplication(sys.argv)
    window = Editor()
    lic = install(app, window=window, save=window.save)   # shows window once licensed
    lic.bind_feature(window.export_action, "pro")
    sys.exit(app.exec())                                   # the exit code of a loss

The binding is found at run time (PySide6 first, then PyQt6); neither is a
dependency of the package (``pip install "authforge-guard[qt]"``). A loss is
posted to Qt's loop as a queued signal of an object living on the GUI thread
(it wakes an idle ``app.exec()``; no signal lands in a slot), and
``sys.excepthook`` hands a ``LicenseLost`` from a slot to the same reaction
instead of printing it. After a loss the windows close and ``app.exec()``
returns ``exit_code``: end the program with ``sys.exit(app.exec())``, the Qt
idiom, so that code becomes the process's. See ``_gui`` for the order.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from typing import Any, Callable

from ._api._gui import CHECKING, TITLE, Desktop, check_install_arguments
from ._delivery import _interrupts
from ._exceptions import LicenseLost
from ._guard._facade import Guard

__all__ = ["QtLicense", "install"]

logger = logging.getLogger("authforge_guard")

CHECKING_NAME = "authforge_checking"
ACTIVATE_NAME = "authforge_activate"


def _binding() -> tuple[Any, Any, Any]:
    """``(QtCore, QtWidgets, Signal)`` of PySide6, else PyQt6 (imported only here)."""
    for package, signal_name in (("PySide6", "Signal"), ("PyQt6", "pyqtSignal")):
        try:
            core = importlib.import_module(f"{package}.QtCore")
            widgets = importlib.import_module(f"{package}.QtWidgets")
        except ImportError:
            continue
        return core, widgets, getattr(core, signal_name)
    raise ImportError(
        "authforge_guard.qt needs PySide6 or PyQt6: pip install 'authforge-guard[qt]'"
    )


def _poster_class(qt_core: Any, signal: Any) -> Any:
    class _Poster(qt_core.QObject):  # type: ignore[misc, name-defined, unused-ignore]
        """Lives on the GUI thread: emitting ``posted`` from any thread queues the call."""

        posted = signal(object)

        def __init__(self, run: Callable[[Callable[[], None]], None]) -> None:
            super().__init__()
            self.posted.connect(run, qt_core.Qt.ConnectionType.QueuedConnection)

    return _Poster


class QtLicense(Desktop):
    """What ``install(app)`` returns (see ``Desktop``)."""

    def __init__(self, app: Any, window: Any, guard: Guard, **options: Any) -> None:
        super().__init__(guard, **options)
        self.app = app
        self.window = window
        self._core, self._widgets, signal = _binding()
        self._poster = _poster_class(self._core, signal)(self._run)
        self._checking: Any = None
        self._previous_hook = sys.excepthook
        sys.excepthook = self._excepthook
        app.aboutToQuit.connect(self._about_to_quit)

    # -- posting to Qt's loop -------------------------------------------------
    def post(self, fn: Callable[[], None]) -> None:
        self._poster.posted.emit(fn)

    @_interrupts.protect  # see _loops: the fallback never lands in our own dispatch
    def _run(self, fn: Callable[[], None]) -> None:
        if self._loop is not None:
            self._loop.dispatching()
        try:
            fn()
        except LicenseLost as exc:
            self._receive(exc)
        except Exception:
            logger.exception("authforge_guard: a posted GUI call raised")

    def _excepthook(self, exc_type: Any, exc: Any, tb: Any) -> None:
        """``sys.excepthook`` (Qt calls it for an exception leaving a slot): a loss on the
        GUI thread is the loss; anything else goes to the hook that was there."""
        if isinstance(exc, LicenseLost) and threading.current_thread() is threading.main_thread():
            self._receive(exc)
            return
        self._previous_hook(exc_type, exc, tb)

    def _about_to_quit(self) -> None:
        self._shutdown()
        if sys.excepthook == self._excepthook:
            sys.excepthook = self._previous_hook

    def _call_soon(self, fn: Callable[[], None]) -> None:
        self._core.QTimer.singleShot(0, fn)

    # -- widgets --------------------------------------------------------------
    def _set_enabled(self, widget: Any, enabled: bool) -> None:
        widget.setEnabled(enabled)

    def _parent(self) -> Any:
        if self._checking is not None:
            return self._checking
        return self.window

    def _show_checking(self) -> None:
        if self._checking is not None:
            return
        w = self._widgets
        box = w.QWidget()
        box.setObjectName(CHECKING_NAME)
        box.setWindowTitle(TITLE)
        layout = w.QVBoxLayout(box)
        layout.addWidget(w.QLabel(CHECKING))
        bar = w.QProgressBar()
        bar.setRange(0, 0)  # busy
        layout.addWidget(bar)
        quit_button = w.QPushButton("Quit")
        quit_button.setObjectName("quit")
        quit_button.clicked.connect(self._quit_checking)
        layout.addWidget(quit_button)
        box.show()
        self._checking = box

    def _hide_checking(self) -> None:
        box, self._checking = self._checking, None
        if box is not None:
            box.close()
            box.deleteLater()

    def _show_main(self) -> None:
        if self.window is not None:
            self.window.show()

    def _tell(self, message: str) -> None:
        self._widgets.QMessageBox.critical(self._parent(), TITLE, message)

    def _ask_retry(self, message: str) -> bool:
        box = self._widgets.QMessageBox
        buttons = box.StandardButton.Retry | box.StandardButton.Close
        answer = box.critical(self._parent(), TITLE, message, buttons, box.StandardButton.Retry)
        return bool(answer == box.StandardButton.Retry)

    def _ask_key(self, message: str) -> str | None:
        dialog = self._widgets.QInputDialog(self._parent())
        dialog.setObjectName(ACTIVATE_NAME)
        dialog.setWindowTitle("Activate")
        dialog.setLabelText(message)
        dialog.setOkButtonText("Activate")
        dialog.setCancelButtonText("Quit")
        accepted = dialog.exec()
        text = str(dialog.textValue()).strip()
        dialog.deleteLater()
        return text if accepted and text else None

    def _close_and_exit(self, code: int) -> None:
        self._hide_checking()
        # quit() on the last window closed would make exec() return 0: ours decides.
        self.app.setQuitOnLastWindowClosed(False)
        self.app.closeAllWindows()
        self.app.exit(code)


def install(
    app: Any,
    *,
    window: Any = None,
    guard: Guard | None = None,
    save: Callable[[], Any] | None = None,
    exit_code: int = 1,
    dialog: bool = True,
    activate: bool = True,
) -> QtLicense:
    """License the Qt app ``app`` (call it on the GUI thread, before ``app.exec()``).

    ``window`` is shown once the license is good (do not ``show()`` it
    yourself) and parents the dialogs. ``save`` runs first on a loss (a path
    it returns is named in the dialog); ``app.exec()`` then returns
    ``exit_code``; ``dialog=False`` skips the loss dialog; ``activate=False``
    shows no activation dialog when no key is set up.
    """
    qt_core, _, _ = _binding()
    if not isinstance(app, qt_core.QCoreApplication):
        raise TypeError(f"install() takes the QApplication, not {type(app).__name__}")
    active = check_install_arguments(guard, save, exit_code, dialog, activate, "install")
    licensed_app = QtLicense(
        app, window, active, save=save, exit_code=exit_code, dialog=dialog, activate=activate
    )
    licensed_app._register_loop()
    if window is not None:
        window.hide()
    licensed_app._begin()
    return licensed_app
