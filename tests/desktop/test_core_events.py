"""The core pieces the desktop integrations stand on, against the local server:
a loss posted to a registered loop (run on the loop's thread, no signal), and the
"changed" event when a heartbeat brings new license variables."""

from __future__ import annotations

import queue
import subprocess
import sys
import textwrap
import threading

from authforge_guard import LicenseLost, licensed
from authforge_guard._delivery._loops import Delivery, register, unregister
from tests.support.waiting import wait_for


def test_a_loss_is_posted_to_the_loop_of_the_blocks_thread(af, make_guard):
    key = af.create_license({"tier": "pro"})
    guard = make_guard(license_key=key)
    reactions: list[tuple[str, int, str]] = []
    ready = threading.Event()
    done = threading.Event()
    posted: queue.Queue = queue.Queue()

    def run_loop() -> None:
        def react(delivery: Delivery) -> None:
            reactions.append((delivery.exc.code, threading.get_ident(), "reacted"))
            done.set()

        loop = register(posted.put, react, signum=None)
        try:
            with licensed(guard=guard):
                ready.set()
                while not done.is_set():  # the loop: run what was posted, nothing else
                    posted.get(timeout=30)()
        except LicenseLost as exc:  # the block still ends with the loss: fail closed
            reactions.append((exc.code, threading.get_ident(), "block exit"))
        finally:
            unregister(loop)

    thread = threading.Thread(target=run_loop)
    try:
        thread.start()
        assert ready.wait(30)
        af.revoke(key)
        thread.join(30)
    finally:
        done.set()
        posted.put(lambda: None)
        thread.join(30)
    assert not thread.is_alive()
    assert reactions == [
        ("revoked", thread.ident, "reacted"),
        ("revoked", thread.ident, "block exit"),
    ]


def test_a_heartbeat_with_new_variables_refreshes_the_session_and_runs_changed_hooks(
    af, make_guard
):
    key = af.create_license({"tier": "free"})
    guard = make_guard(license_key=key)
    events = []
    seen = threading.Event()

    @guard.on("changed")
    def changed(event):
        events.append((event.reason, event.code, event.fatal, event.session.tier))
        seen.set()

    session = guard.ensure()
    assert session.tier == "free"
    assert not guard.has_feature("pro")
    af.set_variables(key, {"tier": "pro"})
    assert seen.wait(30)
    assert events[0] == ("changed", "changed", False, "pro")
    assert session.tier == "pro"
    assert guard.has_feature("pro")
    assert session.active


def test_an_unchanged_heartbeat_runs_no_changed_hook(af, make_guard):
    key = af.create_license({"tier": "pro"})
    guard = make_guard(license_key=key)
    events = []
    guard.on("changed")(events.append)
    guard.ensure()
    wait_for(lambda: af.stats()["licenses"][key]["heartbeats"] >= 3, timeout=30)
    assert events == []


def test_activate_with_the_right_key_right_after_a_wrong_one_succeeds(
    af, make_guard, tmp_path, monkeypatch
):
    # The activation dialog's second try: the refusal remembered for the wrong stored key
    # (30 s) must not answer for the right one.
    from authforge_guard import LicenseError
    from authforge_guard._api._activate import activate
    from authforge_guard._guard._keystore import load_key

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("AUTHFORGE_LICENSE_KEY", raising=False)
    key = af.create_license({"tier": "pro"})
    guard = make_guard()
    try:
        activate("NOT-A-REAL-KEY", guard=guard)
    except LicenseError as exc:
        assert exc.code == "invalid_key"
    else:
        raise AssertionError("a wrong key was accepted")
    assert load_key(guard.settings.app_id) is None
    session = activate(key, guard=guard)
    assert session.active and session.tier == "pro"
    assert load_key(guard.settings.app_id) == key


# A main thread that runs an event loop (as Tk's and Qt's do) with on_lost="exit": the
# loss thread posts the loss, and only afterwards (the bug) took back its exit-status hook.
# Its ``post`` returns only once the program's own atexit handler has started: the loss
# thread got no CPU until the app had closed (seen once under load, Tk: code 5, no "atexit").
EXIT_THROUGH_A_SLOW_POST = textwrap.dedent("""
    import atexit, queue, threading
    from authforge_guard.testing import LocalAuthForge
    from authforge_guard._delivery._loops import register

    exiting = threading.Event()

    def program_atexit():
        exiting.set()
        print("atexit", flush=True)

    atexit.register(program_atexit)
    posted = queue.Queue()

    def post(fn):
        posted.put(fn)
        exiting.wait(30)  # the loss thread resumes only when the program is exiting

    def react(delivery):  # the app's reaction: it closes and exits with the loss's code
        print("reacted", flush=True)
        raise SystemExit(delivery.exit_code)

    with LocalAuthForge(heartbeat_rate_limit=None) as af:
        key = af.create_license()
        guard = af.guard(license_key=key, heartbeat="online", heartbeat_interval=0.1,
                         on_lost="exit", exit_code=5, hwid_override="exit-through-loop")
        register(post, react, signum=None)
        guard.ensure()
        af.revoke(key)
        try:
            while True:
                posted.get(timeout=60)()
        finally:
            print("finally", flush=True)
""")


def test_on_lost_exit_through_a_loop_runs_the_programs_atexit_even_if_the_post_returns_late():
    result = subprocess.run(
        [sys.executable, "-c", EXIT_THROUGH_A_SLOW_POST],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 5, result.stderr[-2000:]
    assert result.stdout.split() == ["reacted", "finally", "atexit"], result.stderr[-2000:]
