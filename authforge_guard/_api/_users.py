"""``UserLicenses``: a license per chat user, for Telegram and Discord bots.

A bot sells subscriptions to the people who talk to it, not to the machine it
runs on. Each user brings their own key; AuthForge binds it to an immutable
id of theirs sent as the HWID (the *subject*: ``tg:<user id>``,
``discord:<user id>``). This module keeps what a bot vendor otherwise writes
by hand around a ``Guard``:

- **the users' keys**, in a store of their own (SQLite by default, 0600: the
  keys are the users' secrets, never logged), so a user activates once;
- **their signed sessions**, in the same store, verified on load like every
  store's, so a restart of the bot costs no validation (a stored session is
  confirmed by one heartbeat);
- **online checks while in use**: a user's session asks AuthForge every
  heartbeat interval whatever the guard's mode, so a revoked user is refused
  within about one interval; a session nobody used for the guard's
  ``session_idle_timeout`` is dropped and costs nothing until the user's next
  message;
- **whose loss it was**: ``on_lost`` hooks receive the user id, on the event
  loop that served that user.

Adapters for aiogram, python-telegram-bot and discord.py (``authforge_guard.aiogram``,
``.telegram``, ``.discord``) are thin layers over this class.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Union
from urllib.parse import unquote, urlsplit

from .._exceptions import ConfigurationError, LicenseError

# Imported with this module (when the bot builds its UserLicenses, before its event loop
# runs), not at the first message: these pull in the AuthForge client, whose import would
# otherwise stall the loop for tens of milliseconds.
from .._stores._fleet import Fleet
from .._stores._sqlite import SqliteStore, UserRecord, UserStore

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from .._delivery._hooks import LicenseEvent
    from .._guard._facade import Guard
    from .._guard._session import Session

logger = logging.getLogger("authforge_guard")

UserId = Union[int, str]
LostHook = Callable[[Any, "LicenseEvent"], "Awaitable[Any]"]

MISSING_KEY_CODE = "missing_license_key"
MAX_KEY_LENGTH = 4096
STORE_FILE = "users.sqlite3"
# Verdicts about the license itself: remembered for the user, who is then refused without
# a call to AuthForge until they activate again (a session that merely ran out is not one).
_FINAL_CODES = frozenset({"revoked", "expired", "blocked", "hwid_mismatch"})


def telegram_subject(user_id: UserId) -> str:
    return f"tg:{user_id}"


class _User:
    """What this process knows of one user: their row, the session it last served them, and
    the loop that served them. The row is read again from the store whenever that session
    has ended, so a change made by another replica (a new key, a deactivation) counts."""

    __slots__ = ("given_id", "loop", "record", "session")

    def __init__(self, given_id: UserId, record: UserRecord) -> None:
        self.given_id = given_id  # as the bot passed it (an int for Telegram), for on_lost
        self.record = record
        self.loop: asyncio.AbstractEventLoop | None = None
        self.session: Session | None = None


class UserLicenses:
    """One license per chat user, kept for them (see the module docstring).

    ``guard``: the ``Guard`` that logs the users in (default: ``get_guard()``);
    ``store``: a file path or ``sqlite:///path`` (default: ``users.sqlite3`` in this
    app's per-user configuration directory), or ``redis://...`` for several bot
    replicas (the ``redis`` extra); ``subject``: the HWID sent for a user id.

    Every method names the user by the bot's own id for them; ``activate`` checks
    the key with AuthForge before keeping it. Errors are ``LicenseError`` (with
    ``.kind`` and a ``.user_message`` in a chat user's words).
    """

    def __init__(
        self,
        guard: Guard | None = None,
        *,
        store: str | os.PathLike[str] | None = None,
        subject: Callable[[Any], str] = telegram_subject,
    ) -> None:
        if not callable(subject):
            raise TypeError("subject must be a function of the user id, e.g. lambda u: f'tg:{u}'")
        self._guard_arg = guard
        self._store_arg = store
        self._subject = subject
        self._lock = threading.Lock()
        self._ready: tuple[Guard, UserStore, Fleet] | None = None
        self._users: dict[str, _User] = {}
        self._by_subject: dict[str, str] = {}
        self._hooks: list[LostHook] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        _LIVE.add(self)

    def _after_fork(self) -> None:
        """In a forked child (a prefork bot's or web server's worker, the UserLicenses made
        in the master): a fresh lock (a master thread may have held it), no users known
        (their sessions ended with the fork: each is read again from the store at its next
        message), no loop of the master's to run hooks on, and the fleet's watcher started
        again, so a loss another worker or replica stores reaches this one too. The store
        gives the worker its own connection (``SqliteStore``; redis-py does the same)."""
        self._lock = threading.Lock()
        self._users = {}
        self._by_subject = {}
        self._tasks = set()
        if self._ready is not None:
            self._ready[2].after_fork()

    def __repr__(self) -> str:
        store = self._ready[1] if self._ready is not None else self._store_arg
        return f"UserLicenses(store={store!r}, {len(self._users)} users seen)"

    # ------------------------------------------------------------- set-up

    def _parts(self) -> tuple[Guard, UserStore, Fleet]:
        """The guard, the store and the fleet over it (built on first use: the default
        guard reads its settings then, not when the bot module is imported)."""
        ready = self._ready
        if ready is not None:
            return ready
        with self._lock:
            if self._ready is None:
                from ._default_guard import get_guard

                guard = self._guard_arg if self._guard_arg is not None else get_guard()
                settings = guard.settings
                store = _open_store(self._store_arg, settings.app_id)
                fleet = Fleet(store, online=True, interval=settings.heartbeat_interval)
                guard.on_lost(timeout=None)(_weak_hook(self))
                weakref.finalize(self, fleet.close)
                self._ready = (guard, store, fleet)
            return self._ready

    @property
    def guard(self) -> Guard:
        """The ``Guard`` that logs the users in."""
        return self._parts()[0]

    def subject_of(self, user_id: UserId) -> str:
        """The HWID sent to AuthForge for ``user_id`` (``tg:<id>`` by default)."""
        value = self._subject(user_id)
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError("UserLicenses(subject=...) must return a non-empty string")
        return value.strip()

    # ------------------------------------------------------------- the API

    async def activate(self, user_id: UserId, key: str) -> Session:
        """Check ``key`` with AuthForge for ``user_id`` and keep it: their session from now on.

        The user's previous key (if another) is logged out and forgotten. Raises
        ``LicenseError`` when the key is refused or AuthForge cannot be reached;
        nothing is kept then."""
        uid, clean, subject = self._activation(user_id, key)
        guard, _store, fleet = self._parts()
        guard._serve(subject, fleet)
        try:
            session = await guard.aensure(clean, hwid_override=subject)
        except LicenseError as exc:
            self._after_refusal(uid, exc)
            raise
        self._keep(uid, user_id, clean, subject, session)
        self._note_loop(uid)
        return session

    def activate_sync(self, user_id: UserId, key: str) -> Session:
        """``activate`` for synchronous code (blocks while AuthForge answers)."""
        uid, clean, subject = self._activation(user_id, key)
        guard, _store, fleet = self._parts()
        guard._serve(subject, fleet)
        try:
            session = guard.ensure(clean, hwid_override=subject)
        except LicenseError as exc:
            self._after_refusal(uid, exc)
            raise
        self._keep(uid, user_id, clean, subject, session)
        return session

    async def deactivate(self, user_id: UserId) -> bool:
        """Forget ``user_id``'s key and end their session; True if they had one."""
        return self.deactivate_sync(user_id)  # local writes only: nothing to wait for

    def deactivate_sync(self, user_id: UserId) -> bool:
        """``deactivate`` for synchronous code."""
        uid = _uid(user_id)
        guard, store, _fleet = self._parts()
        with self._lock:
            self._users.pop(uid, None)
        record = store.delete_user(uid)
        if record is None:
            return False
        guard.logout(record.license_key, hwid_override=record.subject, forget=True)
        with self._lock:
            if self._by_subject.get(record.subject) == uid:
                del self._by_subject[record.subject]
        guard._serve(record.subject, None)
        logger.info("authforge_guard: a user's license key was forgotten")
        return True

    async def session(self, user_id: UserId) -> Session:
        """``user_id``'s live session: at once while it lives, else resumed from the store
        or logged in again (never on the event loop's thread). Raises ``LicenseError``:
        ``missing_license_key`` when the user has no key, the verdict when their license
        was refused."""
        user = self._user(user_id)
        guard, _store, fleet = self._parts()
        record = user.record
        self._note_loop(_uid(user_id), user)
        guard._serve(record.subject, fleet)
        try:
            session = await guard.aensure(record.license_key, hwid_override=record.subject)
        except LicenseError as exc:
            self._after_refusal(record.user_id, exc, record)
            raise
        user.session = session
        return session

    def session_sync(self, user_id: UserId) -> Session:
        """``session`` for synchronous code (may block while a session is resumed)."""
        user = self._user(user_id)
        guard, _store, fleet = self._parts()
        record = user.record
        guard._serve(record.subject, fleet)
        try:
            session = guard.ensure(record.license_key, hwid_override=record.subject)
        except LicenseError as exc:
            self._after_refusal(record.user_id, exc, record)
            raise
        user.session = session
        return session

    def on_lost(self, fn: LostHook) -> LostHook:
        """``@users.on_lost``: ``async def fn(user_id, event)`` runs when a user's license is
        lost (revoked, expired...), on the event loop that last served that user.

        Not a signal, and not the guard's hook thread: a bot's one event loop serves
        every user, so a signal (which interrupts the main thread) would break into
        other users' handlers, and a coroutine cannot run on the hook thread. The
        hook is handed to that loop with ``call_soon_threadsafe`` and runs there as a
        task, beside the other users' handlers. A user only ever served from
        synchronous code has no loop: the hook then runs on a thread of its own.
        """
        if not callable(fn):
            raise TypeError("on_lost needs an async function (user_id, event)")
        self._parts()  # the guard hook is registered now, not at the first loss
        self._hooks.append(fn)
        return fn

    def close(self) -> None:
        """End every user's session in this process (their keys and stored sessions stay:
        the next run resumes them) and close the store."""
        ready = self._ready
        if ready is None:
            return
        guard, _store, fleet = ready
        with self._lock:
            users = list(self._users.values())
        for user in users:
            guard.logout(user.record.license_key, hwid_override=user.record.subject)
            guard._serve(user.record.subject, None)
        fleet.close()

    # ------------------------------------------------------------- helpers

    def _activation(self, user_id: UserId, key: Any) -> tuple[str, str, str]:
        uid = _uid(user_id)
        clean = key.strip() if isinstance(key, str) else ""
        if not clean or len(clean) > MAX_KEY_LENGTH or any(ch.isspace() for ch in clean):
            error = LicenseError("invalid_key", "license refused: that is not a license key")
            error.per_user = True
            raise error
        return uid, clean, self.subject_of(user_id)

    def _keep(self, uid: str, given: UserId, key: str, subject: str, session: Session) -> None:
        """The key was accepted: store it, and drop the user's previous session."""
        guard, store, _fleet = self._parts()
        previous = store.get_user(uid)
        store.put_user(uid, key, subject)
        with self._lock:
            known = self._users.get(uid)
            user = _User(given, UserRecord(uid, key, subject, None))
            user.session = session
            if known is not None:
                user.loop = known.loop
            self._users[uid] = user
            self._by_subject[subject] = uid
        if previous is not None and (previous.license_key, previous.subject) != (key, subject):
            guard.logout(previous.license_key, hwid_override=previous.subject, forget=True)
        logger.info("authforge_guard: a user's license key was stored")

    def _user(self, user_id: UserId) -> _User:
        uid = _uid(user_id)
        user = self._users.get(uid)
        if user is None or user.session is None or not user.session.active:
            # No live session to serve them on: what the store says now (another replica
            # may have changed it), one quick local read per login, none per message.
            _guard, store, _fleet = self._parts()
            record = store.get_user(uid)
            if record is None:
                with self._lock:
                    self._users.pop(uid, None)
                error = LicenseError(MISSING_KEY_CODE, "no license key for this user yet")
                error.per_user = True
                raise error
            fresh = _User(user_id, record)
            with self._lock:
                if user is not None:
                    fresh.loop = user.loop
                self._users[uid] = user = fresh
                self._by_subject[record.subject] = uid
        if user.record.lost is not None:
            error = LicenseError(user.record.lost, f"license refused: {user.record.lost}")
            error.per_user = True
            raise error
        return user

    def _note_loop(self, uid: str, user: _User | None = None) -> None:
        """Remember the loop serving ``uid``: their ``on_lost`` hooks run there."""
        user = user if user is not None else self._users.get(uid)
        if user is not None:
            with contextlib.suppress(RuntimeError):
                user.loop = asyncio.get_running_loop()

    def _after_refusal(self, uid: str, error: LicenseError, record: Any = None) -> None:
        error.per_user = True
        if record is not None and error.code in _FINAL_CODES:
            self._remember_loss(uid, record.license_key, error.code)

    def _remember_loss(self, uid: str, key: str, code: str) -> None:
        _guard, store, _fleet = self._parts()
        store.mark_lost(uid, key, code)
        user = self._users.get(uid)
        if user is not None and user.record.license_key == key:
            user.record.lost = code

    # ------------------------------------------------------------- a loss

    def _guard_lost(self, event: LicenseEvent) -> None:
        """The guard's ``on_lost`` hook (its hook thread): one of our users' license?"""
        session = event.session
        subject = event.hwid
        uid = self._by_subject.get(subject) if subject is not None else None
        user = self._users.get(uid) if uid is not None else None
        if user is None or session is None:
            return
        if session.reveal_license_key() != user.record.license_key:
            return  # a session of the user's previous key: not their license any more
        if event.code in _FINAL_CODES:
            self._remember_loss(user.record.user_id, user.record.license_key, event.code)
        for hook in list(self._hooks):
            self._deliver(hook, user, event)

    def _deliver(self, hook: LostHook, user: _User, event: LicenseEvent) -> None:
        loop = user.loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._start, hook, user.given_id, event)
                return
            except RuntimeError:  # closed meanwhile
                pass
        threading.Thread(
            target=_run_alone,
            args=(hook, user.given_id, event),
            name="authforge-user-lost",
            daemon=True,
        ).start()

    def _start(self, hook: LostHook, user_id: Any, event: LicenseEvent) -> None:
        """On the user's loop: run the hook as a task, kept until it is done."""
        task = asyncio.ensure_future(_logged(hook, user_id, event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _logged(hook: LostHook, user_id: Any, event: LicenseEvent) -> None:
    try:
        result = hook(user_id, event)
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            await result
    except Exception:
        logger.exception("authforge_guard: UserLicenses on_lost hook raised")


def _run_alone(hook: LostHook, user_id: Any, event: LicenseEvent) -> None:
    asyncio.run(_logged(hook, user_id, event))


_LIVE: weakref.WeakSet[UserLicenses] = weakref.WeakSet()


def _reset_in_child() -> None:
    for users in list(_LIVE):
        users._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)


def _weak_hook(users: UserLicenses) -> Callable[[LicenseEvent], None]:
    """The guard's hook for ``users``, which it does not keep alive."""
    ref = weakref.ref(users)

    def hook(event: LicenseEvent) -> None:
        target = ref()
        if target is not None:
            target._guard_lost(event)

    return hook


def _uid(user_id: Any) -> str:
    if isinstance(user_id, bool) or not isinstance(user_id, (int, str)):
        raise TypeError(f"a user id is an int or a str, not {type(user_id).__name__}")
    text = str(user_id).strip()
    if not text:
        raise ValueError("a user id must not be empty")
    return text


def _open_store(value: str | os.PathLike[str] | None, app_id: str) -> UserStore:
    """The store a ``store=`` argument names (see ``UserLicenses``)."""
    if value is None:
        return SqliteStore(_default_path(app_id), app_id)
    text = os.fspath(value)
    if not isinstance(text, str) or not text.strip():
        raise ConfigurationError("UserLicenses(store=...) needs a path, sqlite:/// or redis://")
    scheme = urlsplit(text).scheme.lower() if "://" in text else ""
    if scheme in ("redis", "rediss", "unix"):
        try:
            from .._stores._redis_users import redis_user_store
        except ImportError:
            raise ConfigurationError(
                f"a {scheme}:// user store needs the redis package: "
                'pip install "authforge-guard[redis]"'
            ) from None
        return redis_user_store(text, app_id)
    if scheme == "sqlite":
        text = unquote(urlsplit(text).path)
        if not text:
            raise ConfigurationError("UserLicenses(store='sqlite:///...') names no file")
    elif scheme:
        raise ConfigurationError(
            f"UserLicenses(store=...): unknown scheme {scheme!r} (a path, sqlite:///, redis://)"
        )
    return SqliteStore(os.path.abspath(os.path.expanduser(text)), app_id)


def _default_path(app_id: str) -> str:
    from .._base._files import user_directory
    from .._stores._file import app_component

    root = user_directory("config")
    if root is None:
        raise ConfigurationError(
            "UserLicenses needs store=<a file path>: this user has no home directory"
        )
    return os.path.join(root, "authforge", app_component(app_id), STORE_FILE)


# --- what the ready-made chat commands say (every adapter's /activate, /license) -------

ACTIVATE_HINT = "Send /activate followed by your license key."
DEACTIVATED = "Your license key was removed from this bot."
NOTHING_TO_DEACTIVATE = "No license key was set up for you."


def status_text(session: Session) -> str:
    """A user's ``/license`` answer: tier, the subscription's end (``license_expires_at``,
    not the session's), and nothing secret (the key is masked)."""
    ends = session.license_expires_at
    until = f"until {ends:%Y-%m-%d %H:%M} UTC" if ends is not None else "lifetime"
    tier = session.tier or "licensed"
    return f"License active: {tier}, {until} (key {session.license_key})."


def activated_text(session: Session) -> str:
    return "Activated. " + status_text(session)


def feature_argument(feature: Any, where: str) -> str | None:
    """``feature`` if it is ``None`` or a feature name; else a ``ConfigurationError`` now, at
    decoration time (a gate it cannot read must not become "any license will do")."""
    if feature is None or (isinstance(feature, str) and feature.strip()):
        return feature
    raise ConfigurationError(f"{where}(feature={feature!r}): a feature name, e.g. 'pro', or None")


def check_feature(session: Session, feature: str | None) -> None:
    """Raise ``FeatureNotLicensed`` (in a user's words) unless ``session`` grants ``feature``."""
    if feature is None or feature in session.features:
        return
    from .._exceptions import FeatureNotLicensed

    error = FeatureNotLicensed(feature, session.tier)
    error.per_user = True
    raise error
