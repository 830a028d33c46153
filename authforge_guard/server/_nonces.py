"""Replay protection for the local server: each app's recent nonces, in bounded storage.

Why bounded: every request that carries a valid app secret spends its nonce,
a refused one too (a replay stays a replay), so a client sending made-up
license keys used to grow the database without end (5,000 invalid-key
validates: about 1 MB of rows, kept 7 days). Each app now keeps its latest
``limit`` nonces, none older than ``NONCE_MAX_AGE_SECONDS``: the recent ones,
which a replay would reuse, are always remembered, and a flood only pushes
out the oldest. A row is two 64-bit digests and a time in microseconds,
made strictly increasing so that "newest" is exact even when many nonces
arrive in the same instant (or under a test's frozen clock). A false "replay"
needs a 64-bit collision among one app's remembered nonces (negligible, and
transient for the client, which retries with a fresh nonce).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading

# The longest session a server grants: a replay older than that could not
# yield a session that outlives a fresh login anyway.
NONCE_MAX_AGE_SECONDS = 604800
NONCE_LIMIT_PER_APP = 20000
_PRUNE_EVERY_MAX = 256


def _digest(text: str) -> int:
    """A signed 64-bit digest (what an sqlite INTEGER holds)."""
    raw = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(raw, "big", signed=True)


class NonceMemory:
    """Spends nonces in a store's ``nonces`` table, pruning each app to ``limit`` rows.

    Between prunes an app holds at most ``limit + prune_every - 1`` rows.
    """

    def __init__(self, limit: int = NONCE_LIMIT_PER_APP, max_age: float = NONCE_MAX_AGE_SECONDS):
        if limit < 1:
            raise ValueError("nonce_limit must be at least 1")
        self.limit = limit
        self.max_age = max_age
        self.prune_every = max(1, min(_PRUNE_EVERY_MAX, limit // 8))
        self._since_prune: dict[int, int] = {}
        self._last_us = 0
        self._lock = threading.Lock()

    def spend(self, conn: sqlite3.Connection, app_id: str, nonce: str, now: float) -> bool:
        """Record ``nonce`` for ``app_id`` (inside the caller's transaction); False when it
        was seen before (a replay)."""
        app = _digest(app_id)
        with self._lock:
            seen_us = self._last_us = max(self._last_us + 1, int(now * 1_000_000))
        inserted = conn.execute(
            "INSERT OR IGNORE INTO nonces (app, tag, seen_us) VALUES (?, ?, ?)",
            (app, _digest(nonce), seen_us),
        ).rowcount
        if inserted != 1:
            return False
        with self._lock:
            count = self._since_prune.get(app, 0) + 1
            due = count >= self.prune_every
            self._since_prune[app] = 0 if due else count
        if due:
            self._prune(conn, app, now)
        return True

    def _prune(self, conn: sqlite3.Connection, app: int, now: float) -> None:
        oldest_kept = int((now - self.max_age) * 1_000_000)
        conn.execute("DELETE FROM nonces WHERE app = ? AND seen_us < ?", (app, oldest_kept))
        # The limit-th newest row; the ones before it go.
        row = conn.execute(
            "SELECT seen_us FROM nonces WHERE app = ? ORDER BY seen_us DESC LIMIT 1 OFFSET ?",
            (app, self.limit - 1),
        ).fetchone()
        if row is not None:
            conn.execute("DELETE FROM nonces WHERE app = ? AND seen_us < ?", (app, row[0]))
