"""One login per process: guarded calls and racing threads share one /auth/validate."""

import threading

import pytest

from authforge_guard import ConfigurationError, LicenseError, configure, licensed, requires_license


def test_2000_guarded_calls_make_one_validate(af, make_guard):
    key = af.create_license({"tier": "pro"})
    guard = make_guard(license_key=key, heartbeat="grace")

    @requires_license(guard=guard)
    def add(a, b):
        return a + b

    assert sum(add(i, 1) for i in range(2000)) == sum(range(1, 2001))
    assert af.stats()["licenses"][key]["validates"] == 1


def test_16_racing_threads_make_one_validate(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key, heartbeat="grace")
    barrier = threading.Barrier(16)
    sessions, errors = [], []

    def race():
        barrier.wait()
        try:
            sessions.append(guard.ensure())
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=race) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert len(sessions) == 16 and len({id(s) for s in sessions}) == 1
    assert af.stats()["licenses"][key]["validates"] == 1


def test_default_guard_from_configure(af):
    key = af.create_license()
    configure(
        app_id=af.app_id,
        app_secret=af.app_secret,
        public_key=af.public_key,
        api_base_url=af.url,
        license_key=key,
        hwid_override="m1",
    )

    @requires_license
    def hello():
        return "hi"

    assert hello() == "hi" and hello() == "hi"
    assert af.stats()["licenses"][key]["validates"] == 1


def test_default_guard_from_a_trusted_environment(af, monkeypatch):
    key = af.create_license({"tier": "pro"})
    for name, value in {**af.environ(key), "AUTHFORGE_HWID_OVERRIDE": "m2"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match="trust_environment=True"):
        with licensed():  # the default guard does not take its app from the environment
            pass
    configure(trust_environment=True)
    with licensed() as session:
        assert session.tier == "pro" and session.kind == "online"


def test_nested_blocks_log_in_once_and_out_at_the_outermost(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key)
    with licensed(guard=guard) as outer:
        with licensed(guard=guard) as inner:
            assert inner is outer
        assert guard.session is outer  # the inner block did not open it: no logout
    assert guard.session is None and not outer.active
    assert af.stats()["licenses"][key]["validates"] == 1


def test_block_inside_a_live_session_leaves_it_open(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key)
    session = guard.ensure()
    with licensed(guard=guard):
        pass
    assert guard.session is session


@pytest.mark.parametrize(
    ("make_key", "code"),
    [
        (lambda af: "NO-SUCH-KEY-0000", "invalid_key"),
        (lambda af: _revoked(af), "revoked"),
    ],
)
def test_a_license_that_cannot_be_had_raises_license_error(af, make_guard, make_key, code):
    guard = make_guard(license_key=make_key(af))

    @requires_license(guard=guard)
    def work():
        return 1

    with pytest.raises(LicenseError) as info:
        work()
    assert info.value.code == code
    # A definitive refusal is remembered briefly: no second login attempt.
    validates_before = sum(v["validates"] for v in af.stats()["licenses"].values())
    with pytest.raises(LicenseError):
        work()
    assert sum(v["validates"] for v in af.stats()["licenses"].values()) == validates_before


def _revoked(af):
    key = af.create_license()
    af.revoke(key)
    return key


def test_unreachable_server_is_a_transient_license_error(af):
    from authforge_guard import Guard
    from tests.conftest import FAST_RETRY

    guard = Guard(
        app_id=af.app_id,
        app_secret=af.app_secret,
        public_key=af.public_key,
        api_base_url="http://127.0.0.1:9",
        license_key="K",
        retry_policy=FAST_RETRY,
    )
    with pytest.raises(LicenseError) as info:
        guard.ensure()
    assert info.value.code == "network_error" and info.value.transient


def test_a_second_license_on_one_guard_is_its_own_session(af, make_guard):
    default_key, other_key = af.create_license(), af.create_license({"tier": "pro"})
    guard = make_guard(license_key=default_key)
    default = guard.ensure()
    other = guard.ensure(other_key)
    assert other is not default and other.active and default.active
    assert other.tier == "pro" and guard.session is default
    assert guard.ensure(other_key) is other  # reused: no second login
    stats = af.stats()["licenses"]
    assert stats[default_key]["validates"] == 1 and stats[other_key]["validates"] == 1
