"""A thread that meets a loss while the hooks still run waits for them: LicenseLost comes
after the cleanup saved the work, so leaving the block can never cut a save short."""

import threading
import time

import pytest

from authforge_guard import LicenseLost, licensed, requires_license


def slow_save(saved):
    time.sleep(0.5)
    saved.append("work")


def test_a_guarded_call_during_the_hooks_raises_after_them(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key)
    saved = []
    guard.add_cleanup(slow_save, saved)

    @requires_license(guard=guard)
    def step():
        return "ok"

    with pytest.raises(LicenseLost):
        with licensed(guard=guard):
            af.revoke(key)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                step()  # the first call after the loss is marked must wait for the cleanup
                time.sleep(0.005)
    assert saved == ["work"]


def test_a_worker_leaving_its_block_during_the_hooks_waits_for_them(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key)
    saved, outcome = [], {}
    guard.add_cleanup(slow_save, saved)
    inside = threading.Event()

    def worker():
        try:
            with licensed(guard=guard) as session:
                inside.set()
                while session.active:
                    time.sleep(0.005)
        except LicenseLost as exc:
            outcome["lost"], outcome["saved"] = exc.code, list(saved)

    thread = threading.Thread(target=worker)
    thread.start()
    assert inside.wait(10)  # revoke only once the worker is inside its block
    af.revoke(key)
    thread.join(10)
    assert outcome == {"lost": "revoked", "saved": ["work"]}
