"""The server's sqlite database: schema, transactions, and the row-level queries.

One connection per ``Store``, guarded by a lock; every change runs in a
``BEGIN IMMEDIATE`` transaction so counts and credits stay exact under
concurrency, and another process (the ``admin`` command) can write to the
same file at the same time. WAL mode keeps every committed transaction
across a kill of the server process.

Nothing here is cached between requests except signing keys (immutable per
key id): an admin change made by another process is seen at the next request.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .._protocol import SigningKey, mask_key

# 2: nonces as 64-bit digests, pruned per app (``_nonces``); version 1's nonce
# table is dropped on upgrade (it only ever held replay protection).
SCHEMA_VERSION = 2
_BUSY_TIMEOUT_SECONDS = 15.0
# The write-ahead log is checkpointed every 256 pages (1 MiB) and cut back to
# 1 MiB after that, instead of sqlite's 4 MiB that then stays on disk.
_WAL_CHECKPOINT_PAGES = 256
_WAL_SIZE_LIMIT_BYTES = 1024 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS apps (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret TEXT NOT NULL,
    mac_key BLOB NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    offline_activation INTEGER NOT NULL DEFAULT 0,
    credits INTEGER,
    credits_spent INTEGER NOT NULL DEFAULT 0,
    variables TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS signing_keys (
    key_id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id),
    private_key BLOB NOT NULL,
    public_key TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS signing_keys_app ON signing_keys(app_id);
CREATE TABLE IF NOT EXISTS licenses (
    key TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id),
    variables TEXT NOT NULL DEFAULT '{}',
    slots INTEGER,
    expires_at REAL,
    label TEXT,
    revoked INTEGER NOT NULL DEFAULT 0,
    validates INTEGER NOT NULL DEFAULT 0,
    heartbeats INTEGER NOT NULL DEFAULT 0,
    credits_spent INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS licenses_app ON licenses(app_id);
CREATE TABLE IF NOT EXISTS license_hwids (
    license_key TEXT NOT NULL REFERENCES licenses(key),
    hwid TEXT NOT NULL,
    bound_at REAL NOT NULL,
    PRIMARY KEY (license_key, hwid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS offline_activations (
    license_key TEXT NOT NULL REFERENCES licenses(key),
    hwid TEXT NOT NULL,
    file TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (license_key, hwid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blacklist (
    app_id TEXT NOT NULL REFERENCES apps(id),
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (app_id, kind, value)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS nonces (
    app INTEGER NOT NULL,
    tag INTEGER NOT NULL,
    seen_us INTEGER NOT NULL,
    PRIMARY KEY (app, tag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nonces_age ON nonces(app, seen_us);
"""


@dataclass(frozen=True)
class AppRecord:
    """One row of ``apps``; the secret and the token MAC key never reach ``repr``."""

    id: str
    name: str
    secret: str = field(repr=False)
    mac_key: bytes = field(repr=False)
    disabled: bool
    offline_activation: bool
    credits: int | None  # None: unlimited
    credits_spent: int
    variables: dict[str, Any]
    created_at: float


@dataclass(frozen=True)
class LicenseRecord:
    """One row of ``licenses``; ``slots=None`` means unlimited machines."""

    key: str = field(repr=False)
    app_id: str
    variables: dict[str, Any]
    slots: int | None
    expires_at: float | None
    label: str | None
    revoked: bool
    validates: int
    heartbeats: int
    credits_spent: int
    created_at: float

    @property
    def masked_key(self) -> str:
        return mask_key(self.key)

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now


class Store:
    """The database file, opened once per server (or admin command)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        if not os.path.exists(self.path):
            # The file holds app secrets and private keys: owner only. sqlite
            # gives its -wal and -shm files the same mode.
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._conn = sqlite3.connect(
            self.path,
            timeout=_BUSY_TIMEOUT_SECONDS,
            isolation_level=None,  # explicit BEGIN/COMMIT below
            check_same_thread=False,  # shared under self._lock
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a crash of this process; only a power
        # loss can drop the last transactions, which is fine for this server.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute(f"PRAGMA wal_autocheckpoint={_WAL_CHECKPOINT_PAGES}")
        self._conn.execute(f"PRAGMA journal_size_limit={_WAL_SIZE_LIMIT_BYTES}")
        with self.transaction() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"database schema {version} is newer than this server ({SCHEMA_VERSION})"
                )
            if version == 1:
                conn.execute("DROP INDEX IF EXISTS nonces_seen")
                conn.execute("DROP TABLE IF EXISTS nonces")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextmanager
    def transaction(
        self, *, keep_on: tuple[type[BaseException], ...] = ()
    ) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        An exception listed in ``keep_on`` still commits what was written
        before it (a refused request keeps its nonce spent); pair it with
        ``savepoint`` to undo the part of the work that the refusal cancels.
        """
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except keep_on:
                self._conn.execute("COMMIT")
                raise
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


@contextmanager
def savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    """Undo the block's writes if it raises, keeping the enclosing transaction's."""
    conn.execute("SAVEPOINT work")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK TO work")
        conn.execute("RELEASE work")
        raise
    conn.execute("RELEASE work")


# --- queries on a connection inside a transaction ---------------------------


def get_app(conn: sqlite3.Connection, app_id: str) -> AppRecord | None:
    row = conn.execute(
        "SELECT id, name, secret, mac_key, disabled, offline_activation, credits,"
        " credits_spent, variables, created_at FROM apps WHERE id = ?",
        (app_id,),
    ).fetchone()
    if row is None:
        return None
    return AppRecord(
        id=row[0],
        name=row[1],
        secret=row[2],
        mac_key=bytes(row[3]),
        disabled=bool(row[4]),
        offline_activation=bool(row[5]),
        credits=row[6],
        credits_spent=row[7],
        variables=json.loads(row[8]),
        created_at=row[9],
    )


def app_ids(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT id FROM apps ORDER BY created_at, id")]


def get_license(
    conn: sqlite3.Connection, key: str, app_id: str | None = None
) -> LicenseRecord | None:
    """The license ``key``; with ``app_id``, only if it belongs to that app."""
    row = conn.execute(
        "SELECT key, app_id, variables, slots, expires_at, label, revoked, validates,"
        " heartbeats, credits_spent, created_at FROM licenses WHERE key = ?",
        (key,),
    ).fetchone()
    if row is None or (app_id is not None and row[1] != app_id):
        return None
    return LicenseRecord(
        key=row[0],
        app_id=row[1],
        variables=json.loads(row[2]),
        slots=row[3],
        expires_at=row[4],
        label=row[5],
        revoked=bool(row[6]),
        validates=row[7],
        heartbeats=row[8],
        credits_spent=row[9],
        created_at=row[10],
    )


def license_keys(conn: sqlite3.Connection, app_id: str) -> list[str]:
    rows = conn.execute(
        "SELECT key FROM licenses WHERE app_id = ? ORDER BY created_at, key", (app_id,)
    )
    return [row[0] for row in rows]


def bound_hwids(conn: sqlite3.Connection, key: str) -> list[str]:
    rows = conn.execute(
        "SELECT hwid FROM license_hwids WHERE license_key = ? ORDER BY bound_at, hwid", (key,)
    )
    return [row[0] for row in rows]


def claim_hwid(conn: sqlite3.Connection, lic: LicenseRecord, hwid: str, now: float) -> bool:
    """Bind ``hwid`` to the license if it is bound already or a slot is free."""
    bound = bound_hwids(conn, lic.key)
    if hwid in bound:
        return True
    if lic.slots is not None and len(bound) >= lic.slots:
        return False
    conn.execute(
        "INSERT INTO license_hwids (license_key, hwid, bound_at) VALUES (?, ?, ?)",
        (lic.key, hwid, now),
    )
    return True


def hwid_count(conn: sqlite3.Connection, key: str) -> int:
    row = conn.execute("SELECT COUNT(*) FROM license_hwids WHERE license_key = ?", (key,))
    count: int = row.fetchone()[0]
    return count


def spend_credits(conn: sqlite3.Connection, app_id: str, key: str, amount: int) -> bool:
    """Charge ``amount`` credits to the app (and record them on the license); False if short."""
    charged = conn.execute(
        "UPDATE apps SET credits = CASE WHEN credits IS NULL THEN NULL ELSE credits - ? END,"
        " credits_spent = credits_spent + ? WHERE id = ? AND (credits IS NULL OR credits >= ?)",
        (amount, amount, app_id, amount),
    ).rowcount
    if charged != 1:
        return False
    conn.execute(
        "UPDATE licenses SET credits_spent = credits_spent + ? WHERE key = ?", (amount, key)
    )
    return True


def is_blocked(conn: sqlite3.Connection, app_id: str, hwid: str, ip: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM blacklist WHERE app_id = ? AND"
        " ((kind = 'hwid' AND value = ?) OR (kind = 'ip' AND value = ?)) LIMIT 1",
        (app_id, hwid, ip),
    ).fetchone()
    return row is not None


def add_to_blacklist(
    conn: sqlite3.Connection, app_id: str, kind: str, value: str, now: float
) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO blacklist (app_id, kind, value, created_at) VALUES (?, ?, ?, ?)",
        (app_id, kind, value, now),
    )


def set_revoked(conn: sqlite3.Connection, key: str, revoked: bool) -> bool:
    return (
        conn.execute("UPDATE licenses SET revoked = ? WHERE key = ?", (int(revoked), key)).rowcount
        == 1
    )


# --- signing keys -------------------------------------------------------------

_key_cache: dict[str, SigningKey] = {}
_key_cache_lock = threading.Lock()


def _signing_key(key_id: str, private_raw: bytes) -> SigningKey:
    with _key_cache_lock:
        key = _key_cache.get(key_id)
        if key is None:
            key = _key_cache[key_id] = SigningKey.from_private_bytes(private_raw)
        return key


def active_signing_key(conn: sqlite3.Connection, app_id: str) -> SigningKey:
    row = conn.execute(
        "SELECT key_id, private_key FROM signing_keys WHERE app_id = ? AND active = 1",
        (app_id,),
    ).fetchone()
    if row is None:
        raise RuntimeError("app has no active signing key")
    return _signing_key(row[0], bytes(row[1]))


def public_keys(conn: sqlite3.Connection, app_id: str) -> list[str]:
    """Every public key of the app: the active one first, then older ones, newest first."""
    rows = conn.execute(
        "SELECT public_key FROM signing_keys WHERE app_id = ?"
        " ORDER BY active DESC, created_at DESC, rowid DESC",
        (app_id,),
    )
    return [row[0] for row in rows]


def add_signing_key(conn: sqlite3.Connection, app_id: str, now: float) -> SigningKey:
    """Generate a key for the app and make it the active one (older keys stay listed)."""
    key = SigningKey.generate()
    conn.execute("UPDATE signing_keys SET active = 0 WHERE app_id = ?", (app_id,))
    conn.execute(
        "INSERT INTO signing_keys (key_id, app_id, private_key, public_key, active, created_at)"
        " VALUES (?, ?, ?, ?, 1, ?)",
        (key.key_id, app_id, key.private_bytes(), key.public_key_b64, now),
    )
    return key
