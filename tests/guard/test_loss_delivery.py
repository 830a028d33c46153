"""A revocation reaches licensed work: the main thread asleep, an asyncio task, a worker
thread; hooks first, in the documented order, then LicenseLost inside the block."""

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from authforge_guard import LicenseLost, licensed, requires_license


def revoke_soon(af, key, delay=0.3):
    timer = threading.Timer(delay, af.revoke, args=(key,))
    timer.start()
    return timer


def record_hooks(guard):
    order = []
    guard.on("revoked")(lambda event: order.append(("revoked-hook", event.code, event.fatal)))
    guard.on("expired")(lambda event: order.append(("expired-hook", event.code)))
    guard.on_lost(lambda event: order.append(("on_lost", event.code, event.session.active)))
    guard.add_cleanup(order.append, "cleanup-1")
    guard.add_cleanup(order.append, "cleanup-2")
    return order


EXPECTED_ORDER = [
    ("revoked-hook", "revoked", True),
    ("on_lost", "revoked", False),
    "cleanup-2",
    "cleanup-1",
]


def test_main_thread_asleep(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key)
    order = record_hooks(guard)
    started = time.monotonic()
    with pytest.raises(LicenseLost) as info:
        with licensed(guard=guard):
            revoke_soon(af, key)
            time.sleep(30)
    assert info.value.code == "revoked"
    assert time.monotonic() - started < 20  # the loss, not the end of the 30 s wait
    assert order == EXPECTED_ORDER
    assert guard.session is None


def test_main_thread_waiting_on_an_event(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key)
    never = threading.Event()
    started = time.monotonic()
    with pytest.raises(LicenseLost):
        with licensed(guard=guard):
            revoke_soon(af, key)
            never.wait(30)
    assert time.monotonic() - started < 20  # the loss, not the end of the 30 s wait


def test_signal_handler_is_restored_after_the_block(af, make_guard):
    import signal

    before = signal.getsignal(signal.SIGURG)
    guard = make_guard(license_key=af.create_license())
    with licensed(guard=guard):
        assert signal.getsignal(signal.SIGURG) is not before
    assert signal.getsignal(signal.SIGURG) is before


def test_main_thread_blocked_in_input_in_a_real_process(af, tmp_path):
    """input() on a pipe that never sends: the loss still ends the block (a child process)."""
    key = af.create_license()
    script = tmp_path / "app.py"
    script.write_text(
        textwrap.dedent("""
        import sys
        from authforge_guard import LicenseLost, licensed, Guard
        guard = Guard(heartbeat="online", heartbeat_interval=0.2, trust_environment=True)
        guard.add_cleanup(lambda: print("saved", flush=True))
        try:
            with licensed(guard=guard):
                print("ready", flush=True)
                input()
        except LicenseLost as exc:
            print("lost", exc.code, flush=True)
            sys.exit(0)
        sys.exit(5)
    """)
    )
    env = dict(os.environ, **af.environ(key), AUTHFORGE_HWID_OVERRIDE="child")
    child = subprocess.Popen(
        [sys.executable, str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        af.revoke(key)
        child.wait(timeout=20)  # stdin stays open: input() is still waiting when the loss lands
        out = child.stdout.read()
    finally:
        child.kill()
        child.stdin.close()
        child.stdout.close()
    assert child.returncode == 0
    assert out.split() == ["saved", "lost", "revoked"]


def test_asyncio_task_is_cancelled_into_license_lost(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key)
    order = record_hooks(guard)

    async def licensed_work():
        async with licensed(guard=guard):
            revoke_soon(af, key)
            await asyncio.sleep(30)

    async def bystander():
        await asyncio.sleep(1.5)
        return "untouched"

    async def main():
        work = asyncio.create_task(licensed_work())
        other = asyncio.create_task(bystander())
        started = time.monotonic()
        with pytest.raises(LicenseLost) as info:
            await work
        elapsed = time.monotonic() - started
        assert info.value.code == "revoked" and elapsed < 5
        if sys.version_info >= (3, 11):
            assert work.cancelling() == 0  # uncancel() restored the count
        assert await other == "untouched"

    asyncio.run(main())
    assert order == EXPECTED_ORDER


def test_worker_thread_sees_it_at_the_next_guarded_call(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key)
    order = record_hooks(guard)
    lost_event = threading.Event()
    guard.on_lost(lambda event: lost_event.set())
    outcome = {}

    @requires_license(guard=guard)
    def step():
        return "ok"

    def worker():
        try:
            with licensed(guard=guard):
                step()
                outcome["before"] = "ran"
                lost_event.wait(10)
                step()
                outcome["after"] = "should not run"
        except LicenseLost as exc:
            outcome["lost"] = exc.code

    thread = threading.Thread(target=worker)
    thread.start()
    revoke_soon(af, key)
    thread.join(10)
    assert outcome == {"before": "ran", "lost": "revoked"}
    assert order[:2] == EXPECTED_ORDER[:2]


def test_worker_thread_sees_it_at_block_exit(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key)
    lost_event = threading.Event()
    guard.on_lost(lambda event: lost_event.set())
    outcome = {}

    def worker():
        try:
            with licensed(guard=guard):
                lost_event.wait(10)
                outcome["body"] = "finished"
        except LicenseLost as exc:
            outcome["lost"] = exc.code

    thread = threading.Thread(target=worker)
    thread.start()
    revoke_soon(af, key)
    thread.join(10)
    assert outcome == {"body": "finished", "lost": "revoked"}


def test_hooks_run_even_if_one_raises_and_a_stuck_hook_times_out(af, make_guard, caplog):
    key = af.create_license()
    guard = make_guard(license_key=key, hook_timeout=0.3)
    ran = []

    @guard.on_lost
    def broken(event):
        raise RuntimeError("hook bug")

    @guard.on_lost
    def stuck(event):
        time.sleep(30)

    guard.add_cleanup(ran.append, "cleanup")
    started = time.monotonic()
    with pytest.raises(LicenseLost):
        with licensed(guard=guard):
            revoke_soon(af, key)
            time.sleep(30)
    assert ran == ["cleanup"]
    assert time.monotonic() - started < 20  # the loss, not the end of the 30 s wait
    assert "hook bug" in caplog.text and "still running" in caplog.text


def test_transient_failures_call_only_transient_hooks(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key)
    transient, lost = [], []
    guard.on_transient(lambda event: transient.append(event.code))
    guard.on_lost(lambda event: lost.append(event.code))
    with licensed(guard=guard) as session:
        af.stop()  # the server goes away: network_error, transient
        deadline = time.monotonic() + 5
        while not transient and time.monotonic() < deadline:
            time.sleep(0.05)
        assert session.active
    assert transient and set(transient) == {"network_error"} and lost == []


def test_warn_policy_carries_on(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key, on_lost="warn")
    lost = threading.Event()
    guard.on_lost(lambda event: lost.set())
    with licensed(guard=guard) as session:
        af.revoke(key)
        assert lost.wait(5)
        time.sleep(0.3)
    assert not session.active and session.lost_code == "revoked"


def test_user_code_sees_the_loss_only_after_the_hooks_and_hooks_may_call_guarded_code(
    af, make_guard, tmp_path
):
    key = af.create_license()
    guard = make_guard(license_key=key)
    events = []
    saved = tmp_path / "work.txt"

    @requires_license(guard=guard)
    def save(text):  # guarded, and called from the cleanup: it must still run
        saved.write_text(text)
        events.append("saved")

    @requires_license(guard=guard)
    def step():
        return None

    @guard.on_lost
    def slow_hook(event):
        time.sleep(0.5)
        events.append("hook-done")

    guard.add_cleanup(save, "the user's work")

    inside = threading.Event()

    def worker():
        try:
            with licensed(guard=guard):
                inside.set()
                while True:
                    step()
                    time.sleep(0.01)
        except LicenseLost:
            events.append("worker-lost")

    thread = threading.Thread(target=worker)
    thread.start()
    assert inside.wait(10)
    af.revoke(key)
    thread.join(10)
    assert events == ["hook-done", "saved", "worker-lost"]
    assert saved.read_text() == "the user's work"
