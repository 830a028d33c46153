"""The SQLite store of per-user licensing: each chat user's key, and their signed sessions.

One file (stdlib ``sqlite3``, WAL), written 0600 in a 0700 directory: it holds
the users' license keys, which are their secrets. Two tables:

- ``users``: user id -> license key, subject (the HWID sent for them) and the
  definitive loss that ended their license, if any (so a revoked user is refused
  without asking AuthForge at every message);
- ``sessions``: the signed answer of each ``(license key, subject)`` exactly as
  the server sent it (``_entry.entry_for``), named by a hash of the key. A load
  goes through ``verify_entry`` like every other store's, so an edited or
  copied row is refused, never believed.

The sessions half is a ``SessionStore``: the Guard's fleet code (``_fleet.py``)
resumes, refreshes and tombstones through it. One process uses the file (a bot):
leases are always granted and there is nothing to watch.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
import weakref
from typing import Any, Callable, Protocol

from .._protocol import SignedSession, TrustList
from . import SessionStore
from ._entry import MISSING, Found, ended_by, entry_for, key_hash, tombstone_record, verify_entry

logger = logging.getLogger("authforge_guard")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,
    license_key TEXT NOT NULL,
    subject TEXT NOT NULL,
    lost TEXT,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    key_hash TEXT NOT NULL,
    hwid TEXT NOT NULL,
    entry TEXT NOT NULL,
    PRIMARY KEY (key_hash, hwid)
);
CREATE TABLE IF NOT EXISTS tombstones (
    key_hash TEXT NOT NULL,
    hwid TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (key_hash, hwid)
);
"""


class UserRecord:
    """One user's row: their key (a secret: never in ``repr``), subject and loss."""

    __slots__ = ("license_key", "lost", "subject", "user_id")

    def __init__(self, user_id: str, license_key: str, subject: str, lost: str | None) -> None:
        self.user_id = user_id
        self.license_key = license_key
        self.subject = subject
        self.lost = lost

    def __repr__(self) -> str:
        return f"UserRecord(user_id={self.user_id!r}, subject={self.subject!r}, lost={self.lost!r})"


class UserStore(SessionStore, Protocol):
    """A ``SessionStore`` that also keeps the users' keys (SQLite here, Redis beside it)."""

    def get_user(self, user_id: str) -> UserRecord | None: ...

    def put_user(self, user_id: str, license_key: str, subject: str) -> None: ...

    def mark_lost(self, user_id: str, license_key: str, code: str) -> None: ...

    def delete_user(self, user_id: str) -> UserRecord | None: ...

    def user_count(self) -> int: ...


class SqliteStore:
    """Users' keys and sessions in one SQLite file (see the module docstring).

    Thread-safe (one connection, one lock: every statement is a quick local
    write). A failing disk is logged and the call answers "absent", as every
    store does; writing a user's key is the exception: ``put_user`` raises, so
    an activation is never reported done when its key was not kept.
    """

    def __init__(self, path: str, app_id: str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.app_id = app_id
        self._clock = clock
        self._lock = threading.Lock()
        _create_private(path)
        self._pid = os.getpid()
        self._db: sqlite3.Connection | None = self._open()
        _LIVE.add(self)

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        return db

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        if self._pid != os.getpid():  # a fork the at-fork hook did not see (a C-level fork)
            self._after_fork()
        with self._lock:
            if self._db is None:
                self._db = self._open()
            return self._db.execute(sql, args).fetchall()

    def _after_fork(self) -> None:
        """In a forked child (a prefork server's worker): a connection of its own, opened at
        its first statement, and a fresh lock (a parent thread may have held the old one).

        SQLite's rule: a connection must never be used in a process it was not opened in.
        The parent's locks are not the child's, so the child's copy would write behind
        them: when the parent closed its connection it would find itself alone, checkpoint
        and delete the WAL, and every key the worker stored after that was lost. The copy
        is not closed here either (closing is a use); it is kept, untouched, until exit."""
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._lock = threading.Lock()
        if self._db is not None:
            _INHERITED.append(self._db)
        self._db = None

    # ------------------------------------------------------------------ users

    def get_user(self, user_id: str) -> UserRecord | None:
        rows = self._run(
            "SELECT license_key, subject, lost FROM users WHERE user_id = ?", (user_id,)
        )
        if not rows:
            return None
        key, subject, lost = rows[0]
        return UserRecord(user_id, key, subject, lost)

    def put_user(self, user_id: str, license_key: str, subject: str) -> None:
        self._run(
            "INSERT INTO users (user_id, license_key, subject, lost, updated) "
            "VALUES (?, ?, ?, NULL, ?) ON CONFLICT(user_id) DO UPDATE SET "
            "license_key = excluded.license_key, subject = excluded.subject, lost = NULL, "
            "updated = excluded.updated",
            (user_id, license_key, subject, self._clock()),
        )

    def mark_lost(self, user_id: str, license_key: str, code: str) -> None:
        """The user's license ended for good (``code``), unless they moved to another key."""
        self._run(
            "UPDATE users SET lost = ?, updated = ? WHERE user_id = ? AND license_key = ?",
            (code, self._clock(), user_id, license_key),
        )

    def delete_user(self, user_id: str) -> UserRecord | None:
        found = self.get_user(user_id)
        self._run("DELETE FROM users WHERE user_id = ?", (user_id,))
        return found

    def user_count(self) -> int:
        return int(self._run("SELECT COUNT(*) FROM users")[0][0])

    # ------------------------------------------------------- SessionStore

    def load(self, key: str, hwid: str, *, trust: TrustList) -> Found:
        try:
            rows = self._run(
                "SELECT entry FROM sessions WHERE key_hash = ? AND hwid = ?", (key_hash(key), hwid)
            )
        except sqlite3.Error as exc:
            return Found(None, f"unreadable ({type(exc).__name__})")
        if not rows:
            return MISSING
        try:
            entry = json.loads(rows[0][0])
        except (ValueError, RecursionError):
            return Found(None, "unreadable (not JSON)")
        now = self._clock()
        found = verify_entry(
            entry, app_id=self.app_id, license_key=key, hwid=hwid, trust=trust, now=now
        )
        if found.session is not None:
            ended = self._ended(key, hwid, found.session, now)
            if ended:
                return Found(None, ended)
        return found

    def _ended(self, key: str, hwid: str, signed: SignedSession, now: float) -> str:
        rows = self._run(
            "SELECT record FROM tombstones WHERE key_hash = ? AND hwid = ?", (key_hash(key), hwid)
        )
        if not rows:
            return ""
        try:
            record = json.loads(rows[0][0])
        except ValueError:
            return ""
        return ended_by(record, signed, now) if isinstance(record, dict) else ""

    def save(self, key: str, hwid: str, signed: SignedSession) -> None:
        entry = entry_for(signed, app_id=self.app_id, license_key=key, hwid=hwid, now=self._clock())
        self._quietly(
            "save",
            "INSERT OR REPLACE INTO sessions (key_hash, hwid, entry) VALUES (?, ?, ?)",
            (key_hash(key), hwid, json.dumps(entry)),
        )

    def forget(self, key: str, hwid: str) -> None:
        self._quietly(
            "forget",
            "DELETE FROM sessions WHERE key_hash = ? AND hwid = ?",
            (key_hash(key), hwid),
        )

    def try_lease(self, key: str, hwid: str, purpose: str, ttl: float) -> bool:
        return True  # one process uses the file: nobody else to coordinate with

    def release_lease(self, key: str, hwid: str, purpose: str) -> None:
        return None

    def tombstone(self, key: str, hwid: str, code: str) -> None:
        hashed = key_hash(key)
        rows = self._run(
            "SELECT entry FROM sessions WHERE key_hash = ? AND hwid = ?", (hashed, hwid)
        )
        ended = None
        if rows:
            with contextlib.suppress(ValueError):
                ended = json.loads(rows[0][0])
        record = tombstone_record(key, hwid, code, now=self._clock(), owner="sqlite", ended=ended)
        self._quietly(
            "tombstone", "DELETE FROM sessions WHERE key_hash = ? AND hwid = ?", (hashed, hwid)
        )
        self._quietly(
            "tombstone",
            "INSERT OR REPLACE INTO tombstones (key_hash, hwid, record) VALUES (?, ?, ?)",
            (hashed, hwid, json.dumps(record)),
        )

    def watch(self, on_tombstone: Callable[[str, str, str], None]) -> None:
        return None  # one process: its own losses reach it directly

    def close(self) -> None:
        if self._pid != os.getpid():
            self._after_fork()
        with self._lock:
            db, self._db = self._db, None
            if db is not None:
                db.close()

    def _quietly(self, operation: str, sql: str, args: tuple[Any, ...]) -> None:
        try:
            self._run(sql, args)
        except sqlite3.Error as exc:
            logger.warning(
                "authforge_guard: the user store could not %s a session (%s)",
                operation,
                type(exc).__name__,
            )


# A forked child's copies of its parent's connections: never used, never closed there.
_INHERITED: list[sqlite3.Connection] = []
_LIVE: weakref.WeakSet[SqliteStore] = weakref.WeakSet()
_HELD: list[SqliteStore] = []


def _quiet_before_fork() -> None:
    # No statement may be half-run at the fork: SQLite's own locks and mutexes would stay
    # taken in the child's copy, and its in-process lock table (which the child's new
    # connection shares) would keep refusing it ("database is locked"). So the fork
    # waits for a running statement (at most SQLite's busy timeout), as ``logging``'s
    # handlers make it wait for a write.
    stores = list(_LIVE)
    for store in stores:
        store._lock.acquire()
    _HELD[:] = stores


def _release_in_parent() -> None:
    stores, _HELD[:] = list(_HELD), []
    for store in stores:
        store._lock.release()


def _own_connections_in_child() -> None:
    _HELD.clear()
    for store in list(_LIVE):
        store._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_quiet_before_fork,
        after_in_parent=_release_in_parent,
        after_in_child=_own_connections_in_child,
    )


def _create_private(path: str) -> None:
    """Create ``path`` 0600 (its directory 0700 when we make it) before SQLite opens it:
    the file holds the users' license keys. SQLite gives its -wal/-shm files the mode of
    the database file."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)
