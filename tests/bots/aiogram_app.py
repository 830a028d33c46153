"""The aiogram bot the aiogram tests run (``tests/bots/test_aiogram.py``,
``test_many_users.py``): a module of its own, imported by those tests when they run. aiogram
takes seconds of CPU to import (hundreds of pydantic models), and every pytest-xdist worker
imports every test module to collect it; here only the worker that runs a bot pays."""

from __future__ import annotations

import asyncio

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command
from aiogram.types import Message

from authforge_guard import Session, UserLicenses
from authforge_guard.aiogram import LicenseMiddleware, license_router

from .fake_telegram import TOKEN, FakeTelegram
from .loop_thread import serving_on_a_thread


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


def running_bot(api: FakeTelegram, users: UserLicenses):
    """The bot polling the fake API on a loop of its own thread, as ``start_polling``
    runs it in production; stopped at the end."""

    async def serve(ready, stop) -> None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api.url))
        bot = Bot(TOKEN, session=session)
        dp = build(users)
        polling = asyncio.ensure_future(
            dp.start_polling(bot, handle_signals=False, polling_timeout=1)
        )
        ready()
        await stop.wait()
        await dp.stop_polling()
        await polling

    return serving_on_a_thread(serve)
