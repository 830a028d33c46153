"""``UserLicenses``: one license per chat user, kept across restarts (issue 24)."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
import time

import pytest

from authforge_guard import LicenseError, UserLicenses


def validates(af, key):
    return af.stats()["licenses"].get(key, {}).get("validates", 0)


@pytest.fixture
def store(tmp_path):
    return str(tmp_path / "bot" / "users.sqlite3")


def test_a_user_activates_once_and_is_served_from_then_on(af, make_guard, store, caplog):
    caplog.set_level(logging.DEBUG, logger="authforge_guard")
    key = af.create_license({"tier": "pro"})
    users = UserLicenses(make_guard(), store=store)

    async def main():
        activated = await users.activate(42, key)
        again = await users.session(42)
        return activated, again

    activated, again = asyncio.run(main())
    assert activated is again and again.active
    assert again.hwid == "tg:42" and again.tier == "pro"
    assert validates(af, key) == 1
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(store)).st_mode) == 0o700
    assert key not in caplog.text
    assert key not in repr(users)


def test_a_user_without_a_key_is_told_to_activate(af, make_guard, store):
    users = UserLicenses(make_guard(), store=store)
    with pytest.raises(LicenseError) as caught:
        asyncio.run(users.session(7))
    assert caught.value.code == "missing_license_key"
    assert caught.value.kind == "not_set_up"
    assert "computer" not in caught.value.user_message
    assert "AUTHFORGE_" not in caught.value.user_message


def test_a_refused_key_is_not_kept(af, make_guard, store):
    key = af.create_license({"tier": "pro"})
    af.revoke(key)
    users = UserLicenses(make_guard(), store=store)
    with pytest.raises(LicenseError) as caught:
        asyncio.run(users.activate(1, key))
    assert caught.value.kind == "refused"
    with pytest.raises(LicenseError) as missing:
        asyncio.run(users.session(1))
    assert missing.value.code == "missing_license_key"


@pytest.mark.parametrize("typed", ["", "   ", "two words", "x" * 5000])
def test_a_mistyped_key_is_refused_without_a_call(af, make_guard, store, typed):
    users = UserLicenses(make_guard(), store=store)
    with pytest.raises(LicenseError) as caught:
        asyncio.run(users.activate(1, typed))
    assert caught.value.code == "invalid_key" and caught.value.kind == "refused"
    assert af.stats()["credits_spent"] == 0


def test_a_new_key_replaces_the_old_session(af, make_guard, store):
    old, new = af.create_license({"tier": "free"}), af.create_license({"tier": "pro"})
    users = UserLicenses(make_guard(), store=store)

    async def main():
        first = await users.activate(5, old)
        second = await users.activate(5, new)
        return first, second, await users.session(5)

    first, second, current = asyncio.run(main())
    assert not first.active  # the previous session was dropped
    assert current is second and current.tier == "pro"


def test_deactivate_forgets_the_key(af, make_guard, store):
    key = af.create_license({"tier": "pro"})
    users = UserLicenses(make_guard(), store=store)

    async def main():
        session = await users.activate(9, key)
        assert await users.deactivate(9) is True
        assert await users.deactivate(9) is False
        return session

    session = asyncio.run(main())
    assert not session.active
    with pytest.raises(LicenseError) as caught:
        asyncio.run(users.session(9))
    assert caught.value.code == "missing_license_key"


def test_a_restart_costs_no_validation(af, make_guard, store):
    keys = {uid: af.create_license({"tier": "pro"}) for uid in range(20)}
    users = UserLicenses(make_guard(), store=store)

    async def activate_all():
        await asyncio.gather(*(users.activate(uid, key) for uid, key in keys.items()))

    asyncio.run(activate_all())
    before = sum(validates(af, key) for key in keys.values())
    users.close()

    # A new process: a new guard, the same store file.
    restarted = UserLicenses(make_guard(), store=store)

    async def serve_all():
        return await asyncio.gather(*(restarted.session(uid) for uid in keys))

    sessions = asyncio.run(serve_all())
    assert [s.hwid for s in sessions] == [f"tg:{uid}" for uid in keys]
    assert all(s.active and s.tier == "pro" for s in sessions)
    assert sum(validates(af, key) for key in keys.values()) == before == len(keys)


def test_an_edited_stored_session_is_not_believed(af, make_guard, store):
    import sqlite3

    key = af.create_license({"tier": "free"})
    users = UserLicenses(make_guard(), store=store)
    asyncio.run(users.activate(3, key))
    users.close()
    with sqlite3.connect(store) as db:
        (entry,) = db.execute("SELECT entry FROM sessions").fetchone()
        db.execute(
            "UPDATE sessions SET entry = ?", (entry.replace('"payload": "', '"payload": "x'),)
        )
    restarted = UserLicenses(make_guard(), store=store)
    session = asyncio.run(restarted.session(3))
    assert session.tier == "free"
    assert validates(af, key) == 2  # the edited entry was refused: a fresh login


def test_a_revoked_user_is_refused_and_told_on_the_loop_that_served_them(af, make_guard, store):
    # A grace-mode guard: the users' sessions are checked online all the same.
    guard = make_guard(heartbeat="grace", heartbeat_interval=0.5)
    keys = {uid: af.create_license({"tier": "pro"}) for uid in range(10)}
    users = UserLicenses(guard, store=store)
    told: list[tuple[object, str, bool]] = []

    async def main():
        loop = asyncio.get_running_loop()
        notified = asyncio.Event()

        @users.on_lost
        async def lost(user_id, event):
            told.append((user_id, event.code, asyncio.get_running_loop() is loop))
            notified.set()

        await asyncio.gather(*(users.activate(uid, key) for uid, key in keys.items()))
        revoked_at = time.monotonic()
        af.revoke(keys[3])
        await asyncio.wait_for(notified.wait(), 30)
        delay = time.monotonic() - revoked_at
        with pytest.raises(LicenseError) as caught:
            await users.session(3)
        others = await asyncio.gather(*(users.session(uid) for uid in keys if uid != 3))
        return delay, caught.value, others

    delay, refusal, others = asyncio.run(main())
    assert told == [(3, "revoked", True)]
    assert refusal.code == "revoked" and refusal.kind == "refused"
    assert "computer" not in refusal.user_message
    assert all(s.active for s in others)
    # Refused from memory: no login per message of a revoked user.
    assert validates(af, keys[3]) == 1
    print(f"\n[revocation] noticed after {delay:.2f} s with a 0.5 s interval")


def test_sync_twins(af, make_guard, store):
    key = af.create_license({"tier": "enterprise"})
    users = UserLicenses(make_guard(), store=store, subject=lambda uid: f"discord:{uid}")
    session = users.activate_sync("77", key)
    assert users.session_sync("77") is session and session.hwid == "discord:77"
    assert users.deactivate_sync("77") is True
    with pytest.raises(LicenseError):
        users.session_sync("77")


def test_a_loss_seen_only_from_sync_code_still_runs_the_hook(af, make_guard, store):
    key = af.create_license({"tier": "pro"})
    users = UserLicenses(make_guard(), store=store)
    done = threading.Event()
    seen = []

    @users.on_lost
    async def lost(user_id, event):
        seen.append((user_id, event.hwid))
        done.set()

    users.activate_sync(11, key)
    af.revoke(key)
    assert done.wait(30)
    assert seen == [(11, "tg:11")]


def test_bad_store_settings_are_clear(af, make_guard):
    from authforge_guard import ConfigurationError

    with pytest.raises(ConfigurationError):
        UserLicenses(make_guard(), store="ftp://x/y").session_sync(1)
    with pytest.raises(TypeError):
        UserLicenses(make_guard(), store="a.db", subject="tg")  # type: ignore[arg-type]


def test_an_idle_user_is_dropped_and_comes_back_without_a_validation(af, make_guard, store):
    from tests.support.waiting import wait_for

    key = af.create_license({"tier": "pro"})
    guard = make_guard(session_idle_timeout=0.2)
    users = UserLicenses(guard, store=store)
    first = users.activate_sync(12, key)
    assert wait_for(lambda: not first.active, 30)  # evicted: no checks while idle
    assert first.lost_code == "idle"
    back = users.session_sync(12)  # resumed from the store, confirmed by a heartbeat
    assert back.active and back is not first
    assert validates(af, key) == 1
