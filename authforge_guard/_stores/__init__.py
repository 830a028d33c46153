"""Where sessions are kept outside the process: the session-store seam.

A store keeps the signed answer of each ``(license key, HWID)`` session so
that another run (the file cache) or another replica (Redis) can use it
instead of logging in again, and lets the replicas agree on who logs in and
who checks in (leases) and tell each other of a definitive loss (tombstones).

Two stores ship: ``FileStore`` (this machine, ``_file.py``) and
``RedisStore`` (a fleet, ``_redis.py``, the optional ``redis`` extra). A user
may write another: any object with the methods of ``SessionStore``.

The rules every store keeps (the shipped ones share the code for them):

- **Nothing unverified**: ``load`` returns a session only through
  ``verify_entry`` (signature, app, HWID, key, signed end, clock), so a store
  written by someone else can deny service but cannot grant a license.
- **No secrets at rest**: entries are named by app id, SHA-256 of the license
  key and the HWID; neither the app secret nor a plain license key is written.
- **Never in the way**: a store that fails answers "absent", "not leased",
  "not published" (a rate-limited WARNING, see ``_fallback.py``), never raises
  into licensing; every call has a short timeout.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Callable, Protocol, Union
from urllib.parse import unquote, urlsplit

from .._exceptions import ConfigurationError
from .._protocol import SignedSession, TrustList
from ._entry import Found, key_hash, verify_entry

__all__ = [
    "Found",
    "SessionStore",
    "is_session_store",
    "key_hash",
    "parse_store_setting",
    "store_from_setting",
    "verify_entry",
]

LOGIN = "login"  # lease purpose: the one replica logging a session in
HEARTBEAT = "heartbeat"  # lease purpose: the one replica checking a session in

_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"", "0", "false", "no", "off", "none"})
_REDIS_SCHEMES = ("redis", "rediss", "unix")


class SessionStore(Protocol):
    """What the Guard asks of a session store. Every method is quick and never raises
    for a store problem (that is "absent" / False / a no-op)."""

    def load(self, key: str, hwid: str, *, trust: TrustList) -> Found:
        """The stored session for ``(key, hwid)``, verified (``verify_entry``), or why not."""
        ...

    def save(self, key: str, hwid: str, signed: SignedSession) -> None:
        """Keep the signed answer for ``(key, hwid)``, replacing the previous one."""
        ...

    def forget(self, key: str, hwid: str) -> None:
        """Delete the entry for ``(key, hwid)`` (a logout that ends it for good)."""
        ...

    def try_lease(self, key: str, hwid: str, purpose: str, ttl: float) -> bool:
        """Take the ``purpose`` (``"login"``, ``"heartbeat"``) lease for ``ttl`` seconds;
        False while another instance holds it. Renewing one's own lease succeeds. A store
        that cannot tell (down) says True: the caller goes ahead as without a store."""
        ...

    def release_lease(self, key: str, hwid: str, purpose: str) -> None:
        """Give back a lease this instance holds (another's is left alone)."""
        ...

    def tombstone(self, key: str, hwid: str, code: str) -> None:
        """A definitive loss (``code``: revoked, expired, ...): delete the entry, refuse
        older copies for a while, and tell the other instances' watchers."""
        ...

    def watch(self, on_tombstone: Callable[[str, str, str], None]) -> None:
        """From now on call ``on_tombstone(key_hash, hwid, code)`` (from a store thread)
        for tombstones written by other instances. A store may do nothing here."""
        ...

    def close(self) -> None:
        """Stop watching and release connections."""
        ...


StoreSetting = Union[bool, str, "os.PathLike[str]", SessionStore, None]

_STORE_METHODS = ("load", "save", "forget", "try_lease", "release_lease", "tombstone", "watch")


def is_session_store(value: object) -> bool:
    """Whether ``value`` is a store object (it has the methods of ``SessionStore``)."""
    if isinstance(value, (bool, str, bytes, os.PathLike)) or value is None:
        return False
    return all(callable(getattr(value, name, None)) for name in (*_STORE_METHODS, "close"))


def parse_store_setting(value: object) -> bool | str | SessionStore:
    """The one reading of a ``session_store`` / ``session_cache`` value (the Guard's
    settings and ``store_from_setting`` both go through it, so they cannot disagree).

    ``False``: no store. ``True``: the per-user file cache of the app. A ``str``
    with ``://``: a Redis URL (``redis://``, ``rediss://``, ``unix:///path``).
    Any other ``str``: a directory (``file://`` URLs are read as their path). A
    store object (the methods of ``SessionStore``) is used as it is. Anything
    else is a ``ValueError`` whose message never shows the value (a URL may
    carry a password).
    """
    if value is None or value is False:
        return False
    if value is True:
        return True
    if is_session_store(value):
        return value  # type: ignore[return-value]
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise ValueError(
            "must be True, False, a directory path, a URL (file://, redis://, rediss://, "
            "unix://) or a SessionStore object"
        )
    text = value.strip()
    word = text.lower()
    if word in _FALSE_WORDS:
        return False
    if word in _TRUE_WORDS:
        return True
    scheme = urlsplit(text).scheme.lower() if "://" in text else ""
    if scheme in _REDIS_SCHEMES:
        return text
    if scheme == "file":
        path = unquote(urlsplit(text).path)
        if not path:
            raise ValueError("a file:// URL needs a path")
        return path
    if scheme or "://" in text:
        raise ValueError(
            f"unknown scheme {scheme!r} (use a directory path, file://, redis://, rediss:// "
            "or unix://)"
        )
    return text


def is_store_url(parsed: object) -> bool:
    """Whether a parsed setting names a Redis store (a URL), not a directory."""
    return isinstance(parsed, str) and "://" in parsed


def store_from_setting(
    value: StoreSetting,
    app_id: str,
    environ: Mapping[str, str] | None = None,
    *,
    clock: Callable[[], float] = time.time,
) -> SessionStore | None:
    """The store a ``session_store`` / ``session_cache`` setting names, or ``None`` for none.

    ``True`` (or ``"1"``, ``"yes"``...): the per-user file cache of this app;
    ``redis://host:port/db``, ``rediss://...`` (TLS), ``unix:///path``: Redis;
    ``file:///dir`` or a path: a file store in that directory as is; a
    ``SessionStore`` object: itself; ``False``, ``None``, ``""``, ``"0"``:
    none (see ``parse_store_setting``). A Redis URL without the ``redis``
    package installed is a ``ConfigurationError``.
    """
    from ._file import FileStore

    try:
        parsed = parse_store_setting(value)
    except ValueError as exc:
        raise ConfigurationError(f"session store: {exc}") from None
    if parsed is False:
        return None
    if parsed is True:
        return FileStore.default(app_id, environ, clock=clock)
    if not isinstance(parsed, str):
        return parsed  # the program's own store
    if is_store_url(parsed):
        return _redis_store(parsed, app_id, clock)
    return FileStore(os.path.abspath(os.path.expanduser(parsed)), app_id, clock=clock)


def _redis_store(url: str, app_id: str, clock: Callable[[], float]) -> SessionStore:
    # Messages name the scheme only: the URL may hold a password.
    scheme = url.split(":", 1)[0]
    try:
        from ._redis import RedisStore
    except ImportError:
        raise ConfigurationError(
            f"a {scheme}:// session store needs the redis package: "
            'pip install "authforge-guard[redis]"'
        ) from None
    try:
        return RedisStore(url, app_id, clock=clock)
    except ValueError as exc:  # redis-py's URL parser
        raise ConfigurationError(
            f"session store: not a usable {scheme}:// URL ({type(exc).__name__})"
        ) from None
