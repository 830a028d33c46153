"""Run ``examples/tk_editor.py`` or ``examples/qt_editor.py`` as its user does, with the
test's hands added: the example's module runs unchanged (its ``__main__`` block aside,
which only starts the loop), then this starts the same loop with a driver that reports
when the editor is up and answers the loss dialog."""

from __future__ import annotations

import runpy
import sys
import time

from app_events import qt_answer_dialog, say, tk_answer_dialog

module = runpy.run_path(sys.argv[1], run_name="example")
up = {"said": False}

if "root" in module:  # the Tk editor
    root = module["root"]
    licensing = module["app"]
    gate = module["export_button"]

    def drive() -> None:
        tk_answer_dialog(root)
        if not up["said"] and licensing.session is not None and root.state() == "normal":
            up["said"] = True
            say("ready", tier=licensing.session.tier, export=str(gate["state"]))
        root.after(50, drive)

    root.after(50, drive)
    try:
        root.mainloop()
    finally:
        say("finally", t2=time.time())
else:  # the Qt editor
    from PySide6.QtCore import QTimer

    app = module["app"]
    licensing = module["licensing"]
    editor = module["editor"]

    def qt_drive() -> None:
        qt_answer_dialog()
        if not up["said"] and licensing.session is not None and editor.isVisible():
            up["said"] = True
            enabled = editor.export_action.isEnabled()
            say("ready", tier=licensing.session.tier, export=enabled)

    timer = QTimer()
    timer.timeout.connect(qt_drive)
    timer.start(50)
    try:
        sys.exit(app.exec())
    finally:
        say("finally", t2=time.time())
