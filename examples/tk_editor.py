"""A Tkinter text editor licensed with one ``install(...)`` and one feature gate.

The editor starts once its license is checked (a small "Checking your license..."
window meanwhile; an activation dialog when no key is set up). If the license is
revoked while it runs, it saves the text, says so in a dialog and exits with code 3.
"Export" needs a "pro" license and follows tier changes while the editor runs.
Set up the environment as in examples/README.md, then:

    python examples/tk_editor.py
"""

from __future__ import annotations

import os
import tkinter
from tkinter import filedialog

from authforge_app import API_URL, APP_ID, PUBLIC_KEY  # pinned: see examples/README.md

from authforge_guard import configure
from authforge_guard.tk import install

configure(app_id=APP_ID, public_key=PUBLIC_KEY, api_base_url=API_URL)

SAVE_PATH = os.environ.get("EDITOR_SAVE_PATH", os.path.expanduser("~/editor-recovered.txt"))

root = tkinter.Tk()
root.title("Editor")
text = tkinter.Text(root, width=60, height=20)
text.pack(fill="both", expand=True)


def save() -> str:
    with open(SAVE_PATH, "w", encoding="utf-8") as f:
        f.write(text.get("1.0", "end-1c"))
    return SAVE_PATH


def export() -> None:
    path = filedialog.asksaveasfilename(parent=root, defaultextension=".txt")
    if path:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.get("1.0", "end-1c"))


export_button = tkinter.Button(root, text="Export...", command=export)
export_button.pack(side="right")

app = install(root, save=save, exit_code=3)  # licensing line 1
app.bind_feature(export_button, "pro")  # licensing line 2

if __name__ == "__main__":
    root.mainloop()
