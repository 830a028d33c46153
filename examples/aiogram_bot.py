"""A Telegram bot (aiogram 3) that sells per-user subscriptions through AuthForge.

Each chat user activates their own key with ``/activate <key>`` (the message is
deleted); ``/report`` needs a license, ``/export`` a "pro" one; ``/license`` shows the
tier and when the subscription ends. A revoked user is refused within a heartbeat
interval and told so in a private message. Keys and signed sessions are kept in
``bot-users.sqlite3``: a restart costs no validation.

Set up the environment as in examples/README.md, then:

    pip install "authforge-guard[aiogram]"
    BOT_TOKEN=123:abc AUTHFORGE_APP_ID=... AUTHFORGE_APP_SECRET=... AUTHFORGE_PUBLIC_KEY=... \\
        python examples/aiogram_bot.py

``TELEGRAM_API_URL`` points it at another Bot API server (a local one, or the
tests' fake); ``BOT_USERS_STORE`` at another store file.
"""

from __future__ import annotations

import asyncio
import os

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command
from aiogram.types import Message
from authforge_app import API_URL, APP_ID, PUBLIC_KEY  # pinned: see examples/README.md

from authforge_guard import LicenseEvent, Session, UserLicenses, configure
from authforge_guard.aiogram import LicenseMiddleware, license_router

guard = configure(app_id=APP_ID, public_key=PUBLIC_KEY, api_base_url=API_URL)
users = UserLicenses(guard, store=os.environ.get("BOT_USERS_STORE", "bot-users.sqlite3"))
dp = Dispatcher()
dp.message.middleware(LicenseMiddleware(users))
dp.include_router(license_router(users))


@dp.message(Command("report"), flags={"license": True})
async def report(message: Message, license: Session) -> None:
    await message.answer(f"Your report ({license.tier}): all systems go.")


@dp.message(Command("export"), flags={"license": "pro"})
async def export(message: Message, license: Session) -> None:
    await message.answer("Here is your export (a pro feature).")


async def main() -> None:
    api = os.environ.get("TELEGRAM_API_URL")
    session = AiohttpSession(api=TelegramAPIServer.from_base(api)) if api else None
    bot = Bot(os.environ["BOT_TOKEN"], session=session)

    @users.on_lost
    async def tell(user_id: int, event: LicenseEvent) -> None:
        await bot.send_message(user_id, f"Your license ended ({event.code}).")

    print("bot: polling", flush=True)
    await dp.start_polling(bot)


if __name__ == "__main__":
    asyncio.run(main())
