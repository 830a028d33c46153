"""``authforge_guard.tk`` and ``authforge_guard.qt`` with real windows on an X server (Xvfb),
each app in a child process as its user runs it, against the local AuthForge server.

The numbered reproductions are issue 23's list. The apps print what happened as JSON
lines (``apps/tk_app.py``, ``apps/qt_app.py``); their built-in driver is the test's hands
(it reads a dialog's text and presses its button, types the key into the activation
dialog). Times are printed for the report (``-s``), never asserted.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from tests.examples.conftest import app_module

TK = pytest.param(
    "tk_app.py",
    id="tk",
    marks=pytest.mark.skipif(importlib.util.find_spec("tkinter") is None, reason="no tkinter"),
)
QT = pytest.param(
    "qt_app.py",
    id="qt",
    marks=pytest.mark.skipif(importlib.util.find_spec("PySide6") is None, reason="no PySide6"),
)
PYQT = pytest.param(
    "qt_app.py:PyQt6",
    id="pyqt6",
    marks=pytest.mark.skipif(importlib.util.find_spec("PyQt6") is None, reason="no PyQt6"),
)
APPS = [TK, QT, PYQT]
APPS_DIR = Path(__file__).resolve().parent / "apps"
HEARTBEAT = os.environ.get("DESKTOP_HEARTBEAT", "0.5")


def check_loss_reaction(app, tmp_path, *, exit_code, dialog=True):
    """What every loss must do: save first (on the GUI thread), then the program's on_lost,
    then the dialog, then the exit code, through ``finally`` and ``atexit``; no traceback."""
    code = app.finish()
    names = app.names()
    print("events:", names, "\nstderr:", app.stderr)  # shown in full when an assertion fails
    assert code == exit_code, (names, app.stderr)
    assert names.index("saved") < names.index("on_lost"), names
    assert app.wait_event("saved")["thread"] == "MainThread"
    assert app.wait_event("on_lost")["thread"] == "MainThread"
    assert "finally" in names and "atexit" in names, names
    assert (tmp_path / "saved.txt").read_text().startswith("the user's work")
    assert "Traceback" not in app.stderr, app.stderr
    assert "Exception in Tkinter callback" not in app.stderr, app.stderr
    if not dialog:
        assert "dialog" not in names
        return None
    assert names.index("on_lost") < names.index("dialog"), names
    text = app.wait_event("dialog")["text"]
    assert "This license was revoked." in text
    assert f"Your work was saved to {tmp_path / 'saved.txt'}." in text
    return text


def interrupted(app):
    """Whether the library interrupted the GUI thread's callback (its log line says so)."""
    return any("interrupting its callback" in e.get("message", "") for e in app.events)


def report(app, revoked_at, label):
    saved = app.wait_event("saved")["t"] - revoked_at
    shown = [e for e in app.events if e["event"] == "dialog"]
    shown_after = f"{shown[0]['t'] - revoked_at:.2f}s" if shown else "-"
    print(f"\n[{label}] revocation -> save done {saved:.2f}s, dialog shown {shown_after}")


@pytest.mark.parametrize("script", APPS)
def test_revoked_while_idle_saves_tells_and_exits_with_the_code(af, run_app, tmp_path, script):
    # 1 (Qt, idle: the loss never arrived) and 3 (Tk, idle: it waited for an X event);
    # 6 (the app chooses its exit code); 7 (save and on_lost on the GUI thread, in order).
    key = af.create_license({"tier": "pro"})
    app = run_app(script, key, mode="idle", exit_code=7)
    assert app.wait_event("ready")["tier"] == "pro"
    af.revoke(key)
    revoked_at = app.events[-1]["t"]
    check_loss_reaction(app, tmp_path, exit_code=7)
    assert not interrupted(app), "an idle loop was signalled"
    report(app, revoked_at, f"{script} idle, heartbeat {HEARTBEAT}s")


@pytest.mark.parametrize("script", APPS)
def test_revoked_during_a_long_click_handler_is_the_loss_not_a_traceback(
    af, run_app, tmp_path, script
):
    # 2: a loss inside a click handler was printed and ignored; 4: the Qt signal race.
    key = af.create_license({"tier": "pro"})
    app = run_app(script, key, mode="busy", exit_code=4)
    busy = app.wait_event("busy")
    af.revoke(key)
    check_loss_reaction(app, tmp_path, exit_code=4)
    assert "computed" not in app.names()
    assert interrupted(app), "the busy handler was not interrupted"
    report(app, busy["t"], f"{script} busy (10 s handler), heartbeat {HEARTBEAT}s")


@pytest.mark.parametrize("script", APPS)
def test_on_lost_exit_closes_the_app_through_its_loop(af, run_app, tmp_path, script):
    # 5: on_lost="exit" killed the GUI with os._exit after 10 s, no message, no finally.
    key = af.create_license({"tier": "pro"})
    app = run_app(script, key, mode="idle", on_lost="exit", guard_exit_code=5)
    app.wait_event("ready")
    af.revoke(key)
    check_loss_reaction(app, tmp_path, exit_code=5)


@pytest.mark.parametrize("script", APPS)
def test_a_slow_atexit_after_a_loss_runs_to_its_end(af, run_app, tmp_path, script):
    # Seen once under load (Tk): the app closed through its loop as asked, but the last
    # resort's os._exit, exit_grace after the reaction, cut its atexit handlers short. Here
    # an atexit handler is still running when exit_grace ends (it waits for the library's
    # "still exiting" line): a program already exiting gets its cleanups, within a bound.
    key = af.create_license({"tier": "pro"})
    app = run_app(script, key, mode="idle", exit_code=6, exit_grace=1, atexit="slow")
    app.wait_event("ready")
    af.revoke(key)
    check_loss_reaction(app, tmp_path, exit_code=6)
    names = app.names()
    assert names.index("atexit_started") < names.index("atexit_done"), names


@pytest.mark.parametrize("script", APPS)
def test_a_hung_atexit_after_a_loss_still_ends_the_program(af, run_app, tmp_path, script):
    # Fail closed: the extra time for a program that is exiting is bounded.
    key = af.create_license({"tier": "pro"})
    app = run_app(script, key, mode="idle", exit_code=6, exit_grace=1, atexit="hangs")
    app.wait_event("ready")
    af.revoke(key)
    check_loss_reaction(app, tmp_path, exit_code=6)
    assert "atexit_started" in app.names()
    assert "atexit_done" not in app.names()
    assert any("did not end" in e.get("message", "") for e in app.events), app.names()


@pytest.mark.parametrize("script", APPS)
def test_dialog_false_skips_the_dialog(af, run_app, tmp_path, script):
    key = af.create_license({"tier": "pro"})
    app = run_app(script, key, mode="idle", exit_code=6, show_dialog=0)
    app.wait_event("ready")
    af.revoke(key)
    check_loss_reaction(app, tmp_path, exit_code=6, dialog=False)


@pytest.mark.parametrize("script", APPS)
def test_a_tier_change_reaches_the_session_and_bound_widgets(af, run_app, script):
    # 9: tier changes needed polling and session.tier kept the old value.
    key = af.create_license({"tier": "pro"})
    app = run_app(script, key, mode="changes")
    ready = app.wait_event("ready")
    assert ready["export"] in (False, "disabled")  # bound to "enterprise"
    af.set_variables(key, {"tier": "enterprise"})
    changed = app.wait_event("export_state_enabled")
    assert changed["tier"] == "enterprise"
    app.kill()


@pytest.mark.parametrize("script", APPS)
def test_no_key_opens_the_activation_dialog_and_stores_the_key(af, run_app, tmp_path, script):
    key = af.create_license({"tier": "pro"})
    app = run_app(script, None, mode="changes", key=key)
    app.wait_event("activation_dialog")
    assert app.wait_event("ready")["tier"] == "pro"
    stored = list((tmp_path / "config" / "authforge").glob("*/license-key"))
    assert [p.read_text().strip() for p in stored] == [key]
    assert os.stat(stored[0]).st_mode & 0o077 == 0
    app.kill()


@pytest.mark.parametrize("script", APPS)
def test_a_refused_key_at_start_is_told_and_quits(af, run_app, script):
    key = af.create_license({"tier": "pro"})
    af.revoke(key)
    app = run_app(script, key, mode="changes")
    assert "This license was revoked." in app.wait_event("dialog")["text"]
    assert app.finish() == 1
    assert "ready" not in app.names()


@pytest.mark.parametrize("script", APPS)
def test_a_hanging_server_at_start_never_blocks_the_gui(af, run_app, silent_server, script):
    # 8: start-up blocked the GUI for 15-32 s. Here a 20 ms timer keeps ticking while the
    # login waits on a server that never answers; then Retry / Quit, and Quit exits 3.
    # DESKTOP_HANG_SECONDS=30 measures the 30 s hang (the report's figure).
    hang = os.environ.get("DESKTOP_HANG_SECONDS", "3")
    key = af.create_license({"tier": "pro"})
    app = run_app(
        script,
        key,
        mode="tick",
        dialog_button="cancel",
        environ={"AUTHFORGE_API_URL": silent_server, "AUTHFORGE_REQUEST_TIMEOUT": hang},
    )
    text = app.wait_event("dialog", timeout=60 + 10 * float(hang))["text"]
    assert "Could not reach the license server" in text
    assert app.finish() == 3
    gap = app.wait_event("ticks")["longest_gap"]
    waited = app.wait_event("dialog")["t"] - app.started
    print(f"\n[{script}] server hung {waited:.0f} s; longest GUI timer gap {gap * 1000:.0f} ms")


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    "example",
    [
        pytest.param("tk_editor.py", id="tk", marks=TK.marks),
        pytest.param("qt_editor.py", id="qt", marks=QT.marks),
    ],
)
def test_the_editor_examples_run_licensed_and_close_on_a_revocation(af, run_app, tmp_path, example):
    key = af.create_license({"tier": "pro"})
    saved = tmp_path / "recovered.txt"
    app = run_app(
        APPS_DIR / "run_example.py",
        key,
        # PYTHONPATH: the authforge_app module the examples import their trust settings from.
        environ={"EDITOR_SAVE_PATH": str(saved), "PYTHONPATH": app_module(af)},
        args=[str(EXAMPLES / example)],
    )
    ready = app.wait_event("ready")
    assert ready["tier"] == "pro" and ready["export"] in (True, "normal")
    af.revoke(key)
    assert app.finish() == 3, (app.names(), app.stderr)
    text = app.wait_event("dialog")["text"]
    assert "This license was revoked." in text and str(saved) in text
    assert saved.exists()
    assert "Traceback" not in app.stderr
    lines = [ln for ln in (EXAMPLES / example).read_text().splitlines() if "licensing line" in ln]
    print(f"\n[{example}] licensing lines: {len(lines)} (+ the import and configure())")


@pytest.mark.parametrize("script", APPS)
def test_a_loss_raised_by_a_guarded_call_inside_a_callback_is_the_loss(
    af, run_app, tmp_path, script
):
    # A timer calls licensed work every 10 ms: after the revocation that call raises
    # LicenseLost inside a Tk callback / Qt slot. It is the loss, never a printed traceback.
    key = af.create_license({"tier": "pro"})
    app = run_app(script, key, mode="guarded", exit_code=8)
    app.wait_event("ready")
    af.revoke(key)
    check_loss_reaction(app, tmp_path, exit_code=8)


@pytest.mark.parametrize("script", APPS)
def test_a_save_that_hangs_is_stopped_and_the_app_still_closes(af, run_app, tmp_path, script):
    key = af.create_license({"tier": "pro"})
    app = run_app(script, key, mode="idle", exit_code=9, save_hangs=1, hook_timeout=1)
    app.wait_event("ready")
    af.revoke(key)
    assert app.finish() == 9, (app.names(), app.stderr)
    names = app.names()
    assert names.index("save_hangs") < names.index("on_lost") < names.index("dialog"), names
    assert "Saving your work took too long and was stopped." in app.wait_event("dialog")["text"]
    assert "saved" not in names and "finally" in names and "atexit" in names


@pytest.mark.parametrize("script", APPS)
def test_without_a_console_the_customers_words_come_in_a_dialog(af, run_app, script):
    # A windowed build has no stderr: a refusal told "on the console" (on_refused="exit")
    # reaches the customer through the integration's dialog, then the program exits 1.
    key = af.create_license({"tier": "pro"})
    other = af.create_license({"tier": "pro"})
    af.revoke(other)
    app = run_app(script, key, mode="refused_call", no_console=1, other_key=other)
    app.wait_event("ready")
    assert "This license was revoked." in app.wait_event("dialog")["text"]
    assert app.finish() == 1
    assert "not_refused" not in app.names()


@pytest.mark.parametrize("script", APPS)
def test_a_wrong_key_in_the_activation_dialog_is_told_and_asked_again(
    af, run_app, tmp_path, script
):
    key = af.create_license({"tier": "pro"})
    app = run_app(script, None, mode="changes", key=f"NOT-A-REAL-KEY,{key}")
    app.wait_event("ready")
    asked = [e for e in app.events if e["event"] == "activation_dialog"]
    assert len(asked) == 2, app.names()
    if script == "qt_app.py":  # the Tk driver does not read the label
        assert "not valid" in asked[1]["label"]
    stored = list((tmp_path / "config" / "authforge").glob("*/license-key"))
    assert [p.read_text().strip() for p in stored] == [key]
    app.kill()


@pytest.mark.parametrize("script", APPS)
def test_unreachable_at_start_offers_retry_and_retry_starts_the_app(af, run_app, tmp_path, script):
    from tests.support.fault_proxy import Fault, FaultProxy

    key = af.create_license({"tier": "pro"})
    go = tmp_path / "retry-now"
    with FaultProxy(af.url) as proxy:
        proxy.arm(Fault.status(503), always=True)
        app = run_app(
            script,
            key,
            mode="changes",
            dialog_button="retry",
            press_when=go,
            environ={"AUTHFORGE_API_URL": proxy.url},
        )
        assert "Could not reach the license server" in app.wait_event("dialog")["text"]
        proxy.disarm()
        go.touch()
        assert app.wait_event("ready")["tier"] == "pro"
        app.kill()


@pytest.mark.parametrize("script", APPS)
def test_the_checking_window_quits_while_the_server_hangs(af, run_app, silent_server, script):
    key = af.create_license({"tier": "pro"})
    app = run_app(
        script,
        key,
        mode="changes",
        quit_checking=10,
        environ={"AUTHFORGE_API_URL": silent_server, "AUTHFORGE_REQUEST_TIMEOUT": "60"},
    )
    app.wait_event("quit_checking")
    assert app.finish() == 3, (app.names(), app.stderr)
    assert "ready" not in app.names() and "dialog" not in app.names()
