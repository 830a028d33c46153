"""discord.py through dpytest (its fake gateway and HTTP): the check, the cog, the subject.

dpytest drives prefix commands; slash commands it cannot send, so the
``app_commands.check`` form is shown registering on a tree command, and the same
predicate is what both forms call.
"""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("discord")
pytest.importorskip("discord.ext.test")

import discord
import discord.ext.test as dpytest
from discord import app_commands
from discord.ext import commands

from authforge_guard import UserLicenses
from authforge_guard.discord import (
    LicenseCheckFailure,
    LicenseCog,
    discord_subject,
    license_check,
)


async def start_bot(users: UserLicenses) -> commands.Bot:
    intents = discord.Intents.default()
    intents.message_content = True
    intents.members = True
    bot = commands.Bot(command_prefix="!", intents=intents)

    @bot.command()
    @commands.check(license_check(users))
    async def whoami(ctx: commands.Context) -> None:
        await ctx.send(f"{ctx.license.hwid} {ctx.license.tier}")

    @bot.command()
    @commands.check(license_check(users, feature="pro"))
    async def report(ctx: commands.Context) -> None:
        await ctx.send(f"report for {ctx.license.tier}")

    @bot.tree.command()
    @app_commands.check(license_check(users))
    async def slash_whoami(interaction: discord.Interaction) -> None:
        session = interaction.extras["license"]
        await interaction.response.send_message(session.hwid, ephemeral=True)

    await bot._async_setup_hook()
    await bot.add_cog(LicenseCog(users))
    dpytest.configure(bot)
    return bot


async def say(text: str) -> str:
    """Send ``text`` as the test member; the bot's reply (a refused check included)."""
    try:
        await dpytest.message(text)
    except LicenseCheckFailure:
        pass
    return dpytest.get_message().content


def test_the_check_the_cog_and_the_subject(af, make_guard, tmp_path):
    key = af.create_license({"tier": "pro"}, expires_at="2031-05-17T12:00:00Z")
    users = UserLicenses(
        make_guard(), store=str(tmp_path / "users.sqlite3"), subject=discord_subject
    )

    async def main():
        bot = await start_bot(users)
        member = dpytest.get_config().members[0]
        replies = [await say("!whoami")]
        with pytest.raises(LicenseCheckFailure) as refused:
            await dpytest.message("!whoami")
        dpytest.get_message()
        replies.append(await say(f"!activate {key}"))
        replies.append(await say("!whoami"))
        replies.append(await say("!license"))
        replies.append(await say("!deactivate"))
        replies.append(await say("!whoami"))
        checks = bot.tree.get_command("slash_whoami").checks
        await dpytest.empty_queue()
        return member.id, replies, refused.value, checks

    member_id, replies, refused, checks = asyncio.run(main())
    assert replies[0].startswith("You have no license yet.")
    assert refused.error.kind == "not_set_up"
    assert replies[1].startswith("Activated.") and "2031-05-17" in replies[1]
    assert key not in replies[1]
    assert replies[2] == f"discord:{member_id} pro"
    assert "pro, until 2031-05-17 12:00 UTC" in replies[3]
    assert replies[4] == "Your license key was removed from this bot."
    assert replies[5].startswith("You have no license yet.")
    assert len(checks) == 1  # app_commands.check took the same predicate


def test_a_feature_check_refuses_a_lower_tier(af, make_guard, tmp_path):
    key = af.create_license({"tier": "free"})
    users = UserLicenses(
        make_guard(), store=str(tmp_path / "users.sqlite3"), subject=discord_subject
    )

    async def main():
        await start_bot(users)
        member = dpytest.get_config().members[0]
        await users.activate(member.id, key)
        reply = await say("!report")
        await dpytest.empty_queue()
        return reply

    assert asyncio.run(main()).startswith("This needs a pro license (yours: free).")


def test_a_telegram_subject_is_flagged(af, make_guard, tmp_path, caplog):
    users = UserLicenses(make_guard(), store=str(tmp_path / "users.sqlite3"))
    license_check(users)
    assert "subject=discord_subject" in caplog.text


def interaction_for(bot: commands.Bot, member: discord.Member) -> discord.Interaction:
    """A slash-command interaction from ``member``, as the gateway would hand it over."""
    config = dpytest.get_config()
    payload = {
        "id": "1",
        "application_id": "2",
        "type": 2,
        "token": "interaction-token",
        "version": 1,
        "guild_id": str(config.guilds[0].id),
        "channel_id": str(config.channels[0].id),
        "member": {
            "flags": 0,
            "user": {
                "id": str(member.id),
                "username": member.name,
                "discriminator": "0001",
                "avatar": None,
            },
            "roles": [],
            "joined_at": "2020-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
        },
        "data": {"id": "3", "name": "slash_whoami", "type": 1},
        "locale": "en-US",
        "guild_locale": "en-US",
        "app_permissions": "0",
        "entitlements": [],
        "authorizing_integration_owners": {},
        "attachment_size_limit": 0,
    }
    return discord.Interaction(data=payload, state=bot._connection)


def test_the_app_commands_form_leaves_the_session_on_the_interaction(af, make_guard, tmp_path):
    key = af.create_license({"tier": "enterprise"})
    users = UserLicenses(
        make_guard(), store=str(tmp_path / "users.sqlite3"), subject=discord_subject
    )

    async def main():
        bot = await start_bot(users)
        member = dpytest.get_config().members[0]
        await users.activate(member.id, key)
        interaction = interaction_for(bot, member)
        command = bot.tree.get_command("slash_whoami")
        passed = all([await check(interaction) for check in command.checks])
        await dpytest.empty_queue()
        return member.id, passed, interaction.extras["license"]

    member_id, passed, session = asyncio.run(main())
    assert passed is True
    assert session.hwid == f"discord:{member_id}" and session.tier == "enterprise"
