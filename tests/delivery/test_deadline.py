"""Issue 12, item 7: the session's signed end acts on its own timer, even while a heartbeat
is stuck on a server that does not answer."""

import time

import pytest

from authforge_guard import LicenseLost, licensed
from tests.support.fault_proxy import Fault


def test_a_stuck_heartbeat_does_not_keep_a_session_past_its_signed_end(af, proxy, make_guard):
    # A session never outlives its license: a license ending in 3 s gives a 3 s session.
    key = af.create_license(expires_at=time.time() + 3)
    guard = make_guard(
        license_key=key, api_base_url=proxy.url, heartbeat_interval=0.2, request_timeout=60
    )
    events = []
    guard.on_lost(lambda event: events.append(event.code))
    session = guard.ensure()
    end = session.expires_at.timestamp()
    proxy.arm(Fault.delay(30), always=True, path="/auth/heartbeat")  # every check hangs
    with pytest.raises(LicenseLost) as lost:
        with licensed(guard=guard):
            time.sleep(20)
    late = time.time() - end
    assert lost.value.code == "session_expired" and events == ["session_expired"]
    # At the signed end, not when the hung heartbeat (30 s) or the sleep (20 s) would have
    # ended the block: a bound with room for a loaded machine, far from both.
    assert late < 10, late
