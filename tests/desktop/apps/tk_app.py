"""A small Tk editor licensed with ``authforge_guard.tk.install``, run by the tests as a user
runs it. It prints one JSON line per event (``ready``, ``busy``, ``saved``, ``dialog``...);
APP_* variables choose what its built-in driver does (the test's hands on the GUI):

APP_MODE: ``idle`` (wait), ``busy`` (click Compute: 10 s of work in the click handler),
``tick`` (a 20 ms timer records its longest gap until the app is licensed or quits),
``changes`` (the driver keeps watching: bound widgets, dialogs);
APP_KEY: the keys to type into the activation dialog, in turn; APP_DIALOG_BUTTON: the button to
press in a message box (``ok``, ``retry``, ``cancel``).
"""

from __future__ import annotations

import atexit
import sys
import threading
import time
import tkinter
from typing import Any

from app_events import (
    MODE,
    configure_from_environment,
    gap_meter,
    guarded_work,
    install_options,
    next_key,
    quit_after_ticks,
    refused_call,
    save_text,
    say,
    slow_atexit,
    tk_answer_dialog,
    tk_messagebox,
)

from authforge_guard.tk import ACTIVATE_NAME, CHECKING_NAME, install

configure_from_environment()
root = tkinter.Tk()
text = tkinter.Text(root, width=40, height=5)
text.pack()
text.insert("1.0", "the user's work")


def save() -> str:
    return save_text(text.get("1.0", "end"))


app = install(
    root,
    save=save,
    **install_options(),  # type: ignore[arg-type]
)
export = app.bind_feature(tkinter.Button(root, text="Export (pro)", name="export"), "enterprise")
export.pack()


def compute() -> None:
    say("busy")
    end = time.monotonic() + 10
    while time.monotonic() < end:
        sum(range(1000))
    say("computed")  # never printed when the loss interrupts the handler


compute_button = tkinter.Button(root, text="Compute", command=compute, name="compute")
compute_button.pack()

state = {"ready": False, "changed": None}
meter: Any = gap_meter()


def drive() -> None:
    """The test's hands: look at the GUI, answer what it shows."""
    tk_answer_dialog(root)
    quit_button = f".{CHECKING_NAME}.quit"
    if quit_after_ticks(root.tk.call("winfo", "exists", quit_button)):
        say("quit_checking")
        root.nametowidget(quit_button).invoke()
    activation = f".{ACTIVATE_NAME}"
    if root.tk.call("winfo", "exists", activation) and root.tk.call(
        "winfo", "ismapped", activation
    ):
        say("activation_dialog")
        entry = root.nametowidget(f"{activation}.key")
        entry.insert(0, next_key())
        root.nametowidget(activation).nametowidget("!frame.ok").invoke()
    if not state["ready"] and app.session is not None and root.state() == "normal":
        state["ready"] = True
        say("ready", tier=app.session.tier, export=str(export["state"]))
        if MODE == "busy":
            root.after(100, compute_button.invoke)
        if MODE == "refused_call":
            root.after(100, refused_call)
        if MODE == "guarded":
            root.after(10, guarded_timer)
        if MODE in ("idle", "busy", "guarded"):
            return  # idle from here: nothing of ours runs until the license reacts
    if state["ready"] and str(export["state"]) != state["changed"]:
        state["changed"] = str(export["state"])
        if state["changed"] == "normal":
            say("export_state_enabled", tier=app.session.tier)
    root.after(50, drive)


def guarded_timer() -> None:
    guarded_work()  # after the loss: LicenseLost inside a Tk callback
    root.after(10, guarded_timer)


def tick() -> None:
    meter.tick(tk_messagebox(root) is not None)
    if app.session is None:
        root.after(20, tick)


@app.on_lost
def lost(exc: BaseException) -> None:
    say("on_lost", code=getattr(exc, "code", None), thread=threading.current_thread().name)
    root.after(50, drive)  # the dialog comes next: look for it


atexit.register(slow_atexit)
atexit.register(lambda: say("atexit"))
root.after(0, drive)
if MODE == "tick":
    root.after(20, tick)
try:
    root.mainloop()
    say("mainloop_returned")
finally:
    if MODE == "tick":
        say("ticks", longest_gap=meter.longest)
    say("finally", exc=repr(sys.exc_info()[1]))
