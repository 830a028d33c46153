"""discord.py 2: per-user licensing for a Discord bot, over ``UserLicenses``.

Install with ``pip install "authforge-guard[discord]"``. Each Discord user is
licensed under the subject ``discord:<user id>``::

    users = UserLicenses(store="bot-users.sqlite3", subject=discord_subject)
    await bot.add_cog(LicenseCog(users))            # /activate, /deactivate, /license

    @bot.command()
    @commands.check(license_check(users, feature="pro"))
    async def report(ctx: commands.Context) -> None:
        session = ctx.license                       # the author's live Session

    @bot.tree.command()
    @app_commands.check(license_check(users))
    async def whoami(interaction: discord.Interaction) -> None:
        session = interaction.extras["license"]

A refusal is told to the user (an ephemeral reply to a slash command, a reply to
a prefix command) and the check fails with ``LicenseCheckFailure``, which both
``commands`` and ``app_commands`` treat as a failed check: the command does not run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Callable

import discord
from discord import app_commands
from discord.ext import commands

from ._api._users import (
    DEACTIVATED,
    NOTHING_TO_DEACTIVATE,
    UserLicenses,
    activated_text,
    check_feature,
    feature_argument,
    status_text,
)
from ._exceptions import LicenseError

__all__ = ["LicenseCheckFailure", "LicenseCog", "discord_subject", "license_check"]

logger = logging.getLogger("authforge_guard")

Predicate = Callable[[Any], Coroutine[Any, Any, bool]]


def discord_subject(user_id: Any) -> str:
    """The HWID sent for a Discord user: ``discord:<user id>``."""
    return f"discord:{user_id}"


class LicenseCheckFailure(commands.CheckFailure, app_commands.CheckFailure):
    """The user has no license for this command; ``.error`` says why (already told to them)."""

    def __init__(self, error: LicenseError) -> None:
        super().__init__(error.user_message)
        self.error = error


def license_check(users: UserLicenses, feature: str | None = None) -> Predicate:
    """A predicate for ``commands.check(...)`` and ``app_commands.check(...)``: passes for a
    user with a live license (granting ``feature`` when given), and leaves the session on
    ``ctx.license`` / ``interaction.extras["license"]``."""
    if not isinstance(users, UserLicenses):
        raise TypeError("license_check(users) needs a UserLicenses")
    feature = feature_argument(feature, "license_check")
    if not users.subject_of(0).startswith("discord:"):
        logger.warning(
            "authforge_guard: license_check on a UserLicenses whose subject is not "
            "discord:<id>; pass subject=discord_subject"
        )

    async def predicate(source: Any) -> bool:
        interaction = source if isinstance(source, discord.Interaction) else None
        user = interaction.user if interaction is not None else source.author
        try:
            session = await users.session(user.id)
            check_feature(session, feature)
        except LicenseError as exc:
            exc.per_user = True
            await _tell(source, exc.user_message)
            raise LicenseCheckFailure(exc) from exc
        if interaction is not None:
            interaction.extras["license"] = session
        else:
            source.license = session
        return True

    return predicate


class LicenseCog(commands.Cog):
    """``/activate <key>``, ``/deactivate`` and ``/license`` as hybrid commands (slash and
    prefix). Slash answers are ephemeral (a key sent that way is never shown in the
    channel); a prefix ``activate`` message is deleted where the bot may."""

    def __init__(self, users: UserLicenses) -> None:
        self.users = users

    # discord.py's overloads for hybrid_command do not accept a method of a Cog subclass
    # under mypy (they do at run time): the ignores below are for that alone.
    @commands.hybrid_command(  # type: ignore[arg-type, unused-ignore]
        name="activate", description="Activate your license key"
    )
    async def activate(self, ctx: commands.Context[commands.Bot], key: str) -> None:
        if ctx.interaction is None:
            await _delete(ctx.message)  # a license key must not stay in the channel
        try:
            session = await self.users.activate(ctx.author.id, key)
        except LicenseError as exc:
            await ctx.send(exc.user_message, ephemeral=True)
            return
        await ctx.send(activated_text(session), ephemeral=True)

    @commands.hybrid_command(  # type: ignore[arg-type, unused-ignore]
        name="deactivate", description="Remove your license key"
    )
    async def deactivate(self, ctx: commands.Context[commands.Bot]) -> None:
        removed = await self.users.deactivate(ctx.author.id)
        await ctx.send(DEACTIVATED if removed else NOTHING_TO_DEACTIVATE, ephemeral=True)

    @commands.hybrid_command(  # type: ignore[arg-type, unused-ignore]
        name="license", description="Your license: tier and end date"
    )
    async def status(self, ctx: commands.Context[commands.Bot]) -> None:
        try:
            session = await self.users.session(ctx.author.id)
        except LicenseError as exc:
            await ctx.send(exc.user_message, ephemeral=True)
            return
        await ctx.send(status_text(session), ephemeral=True)


async def _tell(source: Any, text: str) -> None:
    try:
        if isinstance(source, discord.Interaction):
            if source.response.is_done():
                await source.followup.send(text, ephemeral=True)
            else:
                await source.response.send_message(text, ephemeral=True)
        else:
            await source.reply(text)
    except (discord.HTTPException, OSError, asyncio.TimeoutError) as exc:
        # The check still fails: a user not told is better than a command run unlicensed.
        logger.info("authforge_guard: could not tell the user (%s)", type(exc).__name__)


async def _delete(message: discord.Message) -> None:
    try:
        await message.delete()
    except discord.HTTPException as exc:  # a DM, or no Manage Messages permission
        logger.info(
            "authforge_guard: could not delete an activate message (%s)", type(exc).__name__
        )
