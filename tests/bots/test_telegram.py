"""python-telegram-bot through its real HTTP client (httpx) against a fake Bot API."""

from __future__ import annotations

import pytest

pytest.importorskip("telegram")

from telegram import Update
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

from authforge_guard import UserLicenses
from authforge_guard.telegram import license_handlers, license_required

from .fake_telegram import TOKEN, FakeTelegram
from .loop_thread import serving_on_a_thread


def build(api: FakeTelegram, users: UserLicenses):
    """The bot a vendor writes: two licensed commands and the ready-made ones."""
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(api.url + "/bot")
        .concurrent_updates(True)
        .build()
    )
    app.add_handlers(license_handlers(users))

    @license_required(users)
    async def whoami(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_chat.send_message(f"{context.license.hwid} {context.license.tier}")

    @license_required(users, feature="pro")
    async def report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_chat.send_message(f"report for {context.license.tier}")

    app.add_handler(CommandHandler("whoami", whoami))
    app.add_handler(CommandHandler("report", report))
    return app


def running_bot(api: FakeTelegram, users: UserLicenses):
    """The application polling the fake API on a loop of its own thread."""

    async def serve(ready, stop) -> None:
        app = build(api, users)
        await app.initialize()
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        ready()
        await stop.wait()
        await app.updater.stop()
        await app.stop()
        await app.shutdown()

    return serving_on_a_thread(serve)


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
        assert "no license" in refused.lower()
        carrying_key = api.say(1, f"/activate {key}")
        activated = api.wait_replies(1, 2)[1]
        assert activated.startswith("Activated.") and "2031-05-17" in activated
        assert key not in activated
        assert (1, carrying_key) in api.deleted
        api.say(1, "/whoami")
        assert api.wait_replies(1, 3)[2] == "tg:1 pro"
        api.say(1, "/license")
        assert "pro, until 2031-05-17 12:00 UTC" in api.wait_replies(1, 4)[3]
        api.say(1, "/deactivate")
        assert api.wait_replies(1, 5)[4] == "Your license key was removed from this bot."
        api.say(1, "/whoami")
        assert "no license" in api.wait_replies(1, 6)[5].lower()


def test_a_feature_gate_refuses_a_lower_tier_in_the_chat(af, make_guard, api, tmp_path):
    key = af.create_license({"tier": "free"})
    users = UserLicenses(make_guard(), store=str(tmp_path / "users.sqlite3"))
    users.activate_sync(2, key)
    with running_bot(api, users):
        api.say(2, "/report")
        (answer,) = api.wait_replies(2, 1)
        assert answer.startswith("This needs a pro license (yours: free).")
