"""A small Qt editor licensed with ``authforge_guard.qt.install``, run by the tests as a user
runs it; the Qt twin of ``tk_app.py`` (same APP_* variables, same JSON event lines).
APP_QT=PyQt6 runs it on PyQt6 instead of PySide6."""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from typing import Any

from app_events import (
    MODE,
    configure_from_environment,
    gap_meter,
    guarded_work,
    install_options,
    next_key,
    qt_answer_dialog,
    quit_after_ticks,
    refused_call,
    save_text,
    say,
    slow_atexit,
)

if os.environ.get("APP_QT") == "PyQt6":
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import (
        QApplication,
        QInputDialog,
        QPushButton,
        QTextEdit,
        QVBoxLayout,
        QWidget,
    )
else:
    from PySide6.QtCore import QTimer  # type: ignore[assignment]
    from PySide6.QtWidgets import (  # type: ignore[assignment]
        QApplication,
        QInputDialog,
        QPushButton,
        QTextEdit,
        QVBoxLayout,
        QWidget,
    )

from authforge_guard.qt import ACTIVATE_NAME, CHECKING_NAME, install

configure_from_environment()
app = QApplication(sys.argv)
window = QWidget()
layout = QVBoxLayout(window)
text = QTextEdit("the user's work")
layout.addWidget(text)
export = QPushButton("Export (enterprise)")
layout.addWidget(export)
compute_button = QPushButton("Compute")
layout.addWidget(compute_button)


def save() -> str:
    return save_text(text.toPlainText())


lic = install(
    app,
    window=window,
    save=save,
    **install_options(),  # type: ignore[arg-type]
)
lic.bind_feature(export, "enterprise")


def compute() -> None:
    say("busy")
    end = time.monotonic() + 10
    while time.monotonic() < end:
        sum(range(1000))
    say("computed")


compute_button.clicked.connect(compute)
state = {"ready": False, "changed": None}
meter: Any = gap_meter()
driver = QTimer()
driver.setInterval(50)


def drive() -> None:
    qt_answer_dialog()
    checking = [w for w in QApplication.topLevelWidgets() if w.objectName() == CHECKING_NAME]
    if quit_after_ticks(bool(checking) and checking[0].isVisible()):
        say("quit_checking")
        checking[0].findChild(QPushButton, "quit").click()
    modal = QApplication.activeModalWidget()
    if isinstance(modal, QInputDialog) and modal.objectName() == ACTIVATE_NAME:
        say("activation_dialog", label=modal.labelText())
        modal.setTextValue(next_key())
        modal.accept()
    if not state["ready"] and lic.session is not None and window.isVisible():
        state["ready"] = True
        say("ready", tier=lic.session.tier, export=export.isEnabled())
        if MODE == "busy":
            QTimer.singleShot(100, compute_button.click)
        if MODE == "refused_call":
            QTimer.singleShot(100, refused_call)
        if MODE == "guarded":
            guarded_timer.start()
        if MODE in ("idle", "busy", "guarded"):
            driver.stop()  # idle from here: nothing of ours runs until the license reacts
            return
    if state["ready"] and export.isEnabled() != state["changed"]:
        state["changed"] = export.isEnabled()
        if state["changed"]:
            say("export_state_enabled", tier=lic.session.tier)


def tick() -> None:
    meter.tick(QApplication.activeModalWidget() is not None)
    if lic.session is not None:
        ticker.stop()


@lic.on_lost
def lost(exc: BaseException) -> None:
    say("on_lost", code=getattr(exc, "code", None), thread=threading.current_thread().name)
    driver.start()  # the dialog comes next: look for it


guarded_timer = QTimer()
guarded_timer.setInterval(10)
guarded_timer.timeout.connect(guarded_work)  # after the loss: LicenseLost inside a slot
driver.timeout.connect(drive)
driver.start()
ticker = QTimer()
ticker.setInterval(20)
ticker.timeout.connect(tick)
if MODE == "tick":
    ticker.start()
atexit.register(slow_atexit)
atexit.register(lambda: say("atexit"))
try:
    code = app.exec()
    say("exec_returned", code=code)
    sys.exit(code)
finally:
    if MODE == "tick":
        say("ticks", longest_gap=meter.longest)
    say("finally", exc=repr(sys.exc_info()[1]))
