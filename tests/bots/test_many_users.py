"""500 chat users with their own keys and tiers, one aiogram bot, through the fake Bot API:
no user ever sees another's license; a revocation reaches only its user, within about one
heartbeat interval; a restart on the same store validates nobody again (issue 24)."""

from __future__ import annotations

import importlib.util
import random
import threading
import time

import pytest

from authforge_guard import UserLicenses

from .fake_telegram import FakeTelegram

# aiogram is imported by the test (aiogram_app), not at collection: see aiogram_app.py.
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("aiogram") is None, reason="aiogram is not installed"
)

USERS = 500
INTERVAL = 3.0
TIERS = ("free", "pro", "enterprise")


def total_validates(af, keys):
    licenses = af.stats()["licenses"]
    return sum(licenses.get(key, {}).get("validates", 0) for key in keys)


# A hang guard, not a time goal: 500 users' logins and messages are CPU work (57 s seen
# beside a loaded CI run, of the 120 s default).
@pytest.mark.timeout(300)
def test_five_hundred_users(af, make_guard, tmp_path, capsys):
    from .aiogram_app import running_bot

    rng = random.Random(24)
    tiers = {uid: rng.choice(TIERS) for uid in range(1, USERS + 1)}
    keys = {uid: af.create_license({"tier": tier}) for uid, tier in tiers.items()}
    store = str(tmp_path / "users.sqlite3")
    users = UserLicenses(make_guard(heartbeat_interval=INTERVAL), store=store)
    lost: list[tuple[int, str, float]] = []
    told = threading.Event()

    @users.on_lost
    async def tell(user_id, event):
        lost.append((user_id, event.code, time.monotonic()))
        told.set()

    revoked = 7
    with FakeTelegram() as api, running_bot(api, users):
        for uid, key in keys.items():
            api.say(uid, f"/activate {key}")
        assert api.wait_for(lambda: all(len(api.replies(u)) >= 1 for u in keys), 120)
        for uid in keys:
            api.say(uid, "/whoami")
        assert api.wait_for(lambda: all(len(api.replies(u)) >= 2 for u in keys), 120)
        answers = {uid: api.replies(uid)[1] for uid in keys}
        leaks = sum(answers[uid] != f"tg:{uid} {tiers[uid]}" for uid in keys)
        assert leaks == 0, [a for u, a in answers.items() if a != f"tg:{u} {tiers[u]}"][:5]

        revoked_at = time.monotonic()
        af.revoke(keys[revoked])
        assert told.wait(60)
        notice = lost[0][2] - revoked_at
        assert [(u, c) for u, c, _t in lost] == [(revoked, "revoked")]
        for uid in keys:
            api.say(uid, "/whoami")
        assert api.wait_for(lambda: all(len(api.replies(u)) >= 3 for u in keys), 120)
        assert api.replies(revoked)[2].startswith("This license was revoked.")
        others = [uid for uid in keys if uid != revoked]
        assert all(api.replies(uid)[2] == f"tg:{uid} {tiers[uid]}" for uid in others)
    users.close()
    first_run = total_validates(af, keys.values())
    assert first_run == USERS

    # A restart: a new guard and UserLicenses on the same store.
    restarted = UserLicenses(make_guard(heartbeat_interval=INTERVAL), store=store)
    with FakeTelegram() as api, running_bot(api, restarted):
        for uid in others:
            api.say(uid, "/whoami")
        assert api.wait_for(lambda: all(len(api.replies(u)) >= 1 for u in others), 120)
        assert all(api.replies(uid)[0] == f"tg:{uid} {tiers[uid]}" for uid in others)
        api.say(revoked, "/whoami")
        assert api.wait_replies(revoked, 1)[0].startswith("This license was revoked.")
    restarted.close()
    on_restart = total_validates(af, keys.values()) - first_run
    assert on_restart == 0
    with capsys.disabled():
        print(
            f"\n[500 users] leaks {leaks}; revocation told after {notice:.2f} s "
            f"(interval {INTERVAL:g} s); validations on restart {on_restart}"
        )
