"""aiogram 3 through its real HTTP client against a fake Telegram Bot API on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest

pytest.importorskip("aiogram")

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command
from aiogram.types import Message

from authforge_guard import Session, UserLicenses
from authforge_guard.aiogram import LicenseMiddleware, license_router

from .fake_telegram import TOKEN, FakeTelegram


def build(users: UserLicenses) -> Dispatcher:
    """The bot a vendor writes: two licensed commands and the ready-made ones."""
    dp = Dispatcher()
    dp.message.middleware(LicenseMiddleware(users))
    dp.include_router(license_router(users))

    @dp.message(Command("whoami"), flags={"license": True})
    async def whoami(message: Message, license: Session) -> None:
        await message.answer(f"{license.hwid} {license.tier}")

    @dp.message(Command("report"), flags={"license": "pro"})
    async def report(message: Message, license: Session) -> None:
        await message.answer(f"report for {license.tier}")

    @dp.message(Command("free"))
    async def free(message: Message) -> None:
        await message.answer("free for all")

    return dp


@contextlib.contextmanager
def running_bot(api: FakeTelegram, users: UserLicenses):
    """The bot polling the fake API on a loop of its own thread, as ``start_polling``
    runs it in production; stopped at the end."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stops: list[asyncio.Event] = []

    async def main() -> None:
        stop = asyncio.Event()  # made on its loop (Python 3.9 binds it at creation)
        stops.append(stop)
        session = AiohttpSession(api=TelegramAPIServer.from_base(api.url))
        bot = Bot(TOKEN, session=session)
        dp = build(users)
        polling = asyncio.ensure_future(
            dp.start_polling(bot, handle_signals=False, polling_timeout=1)
        )
        ready.set()
        await stop.wait()
        await dp.stop_polling()
        await polling

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(30)
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(stops[0].set)
        thread.join(30)
        assert not thread.is_alive()
        loop.close()


@pytest.fixture
def api():
    with FakeTelegram() as fake:
        yield fake


def test_activate_then_licensed_commands(af, make_guard, api, tmp_path):
    key = af.create_license({"tier": "pro"}, expires_at="2031-05-17T12:00:00Z")
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
    with running_bot(api, users):
        api.say(2, "/report")
        (answer,) = api.wait_replies(2, 1)
        assert answer.startswith("This needs a pro license (yours: free).")


def test_a_flag_it_cannot_read_fails_closed(af, make_guard, tmp_path):
    from aiogram.dispatcher.event.handler import HandlerObject
    from aiogram.types import User

    from authforge_guard import ConfigurationError

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
