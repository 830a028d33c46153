"""Issue 25, item 3: a clock set ahead, then back, must not bring a revoked session back.

The user runs the vendor's program once (its session is cached), the license is
revoked, they run it with the clock 25 h ahead (the cached session has expired
there, the login is refused), then at the real clock again. The refusal seen
online removed the cached entry (and tombstoned it), and the start 25 h ahead
moved the clock's high-water mark, so the last run is refused, not licensed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import pytest

from .conftest import clean_environment, fake_clock, run, with_pythonpath

DAY = 86400.0


def run_ahead(program, env, tmp_path, seconds):
    """Run ``program`` with the wall clock ``seconds`` ahead, as the user would: Debian's
    ``faketime`` when installed (``.ci/apt/trust.txt``), else a ``sitecustomize`` that
    shifts ``time.time`` in the child."""
    if shutil.which("faketime"):
        done = subprocess.run(
            ["faketime", f"+{int(seconds)} seconds", sys.executable, str(program)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr
    return run(program, with_pythonpath(env, fake_clock(tmp_path, seconds)))


def cached_entries(tmp_path, key):
    digest = hashlib.sha256(key.encode()).hexdigest()
    return list((tmp_path / "xdg-cache").rglob(f"*{digest}*.session"))


@pytest.mark.parametrize("heartbeat", ["grace", "online"])
def test_a_revoked_license_stays_revoked_after_the_clock_goes_ahead_and_back(
    vendor, vendor_program, tmp_path, heartbeat
):
    key = vendor.create_license({"tier": "pro"})
    env = clean_environment(tmp_path, **vendor.environ(key))
    program = vendor_program(session_cache=True, heartbeat=heartbeat)

    assert run(program, env)[0]["tier"] == "pro"
    assert len(cached_entries(tmp_path, key)) == 1
    vendor.revoke(key)

    result, stderr = run_ahead(program, env, tmp_path, 25 * 3600)
    assert result == {"refused": "revoked"}, stderr
    assert cached_entries(tmp_path, key) == []  # the definitive verdict removed it

    assert run(program, env)[0] == {"refused": "revoked"}


def test_a_start_that_refuses_an_expired_entry_still_moves_the_clock_mark(
    vendor, vendor_program, tmp_path
):
    """The mark alone holds too: when the start 25 h ahead cannot reach the server (no
    verdict, so the entry stays), the next start at the real clock does not resume it."""
    key = vendor.create_license({"tier": "pro"})
    env = clean_environment(tmp_path, **vendor.environ(key))
    program = vendor_program(session_cache=True)
    assert run(program, env)[0]["tier"] == "pro"
    vendor.revoke(key)

    # (vendor_program writes the same file: this run's program has no reachable API.)
    unreachable = vendor_program(session_cache=True, api_base_url="http://127.0.0.1:9")
    result, stderr = run_ahead(unreachable, env, tmp_path, 25 * 3600)
    assert result["refused"] in ("network_error", "timeout"), stderr
    assert len(cached_entries(tmp_path, key)) == 1  # nothing definitive was seen

    program = vendor_program(session_cache=True)  # the same file again, the real API
    result, stderr = run(program, env)
    assert result == {"refused": "revoked"}
    assert "clock_rollback" in stderr


def test_a_revocation_seen_at_login_tombstones_the_shared_redis_entry(
    vendor, vendor_program, tmp_path, redis_url
):
    """The same story on a fleet's Redis store: the refused login deletes the shared entry
    and leaves a tombstone, so no replica resumes it (whatever its clock says)."""
    import redis

    key = vendor.create_license({"tier": "pro"})
    env = clean_environment(tmp_path, **vendor.environ(key))
    program = vendor_program(session_store=redis_url)
    assert run(program, env)[0]["tier"] == "pro"
    client = redis.Redis.from_url(redis_url)
    try:
        prefix = f"authforge:{vendor.app_id}:"
        digest = hashlib.sha256(key.encode()).hexdigest()
        assert client.keys(f"{prefix}session:{digest}:*") != []
        vendor.revoke(key)

        result, stderr = run_ahead(program, env, tmp_path, 25 * 3600)
        assert result == {"refused": "revoked"}, stderr
        assert client.keys(f"{prefix}session:{digest}:*") == []
        assert client.keys(f"{prefix}tomb:{digest}:*") != []
    finally:
        client.close()
    assert run(program, env)[0] == {"refused": "revoked"}
