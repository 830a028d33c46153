"""A wall clock that jumps (NTP, a user changing the date) moves no session end.

Validity comes from the signed expiry; the moment it is reached is measured
on CLOCK_BOOTTIME (``_clock.elapsed``) from when the answer was accepted.
So a clock set back a day cannot stretch a session past its signed end, and a
clock set forward a year cannot end a valid session early. The wall clock is
faked in-process (``time.time``); the elapsed clock is the real one.

End to end, a session that ends in a few seconds is made by re-signing the
server's answer with a key the client trusts (a key rotation, as far as the
client can tell), with a shorter ``exp``.
"""

import time

import pytest

from authforge_guard._base._clock import Deadline
from authforge_guard._protocol import SigningKey, decode_token_body, encode_token
from tests.support.fault_proxy import Fault
from tests.support.waiting import HookLog, wait_for

DAY = 86400.0
YEAR = 365 * DAY
VALIDATE = "/auth/validate"
TRUSTED = SigningKey.generate()  # an extra key the test clients trust


class WallClock:
    """``time.time`` with an offset that a test can jump."""

    def __init__(self, monkeypatch):
        self.real = time.time
        self.offset = 0.0
        monkeypatch.setattr(time, "time", self.now)

    def now(self):
        return self.real() + self.offset

    def jump(self, seconds):
        self.offset += seconds


@pytest.fixture
def wall(monkeypatch):
    return WallClock(monkeypatch)


# --- Deadline alone -------------------------------------------------------------


@pytest.mark.parametrize("jump", [-DAY, -YEAR, DAY, YEAR])
def test_a_jump_after_the_answer_moves_nothing(wall, jump):
    deadline = Deadline(wall.now() + 100)
    wall.jump(jump)
    assert 98 < deadline.remaining() <= 100
    assert not deadline.passed()


@pytest.mark.parametrize("skew", [-DAY, DAY])
def test_a_wrong_local_clock_is_ignored_when_the_server_time_is_known(wall, skew):
    server_now = wall.now()
    wall.jump(skew)  # this machine's clock is a day off
    deadline = Deadline(server_now + 100, issued_at=server_now)
    assert 98 < deadline.remaining() <= 100


def test_a_deadline_passes_on_elapsed_time_whatever_the_wall_clock_says(wall):
    deadline = Deadline(wall.now() + 0.2)
    wall.jump(-YEAR)
    assert wait_for(deadline.passed, timeout=5)


# --- end to end -------------------------------------------------------------------


def ending_in(seconds):
    """A payload edit: the session (token ``exp`` and ``expiresIn``) ends ``seconds`` after
    the server's timestamp."""

    def edit(payload):
        end = int(payload["timestamp"]) + seconds
        body = decode_token_body(payload["sessionToken"])
        body["exp"] = end
        payload["sessionToken"] = encode_token(body, b"not-the-server-mac")
        payload["expiresIn"] = end

    return edit


def short_session_guard(shared_af, proxy, make_shared_guard, seconds, **overrides):
    proxy.arm(Fault.resign(TRUSTED, ending_in(seconds)), path=VALIDATE)
    guard = make_shared_guard(
        api_base_url=proxy.url,
        public_key=[shared_af.public_key, TRUSTED.public_key_b64],
        license_key=shared_af.create_license(),
        **overrides,
    )
    return guard, HookLog(guard)


@pytest.mark.parametrize("mode", ["grace", "online"])
def test_setting_the_clock_back_does_not_stretch_a_session(
    shared_af, proxy, make_shared_guard, wall, mode
):
    # Checks every 60 s: the session must still end at its signed expiry, 2 s
    # from now, not at the next check. Online checks meet a dead network.
    guard, hooks = short_session_guard(
        shared_af, proxy, make_shared_guard, 2, heartbeat=mode, heartbeat_interval=60
    )
    session = guard.ensure()
    started = time.monotonic()
    proxy.arm(Fault.drop(), always=True, path="/auth/heartbeat")
    wall.jump(-DAY)
    time.sleep(0.5)
    assert session.active  # not early either
    assert wait_for(lambda: "cleanup" in hooks.kinds(), timeout=2 + 5)
    assert time.monotonic() - started >= 1  # the signed end, give or take a second of rounding
    assert session.lost_code == "session_expired"
    assert ("lost", "session_expired", True) in hooks.events


def test_transient_failures_keep_a_session_only_until_its_signed_end(
    shared_af, proxy, make_shared_guard, wall
):
    guard, hooks = short_session_guard(
        shared_af, proxy, make_shared_guard, 2, heartbeat_interval=0.2, max_unreachable=3600
    )  # (the silence bound is tested in tests/security/test_silence_bound.py)
    session = guard.ensure()
    proxy.arm(Fault.drop(), always=True, path="/auth/heartbeat")
    wall.jump(-DAY)
    assert wait_for(lambda: "cleanup" in hooks.kinds(), timeout=2 + 5)
    assert session.lost_code == "session_expired"
    assert set(hooks.transient_codes()) == {"network_error"}  # kept while it was valid
    assert hooks.fatal_events()[:2] == [
        ("code", "session_expired", True),
        ("lost", "session_expired", True),
    ]


@pytest.mark.parametrize("mode", ["grace", "online"])
def test_setting_the_clock_forward_does_not_end_a_valid_session(
    shared_af, make_shared_guard, wall, mode
):
    key = shared_af.create_license()
    guard = make_shared_guard(license_key=key, heartbeat=mode, heartbeat_interval=0.05)
    hooks = HookLog(guard)
    session = guard.ensure()
    wall.jump(YEAR)
    if mode == "online":  # the server (its own clock) keeps refreshing the session
        assert wait_for(lambda: shared_af.stats()["licenses"][key]["heartbeats"] >= 3)
    else:
        time.sleep(0.3)  # several grace checks
    assert session.active and guard.session is session and hooks.events == []
