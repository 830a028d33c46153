"""The bot examples run as their users run them, against a fake Telegram Bot API (the
Telegram ones, in a child process) and dpytest (the Discord one)."""

from __future__ import annotations

import asyncio
import importlib.util
import signal
import sys

import pytest

from tests.examples.conftest import EXAMPLES, Running, app_module, example_env

from .fake_telegram import TOKEN, FakeTelegram

TELEGRAM_EXAMPLES = [
    pytest.param(
        "aiogram_bot.py",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("aiogram") is None, reason="aiogram is not installed"
        ),
    ),
    pytest.param(
        "ptb_bot.py",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("telegram") is None, reason="python-telegram-bot missing"
        ),
    ),
]


def validates(af, key):
    return af.stats()["licenses"].get(key, {}).get("validates", 0)


def start(name, af, api, store):
    env = example_env(
        af,
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api.url,
        BOT_USERS_STORE=store,
        AUTHFORGE_HEARTBEAT_INTERVAL="1",
    )
    bot = Running(name, env=env)
    bot.read_until(lambda line: line == "bot: polling")
    return bot


def stop(bot):
    bot.process.send_signal(signal.SIGINT)
    code, err = bot.finish(timeout=30)
    assert code == 0, err
    assert "Traceback" not in err, err


@pytest.mark.skipif(sys.platform == "win32", reason="stopped with SIGINT")
# A hang guard, not a time goal: the bot starts twice, a child interpreter importing its
# framework each time (aiogram: 10 s alone, 86 s seen with the suite's 8 workers on 2 cores).
@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", TELEGRAM_EXAMPLES)
def test_a_telegram_example_end_to_end(name, af, tmp_path):
    pro, free = af.create_license({"tier": "pro"}), af.create_license({"tier": "free"})
    store = str(tmp_path / "users.sqlite3")
    with FakeTelegram() as api:
        bot = start(name, af, api, store)
        try:
            api.say(1, "/report")
            assert api.wait_replies(1, 1)[0].startswith("You have no license yet.")
            api.say(1, f"/activate {pro}")
            assert api.wait_replies(1, 2)[1].startswith("Activated. License active: pro")
            api.say(1, "/report")
            assert api.wait_replies(1, 3)[2] == "Your report (pro): all systems go."
            api.say(1, "/export")
            assert api.wait_replies(1, 4)[3] == "Here is your export (a pro feature)."
            api.say(2, f"/activate {free}")
            assert api.wait_replies(2, 1)[0].startswith("Activated. License active: free")
            api.say(2, "/export")
            replies = api.wait_replies(2, 2)
            assert replies[1].startswith("This needs a pro license (yours: free).")
            af.revoke(pro)  # while the bot runs: user 1 is told, user 2 is not touched
            assert api.wait_replies(1, 5)[4] == "Your license ended (revoked)."
            api.say(1, "/report")
            assert api.wait_replies(1, 6)[5].startswith("This license was revoked.")
            api.say(2, "/report")
            assert api.wait_replies(2, 3)[2] == "Your report (free): all systems go."
        finally:
            if bot.process.poll() is None:
                stop(bot)
        before = validates(af, free)
        restarted = start(name, af, api, store)  # the same store: no validation
        try:
            api.say(2, "/license")
            assert api.wait_replies(2, 4)[3].startswith("License active: free, lifetime")
        finally:
            stop(restarted)
        assert validates(af, free) == before == 1


def load_example(name, monkeypatch, af, store):
    for key, value in example_env(af, BOT_USERS_STORE=store).items():
        monkeypatch.setenv(key, value)
    # The example imports its pinned trust settings from authforge_app, made for this server.
    monkeypatch.syspath_prepend(app_module(af))
    monkeypatch.delitem(sys.modules, "authforge_app", raising=False)
    spec = importlib.util.spec_from_file_location(f"example_{name[:-3]}", EXAMPLES / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_discord_example_through_dpytest(af, tmp_path, monkeypatch):
    pytest.importorskip("discord.ext.test")
    import discord.ext.test as dpytest

    from authforge_guard.discord import LicenseCheckFailure

    pro = af.create_license({"tier": "pro"})
    example = load_example("discord_bot.py", monkeypatch, af, str(tmp_path / "users.sqlite3"))

    async def say(text):
        try:
            await dpytest.message(text)
        except LicenseCheckFailure:
            pass
        return dpytest.get_message().content

    async def main():
        import discord

        intents = discord.Intents.default()
        intents.message_content = True
        intents.members = True  # dpytest's fake guild needs its members
        bot = example.build(intents)
        await bot._async_setup_hook()
        await bot.setup_hook()
        dpytest.configure(bot)
        member = dpytest.get_config().members[0]
        replies = [await say("!report"), await say(f"!activate {pro}"), await say("!report")]
        replies.append(await say("!export"))
        await dpytest.empty_queue()
        return member.id, replies

    try:
        member_id, replies = asyncio.run(main())
    finally:
        example.users.close()
        example.guard.logout()
    assert replies[0].startswith("You have no license yet.")
    assert replies[1].startswith("Activated. License active: pro")
    assert replies[2] == "Your report (pro): all systems go."
    assert replies[3] == "Here is your export (a pro feature)."
    assert str(member_id) in str(af.license_info(pro))  # bound to discord:<member id>
