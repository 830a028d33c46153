"""Issue 18: a Guard the program no longer references stops its heartbeats (the timer
thread holds it weakly) and its sessions end."""

import gc
import time
import weakref

from authforge_guard import Guard
from tests.support.waiting import wait_for


def heartbeats(af, key):
    return af.stats()["licenses"][key]["heartbeats"]


def test_a_dropped_guard_stops_heartbeating(af):
    key = af.create_license()
    guard = Guard(
        app_id=af.app_id,
        app_secret=af.app_secret,
        public_key=af.public_key,
        api_base_url=af.url,
        license_key=key,
        heartbeat="online",
        heartbeat_interval=0.05,
        hwid_override="dropped",
    )
    session = guard.ensure()
    deadline = time.monotonic() + 5
    while heartbeats(af, key) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert heartbeats(af, key) >= 2
    ref = weakref.ref(guard)
    del guard
    # Nothing scheduled keeps it alive; a check in flight on a worker thread holds it until
    # its request returns (then the next timer call finds it gone).
    assert wait_for(lambda: gc.collect() >= 0 and ref() is None)
    assert not session.active and session.lost_code == "logout"
    time.sleep(0.2)  # a check already in flight may still land
    settled = heartbeats(af, key)
    time.sleep(0.5)  # ten intervals
    assert heartbeats(af, key) == settled
