"""What the test apps share: their JSON event lines and their licensing set-up from APP_*."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time

from authforge_guard import configure, licensed, requires_license

MODE = os.environ.get("APP_MODE", "idle")


def say(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, "t": time.time(), **fields}), flush=True)


class _LogEvents(logging.Handler):
    """The library's log lines as ``log`` events (the tests read what it decided)."""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        say("log", level=record.levelname, message=message)
        if "still exiting" in message:
            _still_exiting.set()


_still_exiting = threading.Event()


def slow_atexit() -> None:
    """APP_ATEXIT=slow: an atexit handler still running when ``exit_grace`` ends (it waits
    for the library's "still exiting" line); ``hangs``: one that never returns."""
    how = os.environ.get("APP_ATEXIT")
    if how is None:
        return
    say("atexit_started")
    if how == "hangs":
        threading.Event().wait()
    _still_exiting.wait(60)
    say("atexit_done")


def configure_from_environment() -> None:
    if os.environ.get("APP_NO_CONSOLE"):
        sys.stderr = None  # type: ignore[assignment]  # a windowed build (pythonw, .app)
    library = logging.getLogger("authforge_guard")
    library.setLevel(logging.INFO)
    library.addHandler(_LogEvents())
    configure(
        trust_environment=True,
        on_lost=os.environ.get("APP_ON_LOST", "raise"),
        exit_code=int(os.environ.get("APP_GUARD_EXIT_CODE", "1")),
        hook_timeout=float(os.environ.get("APP_HOOK_TIMEOUT", "30")),
        exit_grace=float(os.environ.get("APP_EXIT_GRACE", "10")),
    )


def save_text(text: str) -> str:
    """The app's ``save``: write the work where APP_SAVE_PATH says (APP_SAVE_HANGS: then
    hang, as a save to a dead network drive does)."""
    path = os.environ["APP_SAVE_PATH"]
    with open(path, "w") as f:
        f.write(text)
    if os.environ.get("APP_SAVE_HANGS"):
        say("save_hangs")
        time.sleep(600)
    say("saved", path=path, thread=threading.current_thread().name)
    return path


@requires_license
def guarded_work() -> str:
    """Licensed work a timer calls every few milliseconds (APP_MODE=guarded)."""
    return "done"


def install_options() -> dict[str, object]:
    return {
        "exit_code": int(os.environ.get("APP_EXIT_CODE", "1")),
        "dialog": os.environ.get("APP_SHOW_DIALOG", "1") == "1",
    }


def tk_messagebox(root: object) -> str | None:
    """The path of the Tk message box on the screen, if one is."""
    tk = root.tk  # type: ignore[attr-defined]

    def find(widget: str) -> str | None:
        for child in tk.splitlist(tk.call("winfo", "children", widget)):
            if str(child).endswith("__tk__messagebox"):
                return str(child)
            found = find(str(child))
            if found is not None:
                return found
        return None

    box = find(".")
    return box if box is not None and tk.call("winfo", "ismapped", box) else None


def tk_answer_dialog(root: object) -> bool:
    """If a Tk message box is up: report its text and press APP_DIALOG_BUTTON (``ok``)."""
    tk = root.tk  # type: ignore[attr-defined]

    box = tk_messagebox(root)
    if box is None:
        return False
    if _report_dialog(box, str(tk.call(f"{box}.msg", "cget", "-text"))):
        tk.call(f"{box}.{os.environ.get('APP_DIALOG_BUTTON', 'ok')}", "invoke")
    return True


_reported: list[object] = []
_dialogs_seen: list[str] = []


def gap_meter() -> object:
    """``tick(dialog_up)`` each timer tick: the longest gap between ticks while the app waits
    for the license server, up to the first dialog (the gap that ends with a dialog on the
    screen is the dialog being drawn, not the wait)."""

    class Meter:
        last: float | None = None
        longest = 0.0
        done = False

        def tick(self, dialog_up: bool) -> None:
            now = time.monotonic()
            self.done = self.done or dialog_up or bool(_dialogs_seen)
            if self.last is not None and not self.done:
                self.longest = max(self.longest, now - self.last)
            self.last = now

    return Meter()


def _report_dialog(box: object, text: str) -> bool:
    """Say ``dialog`` once per dialog; True when its button may be pressed now (at once,
    or once the file APP_PRESS_WHEN names exists: the test's signal)."""
    if box not in _reported:
        _reported.append(box)
        _dialogs_seen.append(text)
        say("dialog", text=text)
    gate = os.environ.get("APP_PRESS_WHEN")
    if gate and not os.path.exists(gate):
        return False
    _reported.remove(box)
    return True


def qt_answer_dialog() -> bool:
    """If a Qt message box is up: report its text and press APP_DIALOG_BUTTON (``ok``)."""
    if os.environ.get("APP_QT") == "PyQt6":
        from PyQt6.QtWidgets import QApplication, QMessageBox
    else:
        from PySide6.QtWidgets import QApplication, QMessageBox  # type: ignore[assignment]

    modal = QApplication.activeModalWidget()
    if not isinstance(modal, QMessageBox) or not modal.isVisible():
        return False
    if not _report_dialog(modal, modal.text()):
        return True
    buttons = {
        "ok": QMessageBox.StandardButton.Ok,
        "retry": QMessageBox.StandardButton.Retry,
        "cancel": QMessageBox.StandardButton.Close,
    }
    wanted = modal.button(buttons[os.environ.get("APP_DIALOG_BUTTON", "ok")])
    (wanted or modal.buttons()[0]).click()
    return True


def refused_call() -> None:
    """A click handler that opens a customer-facing block on a refused key
    (``on_refused="exit"``): its words go to the customer, then the program exits 1."""
    with licensed(os.environ["APP_OTHER_KEY"], on_refused="exit"):
        say("not_refused")


_typed: list[str] = []


def next_key() -> str:
    """The key to type into the activation dialog: APP_KEY's comma-separated keys in turn."""
    keys = os.environ["APP_KEY"].split(",")
    key = keys[min(len(_typed), len(keys) - 1)]
    _typed.append(key)
    return key


_quit_ticks: list[int] = []


def quit_after_ticks(checking: bool) -> bool:
    """APP_QUIT_CHECKING=N: True once the checking window has been seen by N driver ticks
    (the customer gives up waiting); then never again."""
    wanted = int(os.environ.get("APP_QUIT_CHECKING", "0"))
    if not wanted or not checking or len(_quit_ticks) > wanted:
        return False
    _quit_ticks.append(1)
    return len(_quit_ticks) == wanted
