"""aiogram 3 through its real HTTP client against a fake Telegram Bot API on loopback.

The bot is ``aiogram_app.py``, imported in the tests, not here: a module-level aiogram import
would cost every xdist worker seconds of CPU at collection."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from authforge_guard import UserLicenses

from .fake_telegram import FakeTelegram

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("aiogram") is None, reason="aiogram is not installed"
)


@pytest.fixture
def api():
    with FakeTelegram() as fake:
        yield fake


def test_activate_then_licensed_commands(af, make_guard, api, tmp_path):
    key = af.create_license({"tier": "pro"}, expires_at="2031-05-17T12:00:00Z")
    from .aiogram_app import running_bot

    users = UserLicenses(make_guard(), store=str(tmp_path / "users.sqlite3"))
    with running_bot(api, users):
        api.say(1, "/whoami")
        (refused,) = api.wait_replies(1, 1)
        assert "no license" in refused.lower() and "/activate" not in refused
        api.say(1, "/free")
        assert api.wait_replies(1, 2)[1] == "free for all"
        carrying_key = api.say(1, f"/activate {key}")
        activated = api.wait_replies(1, 3)[2]
        assert activated.startswith("Activated.") and "2031-05-17" in activated
        assert key not in activated
        assert (1, carrying_key) in api.deleted
        api.say(1, "/whoami")
        assert api.wait_replies(1, 4)[3] == "tg:1 pro"
        api.say(1, "/license")
        assert "pro, until 2031-05-17 12:00 UTC" in api.wait_replies(1, 5)[4]
        api.say(1, "/deactivate")
        assert api.wait_replies(1, 6)[5] == "Your license key was removed from this bot."
        api.say(1, "/whoami")
        assert "no license" in api.wait_replies(1, 7)[6].lower()


def test_a_feature_flag_refuses_a_lower_tier_in_the_chat(af, make_guard, api, tmp_path):
    key = af.create_license({"tier": "free"})
    users = UserLicenses(make_guard(), store=str(tmp_path / "users.sqlite3"))
    users.activate_sync(2, key)
    from .aiogram_app import running_bot

    with running_bot(api, users):
        api.say(2, "/report")
        (answer,) = api.wait_replies(2, 1)
        assert answer.startswith("This needs a pro license (yours: free).")


def test_a_flag_it_cannot_read_fails_closed(af, make_guard, tmp_path):
    from aiogram.dispatcher.event.handler import HandlerObject
    from aiogram.types import User

    from authforge_guard import ConfigurationError
    from authforge_guard.aiogram import LicenseMiddleware

    users = UserLicenses(make_guard(), store=str(tmp_path / "users.sqlite3"))
    middleware = LicenseMiddleware(users)
    ran = []

    async def handler(event, data):
        ran.append(event)

    async def call(flag):
        data = {
            "handler": HandlerObject(callback=handler, flags={"license": flag}),
            "event_from_user": User(id=5, is_bot=False, first_name="u"),
        }
        return await middleware(handler, object(), data)

    for flag in (["pro"], "", 1):
        with pytest.raises(ConfigurationError):
            asyncio.run(call(flag))
    asyncio.run(call(False))  # explicitly no license needed
    assert len(ran) == 1
