"""A Telegram bot (python-telegram-bot 21+) that sells per-user subscriptions through AuthForge.

The same bot as ``aiogram_bot.py``: ``/activate <key>``, ``/deactivate``,
``/license``; ``/report`` needs a license, ``/export`` a "pro" one; a revoked user
is told in a private message.

Set up the environment as in examples/README.md, then:

    pip install "authforge-guard[telegram]"
    BOT_TOKEN=123:abc AUTHFORGE_APP_ID=... AUTHFORGE_APP_SECRET=... AUTHFORGE_PUBLIC_KEY=... \\
        python examples/ptb_bot.py

``TELEGRAM_API_URL`` points it at another Bot API server; ``BOT_USERS_STORE`` at
another store file.
"""

from __future__ import annotations

import os

from authforge_app import API_URL, APP_ID, PUBLIC_KEY  # pinned: see examples/README.md
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes

from authforge_guard import LicenseEvent, UserLicenses, configure
from authforge_guard.telegram import license_handlers, license_required

guard = configure(app_id=APP_ID, public_key=PUBLIC_KEY, api_base_url=API_URL)
users = UserLicenses(guard, store=os.environ.get("BOT_USERS_STORE", "bot-users.sqlite3"))


@license_required(users)
async def report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_chat.send_message(
        f"Your report ({context.license.tier}): all systems go."
    )


@license_required(users, feature="pro")
async def export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_chat.send_message("Here is your export (a pro feature).")


def build() -> Application:
    builder = ApplicationBuilder().token(os.environ["BOT_TOKEN"]).concurrent_updates(True)
    api = os.environ.get("TELEGRAM_API_URL")
    if api:
        builder = builder.base_url(api.rstrip("/") + "/bot")
    app = builder.build()
    app.add_handlers(license_handlers(users))
    app.add_handler(CommandHandler("report", report))
    app.add_handler(CommandHandler("export", export))

    @users.on_lost
    async def tell(user_id: int, event: LicenseEvent) -> None:
        await app.bot.send_message(user_id, f"Your license ended ({event.code}).")

    return app


if __name__ == "__main__":
    print("bot: polling", flush=True)
    build().run_polling(poll_interval=0, timeout=1)
