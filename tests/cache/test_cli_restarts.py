"""A licensed CLI started again and again: one validation per session TTL, not per start."""

import json

from authforge_guard._protocol import SigningKey

from .conftest import counts, forge, payload_of, read_entry, the_entry


def test_grace_mode_ten_runs_make_one_validate_and_no_heartbeat(af, cli, cache_dir):
    key = af.create_license({"tier": "pro"})

    runs = [cli(key, heartbeat="grace") for _ in range(10)]

    assert [(r.returncode, r.stdout) for r in runs] == [(0, "tier pro")] * 10
    assert counts(af, key) == (1, 0)
    assert all("resumed the cached session (grace" in r.stderr for r in runs[1:])


def test_grace_mode_sees_a_revocation_only_when_the_cached_session_ends(af, cli):
    key = af.create_license({"tier": "pro"})
    assert cli(key).returncode == 0

    af.revoke(key)

    # The documented trade-off: grace mode trusts the signed session until its TTL.
    assert cli(key).stdout == "tier pro"
    assert counts(af, key) == (1, 0)


def test_online_mode_ten_runs_make_one_validate_and_nine_heartbeats(af, cli):
    key = af.create_license({"tier": "pro"})

    runs = [cli(key, heartbeat="online") for _ in range(10)]

    assert [(r.returncode, r.stdout) for r in runs] == [(0, "tier pro")] * 10
    validates, heartbeats = counts(af, key)
    assert validates == 1 and heartbeats <= 9
    assert all("resumed the cached session (online" in r.stderr for r in runs[1:])


def test_online_mode_stops_the_next_run_after_a_revocation(af, cli, cache_dir):
    key = af.create_license({"tier": "pro"})
    assert cli(key, heartbeat="online").returncode == 0
    assert cli(key, heartbeat="online").returncode == 0

    af.revoke(key)
    stopped = cli(key, heartbeat="online")

    assert (stopped.returncode, stopped.stdout) == (3, "error revoked")
    assert "cached session refused (revoked)" in stopped.stderr
    assert list(cache_dir.glob("*.session")) == []  # a fatal refusal forgets the entry


def test_a_hand_edited_tier_never_shows(af, cli, cache_dir):
    key = af.create_license({"tier": "free"})
    assert cli(key).stdout == "tier free"
    forge(the_entry(cache_dir), license_variables={"tier": "enterprise"})

    run = cli(key)

    assert run.stdout == "tier free"
    assert "not resuming a cached session: not validly signed (signature_mismatch)" in run.stderr
    assert counts(af, key) == (2, 0)
    # The login replaced the forged entry with a genuine one, so the next run resumes.
    assert cli(key).stdout == "tier free" and counts(af, key) == (2, 0)


def test_a_tier_re_signed_with_a_foreign_key_never_shows(af, cli, cache_dir):
    key = af.create_license({"tier": "free"})
    assert cli(key).returncode == 0
    forge(
        the_entry(cache_dir),
        license_variables={"tier": "enterprise"},
        signing_key=SigningKey.generate(),
    )

    run = cli(key)

    assert run.stdout == "tier free"
    assert "(signature_mismatch)" in run.stderr
    assert counts(af, key) == (2, 0)


def test_logs_name_no_secret(af, cli, cache_dir):
    key = af.create_license({"tier": "pro"})
    runs = [cli(key, heartbeat="online") for _ in range(2)]
    token = payload_of(read_entry(the_entry(cache_dir)))["sessionToken"]

    for run in runs:
        assert key not in run.stderr and af.app_secret not in run.stderr
        assert token not in run.stderr
    assert key not in the_entry(cache_dir).name


def move_mark(cache_dir, seconds):
    """As if the entry had last been used ``seconds`` later than now: what a user sees
    after setting the clock back by that much."""
    entry = the_entry(cache_dir)
    data = read_entry(entry)
    data["seen"] += seconds
    entry.write_text(json.dumps(data))


def test_a_clock_set_back_does_not_keep_a_revoked_license_alive(af, cli, cache_dir):
    key = af.create_license({"tier": "pro"})
    assert cli(key).stdout == "tier pro"
    af.revoke(key)
    # Used again "on day 3", then the clock set back to the day of the first run.
    move_mark(cache_dir, 2 * 24 * 3600)

    run = cli(key)

    assert (run.returncode, run.stdout) == (3, "error revoked")
    assert "not resuming a cached session: clock_rollback" in run.stderr


def test_the_mark_follows_each_run_and_a_small_step_back_is_tolerated(af, cli, cache_dir):
    key = af.create_license({"tier": "pro"})
    assert cli(key).returncode == 0
    first = read_entry(the_entry(cache_dir))["seen"]
    move_mark(cache_dir, -120)  # last seen two minutes ago: the next run moves the mark up
    assert cli(key).stdout == "tier pro"
    assert read_entry(the_entry(cache_dir))["seen"] >= first
    move_mark(cache_dir, 120)  # "seen" two minutes ahead: within the allowed skew

    assert cli(key).stdout == "tier pro"
    assert counts(af, key) == (1, 0)


def test_a_clock_set_back_after_a_later_run_is_caught_end_to_end(af, cli, cache_dir):
    """With a moved clock in the child (no file edited): run, run two hours later, revoke,
    set the clock back to the first run's time. The mark, not the signed time, catches it."""
    key = af.create_license({"tier": "pro"})
    assert cli(key).stdout == "tier pro"
    later = cli(key, clock_shift=2 * 3600)
    assert later.stdout == "tier pro" and "resumed the cached session (grace" in later.stderr
    af.revoke(key)

    back = cli(key)  # the clock back where the first run had it

    assert (back.returncode, back.stdout) == (3, "error revoked")
    assert "clock_rollback: the local clock is" in back.stderr
