"""When an entry is written, resumed, ignored for its age, and deleted."""

import logging
import time

import pytest

from authforge_guard.server import AuthForgeServer

from ..conftest import FAST_RETRY
from .conftest import counts, payload_of, read_entry, the_entry


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def clocked(tmp_path):
    """A server whose clock the test sets: ``(server, app, clock)``, ``clock[0]`` = now."""
    clock = [time.time()]
    server = AuthForgeServer(
        str(tmp_path / "clocked.sqlite3"), heartbeat_rate_limit=None, clock=lambda: clock[0]
    ).start()
    try:
        yield server, server.admin.create_app("clocked"), clock
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("server_offset", "reason"),
    [
        (-2 * 3600, "expired"),
        (-3600 + 100, "too soon to resume"),  # 100 s left, under the 300 s margin
        (+3600, "issued in the future"),  # the local clock was set back
    ],
)
def test_an_entry_out_of_its_time_is_ignored(clocked, cache_dir, caplog, server_offset, reason):
    server, app, clock = clocked
    key = server.admin.create_license(app.app_id, {"tier": "pro"})

    def guard():
        from authforge_guard import Guard

        return Guard(
            app_id=app.app_id,
            app_secret=app.app_secret,
            public_key=app.public_key,
            api_base_url=server.url,
            hwid_override="machine-a",
            heartbeat="grace",
            ttl_seconds=3600,
            session_cache=str(cache_dir),
            retry_policy=FAST_RETRY,
        )

    clock[0] = time.time() + server_offset
    first = guard()
    first.ensure(key)  # a genuine session, signed at the server's time
    first.logout()
    clock[0] = time.time()

    second = guard()
    with caplog.at_level(logging.INFO, logger="authforge_guard"):
        assert second.ensure(key).tier == "pro"
    second.logout()

    assert "not resuming a cached session" in caplog.text and reason in caplog.text
    assert server.admin.stats(app.app_id)["licenses"][key]["validates"] == 2


def test_logout_forget_deletes_the_entry_and_a_plain_logout_keeps_it(af, make_guard, cache_dir):
    key = af.create_license()
    guard = make_guard(heartbeat="grace", session_cache=str(cache_dir), license_key=key)
    guard.ensure()
    guard.logout()
    assert the_entry(cache_dir).exists()

    guard.ensure()
    guard.logout(forget=True)
    assert list(cache_dir.glob("*.session")) == []

    # A "sign out" command that never logged in still deletes the configured key's entry.
    make_guard(heartbeat="grace", session_cache=str(cache_dir), license_key=key).ensure()
    make_guard(heartbeat="grace", session_cache=str(cache_dir), license_key=key).logout(forget=True)
    assert list(cache_dir.glob("*.session")) == []
    assert counts(af, key) == (2, 0)  # the second ensure() resumed


def test_a_fatal_loss_deletes_the_entry(af, make_guard, cache_dir):
    key = af.create_license()
    guard = make_guard(session_cache=str(cache_dir), on_lost="warn", interrupt=False)
    session = guard.ensure(key)
    assert the_entry(cache_dir).exists()

    af.revoke(key)
    wait_for(lambda: not session.active)

    wait_for(lambda: list(cache_dir.glob("*.session")) == [])


def test_every_accepted_heartbeat_rewrites_the_entry(af, make_guard, cache_dir):
    key = af.create_license({"tier": "free"})
    guard = make_guard(session_cache=str(cache_dir))  # online checks every 0.2 s
    session = guard.ensure(key)
    first = payload_of(read_entry(the_entry(cache_dir)))

    af.set_variables(key, {"tier": "pro"})
    wait_for(lambda: session.tier == "pro")

    wait_for(
        lambda: payload_of(read_entry(the_entry(cache_dir)))["licenseVariables"] == {"tier": "pro"}
    )
    assert payload_of(read_entry(the_entry(cache_dir)))["sessionToken"] != first["sessionToken"]


def test_an_unwritable_cache_directory_is_no_error(af, make_guard, tmp_path, caplog):
    key = af.create_license({"tier": "pro"})
    (tmp_path / "a-file").write_text("not a directory")
    where = str(tmp_path / "a-file" / "cache")

    with caplog.at_level(logging.INFO, logger="authforge_guard"):
        guard = make_guard(session_cache=where)  # online: heartbeats try to store too
        assert guard.ensure(key).tier == "pro"
        wait_for(lambda: counts(af, key)[1] >= 3)
        assert make_guard(heartbeat="grace", session_cache=where).ensure(key).tier == "pro"

    warnings = [r for r in caplog.records if "cannot write the session cache" in r.getMessage()]
    assert len(warnings) == 2  # once per Guard, not once per heartbeat
    assert counts(af, key)[0] == 2


def test_a_rate_limited_resume_falls_back_to_a_login_without_waiting(tmp_path):
    """The hosted service allows 6 heartbeats a minute: a resume that meets the limit
    logs in at once instead of sitting through the 2 s and 5 s retries."""
    import time

    from authforge_guard.testing import LocalAuthForge

    with LocalAuthForge(heartbeat_rate_limit=1) as server:
        key = server.create_license()
        options = dict(
            license_key=key,
            heartbeat="online",
            session_cache=str(tmp_path / "c"),
            hwid_override="m",
        )
        for expected_validates in (1, 1, 2):
            guard = server.guard(**options)
            started = time.monotonic()
            guard.ensure()
            elapsed = time.monotonic() - started
            guard.logout()
            assert server.stats()["licenses"][key]["validates"] == expected_validates
            assert elapsed < 5  # the 2 s + 5 s retries would take 7 s
