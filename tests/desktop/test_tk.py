"""``authforge_guard.tk`` with real Tk windows under Xvfb, the apps in child processes."""

from __future__ import annotations

import pytest

pytest.importorskip("tkinter")


def check_loss_reaction(app, af, key, tmp_path, *, exit_code):
    """What every loss must do: save first, then the dialog, then the exit code, through
    ``finally`` and ``atexit``; no traceback printed."""
    code = app.finish()
    names = app.names()
    assert code == exit_code, (names, app.stderr)
    assert names.index("saved") < names.index("on_lost") < names.index("dialog"), names
    dialog = app.wait_event("dialog")["text"]
    assert "This license was revoked." in dialog
    assert f"Your work was saved to {tmp_path / 'saved.txt'}." in dialog
    assert "finally" in names and "atexit" in names
    assert (tmp_path / "saved.txt").read_text().startswith("the user's work")
    assert "Traceback" not in app.stderr and "Exception in Tkinter callback" not in app.stderr
    return dialog


def test_revoked_while_idle_saves_tells_and_exits_with_the_code(af, run_app, tmp_path):
    # Reproductions 1 and 3: an idle loop gets the loss at once (no X event, no signal).
    key = af.create_license({"tier": "pro"})
    app = run_app("tk_app.py", key, mode="idle", exit_code=7)
    ready = app.wait_event("ready")
    assert ready["tier"] == "pro"
    af.revoke(key)
    check_loss_reaction(app, af, key, tmp_path, exit_code=7)


def test_revoked_during_a_long_click_handler_interrupts_it_without_a_traceback(
    af, run_app, tmp_path
):
    # Reproduction 2: the loss inside a click handler is the loss, not a printed traceback.
    key = af.create_license({"tier": "pro"})
    app = run_app("tk_app.py", key, mode="busy", exit_code=4)
    app.wait_event("busy")
    af.revoke(key)
    check_loss_reaction(app, af, key, tmp_path, exit_code=4)
    assert "computed" not in app.names()
