"""A Qt (PySide6) text editor licensed with one ``install(...)`` and one feature gate.

The window appears once the license is checked (a small "Checking your license..."
window meanwhile; an activation dialog when no key is set up). If the license is
revoked while it runs, it saves the text, says so in a dialog and exits with code 3.
"Export" needs a "pro" license and follows tier changes while the editor runs.
Set up the environment as in examples/README.md, then:

    pip install "authforge-guard[qt]"
    python examples/qt_editor.py
"""

from __future__ import annotations

import os
import sys

from authforge_app import API_URL, APP_ID, PUBLIC_KEY  # pinned: see examples/README.md
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QMainWindow,
    QPlainTextEdit,
    QToolBar,
)

from authforge_guard import configure
from authforge_guard.qt import install

configure(app_id=APP_ID, public_key=PUBLIC_KEY, api_base_url=API_URL)

SAVE_PATH = os.environ.get("EDITOR_SAVE_PATH", os.path.expanduser("~/editor-recovered.txt"))


class Editor(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Editor")
        self.text = QPlainTextEdit()
        self.setCentralWidget(self.text)
        toolbar = QToolBar()
        self.addToolBar(toolbar)
        self.export_action = toolbar.addAction("Export...")
        self.export_action.triggered.connect(self.export)

    def save(self) -> str:
        with open(SAVE_PATH, "w", encoding="utf-8") as f:
            f.write(self.text.toPlainText())
        return SAVE_PATH

    def export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export")
        if path:
            with open(path, "w", encoding="utf-8") as f:
                f.write(self.text.toPlainText())


app = QApplication(sys.argv)
editor = Editor()
licensing = install(app, window=editor, save=editor.save, exit_code=3)  # licensing line 1
licensing.bind_feature(editor.export_action, "pro")  # licensing line 2

if __name__ == "__main__":
    sys.exit(app.exec())
