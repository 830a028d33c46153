"""python-telegram-bot (v21+): per-user licensing for a Telegram bot, over ``UserLicenses``.

Install with ``pip install "authforge-guard[telegram]"``::

    users = UserLicenses(store="bot-users.sqlite3")
    app.add_handlers(license_handlers(users))       # /activate, /deactivate, /license

    @license_required(users, feature="pro")
    async def report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        session = context.license                   # the user's live Session
        ...

    app.add_handler(CommandHandler("report", report))

A refusal is answered in the chat (``LicenseError.user_message``, in the user's
words) and the handler does not run.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable
from typing import Any, Callable, TypeVar

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import CommandHandler, ContextTypes

from ._api._users import (
    ACTIVATE_HINT,
    DEACTIVATED,
    NOTHING_TO_DEACTIVATE,
    UserLicenses,
    activated_text,
    check_feature,
    feature_argument,
    status_text,
)
from ._exceptions import LicenseError

__all__ = ["license_handlers", "license_required"]

logger = logging.getLogger("authforge_guard")

Context = ContextTypes.DEFAULT_TYPE
H = TypeVar("H", bound=Callable[..., Awaitable[Any]])


def license_required(users: UserLicenses, feature: str | None = None) -> Callable[[H], H]:
    """Decorate ``async def handler(update, context)``: it runs only for a user with a live
    license (granting ``feature`` when given), with the session as ``context.license``."""
    if not isinstance(users, UserLicenses):
        raise TypeError("license_required(users) needs a UserLicenses")
    feature = feature_argument(feature, "license_required")

    def decorate(handler: H) -> H:
        @functools.wraps(handler)
        async def gated(update: Update, context: Context, *args: Any, **kwargs: Any) -> Any:
            user = update.effective_user
            if user is None:  # a channel post: nobody to license
                return None
            try:
                session = await users.session(user.id)
                check_feature(session, feature)
            except LicenseError as exc:
                exc.per_user = True
                await _reply(update, exc.user_message)
                return None
            # CallbackContext is made per update and takes attributes (PTB's documented way).
            context.license = session  # type: ignore[attr-defined]
            return await handler(update, context, *args, **kwargs)

        return gated  # type: ignore[return-value]

    return decorate


def license_handlers(users: UserLicenses) -> list[CommandHandler[Any, Any]]:
    """``/activate <key>`` (the message carrying the key is deleted), ``/deactivate`` and
    ``/license`` (tier and the subscription's end), for ``app.add_handlers``."""

    async def activate(update: Update, context: Context) -> None:
        user = update.effective_user
        if user is None:
            return
        key = " ".join(context.args or []).strip()
        if key:
            await _delete(update)  # a license key must not stay in the chat history
        if not key:
            await _reply(update, ACTIVATE_HINT)
            return
        try:
            session = await users.activate(user.id, key)
        except LicenseError as exc:
            await _reply(update, exc.user_message)
            return
        await _reply(update, activated_text(session))

    async def deactivate(update: Update, context: Context) -> None:
        user = update.effective_user
        if user is None:
            return
        removed = await users.deactivate(user.id)
        await _reply(update, DEACTIVATED if removed else NOTHING_TO_DEACTIVATE)

    async def status(update: Update, context: Context) -> None:
        user = update.effective_user
        if user is None:
            return
        try:
            session = await users.session(user.id)
        except LicenseError as exc:
            await _reply(update, exc.user_message)
            return
        await _reply(update, status_text(session))

    return [
        CommandHandler("activate", activate),
        CommandHandler("deactivate", deactivate),
        CommandHandler("license", status),
    ]


async def _reply(update: Update, text: str) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    try:
        await chat.send_message(text)
    except TelegramError as exc:
        logger.info("authforge_guard: could not answer in the chat (%s)", type(exc).__name__)


async def _delete(update: Update) -> None:
    message = update.effective_message
    if message is None:
        return
    try:
        await message.delete()
    except TelegramError as exc:  # too old, or no right to delete in this chat
        logger.info(
            "authforge_guard: could not delete an /activate message (%s)", type(exc).__name__
        )
