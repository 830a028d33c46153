"""aiogram 3: per-user licensing for a Telegram bot, over ``UserLicenses``.

Install with ``pip install "authforge-guard[aiogram]"``. Two pieces::

    users = UserLicenses(store="bot-users.sqlite3")
    dp.message.middleware(LicenseMiddleware(users))
    dp.include_router(license_router(users))        # /activate, /deactivate, /license

    @dp.message(Command("report"), flags={"license": "pro"})
    async def report(message: Message, license: Session) -> None: ...

A handler marked ``flags={"license": True}`` runs only for a user with a live
license, ``flags={"license": "pro"}`` only for one whose license grants ``pro``;
it receives the session as ``license``. A refusal is answered in the chat (in
the user's words: ``LicenseError.user_message``) and the handler does not run.
Register the middleware as an *inner* middleware of the observers whose handlers
carry the flag (``dp.message``, ``dp.callback_query``): flags are known only
once a handler is chosen.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable
from typing import Any, Callable

from aiogram import BaseMiddleware, Router
from aiogram.dispatcher.flags import get_flag
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message, TelegramObject

from ._api._users import (
    ACTIVATE_HINT,
    DEACTIVATED,
    NOTHING_TO_DEACTIVATE,
    UserLicenses,
    activated_text,
    check_feature,
    status_text,
)
from ._exceptions import ConfigurationError, LicenseError

__all__ = ["LicenseMiddleware", "license_router"]

logger = logging.getLogger("authforge_guard")

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class LicenseMiddleware(BaseMiddleware):
    """Runs a handler flagged ``license`` only for a licensed user (see the module docstring)."""

    def __init__(self, users: UserLicenses) -> None:
        if not isinstance(users, UserLicenses):
            raise TypeError("LicenseMiddleware(users) needs a UserLicenses")
        self.users = users

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        wanted = get_flag(data, "license")
        if wanted is None or wanted is False:
            return await handler(event, data)
        if wanted is not True and not (isinstance(wanted, str) and wanted):
            # Fail closed: a flag we cannot read must not become "any license will do".
            raise ConfigurationError(
                f"flags={{'license': {wanted!r}}}: use True (any license) or a feature name"
            )
        user = data.get("event_from_user")
        if user is None:  # a channel post: nobody to license
            return None
        try:
            session = await self.users.session(user.id)
            check_feature(session, None if wanted is True else wanted)
        except LicenseError as exc:
            exc.per_user = True
            await _tell(event, data, exc.user_message)
            return None
        data["license"] = session
        return await handler(event, data)


def license_router(users: UserLicenses, *, name: str = "authforge-license") -> Router:
    """A ``Router`` with ``/activate <key>`` (the message carrying the key is deleted),
    ``/deactivate`` and ``/license`` (tier and the subscription's end)."""
    router = Router(name=name)

    @router.message(Command("activate"))
    async def activate(message: Message, command: CommandObject) -> None:
        if message.from_user is None:
            return
        key = (command.args or "").strip()
        if key:
            await _delete(message)  # a license key must not stay in the chat history
        if not key:
            await message.answer(ACTIVATE_HINT)
            return
        try:
            session = await users.activate(message.from_user.id, key)
        except LicenseError as exc:
            await message.answer(exc.user_message)
            return
        await message.answer(activated_text(session))

    @router.message(Command("deactivate"))
    async def deactivate(message: Message) -> None:
        if message.from_user is None:
            return
        removed = await users.deactivate(message.from_user.id)
        await message.answer(DEACTIVATED if removed else NOTHING_TO_DEACTIVATE)

    @router.message(Command("license"))
    async def status(message: Message) -> None:
        if message.from_user is None:
            return
        try:
            session = await users.session(message.from_user.id)
        except LicenseError as exc:
            await message.answer(exc.user_message)
            return
        await message.answer(status_text(session))

    return router


async def _tell(event: TelegramObject, data: dict[str, Any], text: str) -> None:
    """Answer a refused event where the user will see it."""
    with contextlib.suppress(TelegramAPIError):
        if isinstance(event, Message):
            await event.answer(text)
        elif isinstance(event, CallbackQuery):
            await event.answer(text, show_alert=True)
        else:
            chat = data.get("event_chat")
            bot = data.get("bot")
            if chat is not None and bot is not None:
                await bot.send_message(chat.id, text)


async def _delete(message: Message) -> None:
    try:
        await message.delete()
    except TelegramAPIError as exc:  # too old, or no right to delete in this chat
        logger.info(
            "authforge_guard: could not delete an /activate message (%s)", type(exc).__name__
        )
