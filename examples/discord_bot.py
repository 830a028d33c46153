"""A Discord bot (discord.py 2) that sells per-user subscriptions through AuthForge.

``/activate <key>`` (slash: ephemeral; ``!activate``: the message is deleted where
the bot may), ``/deactivate``, ``/license``; ``!report`` needs a license, ``!export``
a "pro" one, ``/whoami`` shows the slash-command form of the same check. A revoked
user is told in a direct message. Users are licensed as ``discord:<user id>``.

Set up the environment as in examples/README.md, then:

    pip install "authforge-guard[discord]"
    DISCORD_TOKEN=... AUTHFORGE_APP_ID=... AUTHFORGE_APP_SECRET=... AUTHFORGE_PUBLIC_KEY=... \\
        python examples/discord_bot.py
"""

from __future__ import annotations

import os

import discord
from authforge_app import API_URL, APP_ID, PUBLIC_KEY  # pinned: see examples/README.md
from discord import app_commands
from discord.ext import commands

from authforge_guard import LicenseEvent, UserLicenses, configure
from authforge_guard.discord import LicenseCog, discord_subject, license_check

guard = configure(app_id=APP_ID, public_key=PUBLIC_KEY, api_base_url=API_URL)
users = UserLicenses(
    guard, store=os.environ.get("BOT_USERS_STORE", "bot-users.sqlite3"), subject=discord_subject
)


def build(intents: discord.Intents | None = None) -> commands.Bot:
    if intents is None:
        intents = discord.Intents.default()
        intents.message_content = True  # prefix commands (!report) read message text
    bot = commands.Bot(command_prefix="!", intents=intents)

    @bot.command()
    @commands.check(license_check(users))
    async def report(ctx: commands.Context) -> None:
        await ctx.send(f"Your report ({ctx.license.tier}): all systems go.")

    @bot.command()
    @commands.check(license_check(users, feature="pro"))
    async def export(ctx: commands.Context) -> None:
        await ctx.send("Here is your export (a pro feature).")

    @bot.tree.command(description="Who am I licensed as?")
    @app_commands.check(license_check(users))
    async def whoami(interaction: discord.Interaction) -> None:
        session = interaction.extras["license"]
        await interaction.response.send_message(f"{session.hwid}: {session.tier}", ephemeral=True)

    @bot.event
    async def setup_hook() -> None:
        await bot.add_cog(LicenseCog(users))

    @bot.event
    async def on_command_error(ctx: commands.Context, error: Exception) -> None:
        if not isinstance(error, commands.CheckFailure):  # a refusal was told already
            raise error

    @users.on_lost
    async def tell(user_id: int, event: LicenseEvent) -> None:
        user = await bot.fetch_user(user_id)
        await user.send(f"Your license ended ({event.code}).")

    return bot


if __name__ == "__main__":
    build().run(os.environ["DISCORD_TOKEN"])
