"""A machine that sleeps: the monotonic clock stands still during a suspend, the session clock
(CLOCK_BOOTTIME) does not. The scheduler re-measures on the session clock, so a check that
fell due during the suspend runs soon after waking, not a whole interval later."""

import threading
import time

from authforge_guard._base import _scheduler
from authforge_guard._base._clock import elapsed as real_elapsed


def test_a_check_due_during_a_suspend_runs_soon_after_waking(monkeypatch):
    suspended_for = [0.0]
    monkeypatch.setattr(_scheduler, "elapsed", lambda: real_elapsed() + suspended_for[0])
    monkeypatch.setattr(_scheduler, "WAIT_SLICE", 0.05)
    ticked = threading.Event()
    scheduler = _scheduler.HeartbeatScheduler(600.0, lambda: (ticked.set(), False)[1])
    scheduler.start()
    try:
        time.sleep(0.2)
        assert not ticked.is_set()  # 600 s interval: nothing due yet
        suspended_for[0] = 2000.0  # the laptop slept through the due time
        assert ticked.wait(5)
    finally:
        scheduler.stop()


def test_an_offline_expiry_due_during_a_suspend_fires_soon_after_waking(monkeypatch):
    suspended_for = [0.0]
    monkeypatch.setattr(_scheduler, "elapsed", lambda: real_elapsed() + suspended_for[0])
    monkeypatch.setattr(_scheduler, "WAIT_SLICE", 0.05)
    fired = threading.Event()
    timer = _scheduler.SessionTimer(600.0, fired.set, name="test-expiry")
    timer.start()
    time.sleep(0.2)
    assert not fired.is_set()
    suspended_for[0] = 2000.0
    assert fired.wait(5)


def test_a_cancelled_timer_never_fires():
    fired = threading.Event()
    timer = _scheduler.SessionTimer(0.2, fired.set, name="test-cancel")
    timer.start()
    timer.cancel()
    assert not fired.wait(0.5)
