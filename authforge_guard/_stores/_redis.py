"""The Redis session store: one set of signed sessions shared by a fleet of replicas.

``redis://host:port/db`` (``rediss://`` for TLS, ``unix:///path.sock``), through
the ``redis`` package (``pip install "authforge-guard[redis]"``), imported only
when such a URL is configured. Everything written is readable with
``redis-cli`` (``<prefix>`` is ``authforge:<app id>``):

- ``<prefix>:session:<key hash>:<hwid hash>``: a hash, ``answer`` (the JSON
  entry of ``_entry.py``: the signed answer exactly as the server sent it) and
  ``seen`` (the high-water mark), expiring with the signed session;
- ``<prefix>:lease:<purpose>:<key hash>:<hwid hash>``: ``SET NX PX`` leases,
  holding the owning instance's random id;
- ``<prefix>:tomb:<key hash>:<hwid hash>``: the last definitive loss, kept a
  few minutes, and published on ``<prefix>:tombstones``.

Every call has a short socket timeout and no retries (the caller falls back
faster than a retry would succeed); a failure is "absent" (``_fallback.py``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import threading
import time
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .._protocol import SignedSession, TrustList
from ._entry import (
    MARK_STEP_SECONDS,
    MISSING,
    TOMBSTONE_SECONDS,
    Found,
    ended_by,
    entry_for,
    hwid_hash,
    key_hash,
    mark_of,
    tombstone_record,
    verify_entry,
)
from ._fallback import Fallback
from ._report import RefusalLog, closed_store, deliver

logger = logging.getLogger("authforge_guard")

TIMEOUT_SECONDS = 0.5  # connect and every command: a store slower than this is "down"
WATCH_POLL_SECONDS = 0.5  # how long the watcher blocks for a message before checking close()
MAX_ANSWER_BYTES = 64 * 1024

# Move the mark up, never down, and never re-create an entry deleted meanwhile.
_RAISE_MARK = """
local seen = tonumber(redis.call('HGET', KEYS[1], 'seen'))
if seen and seen < tonumber(ARGV[1]) and redis.call('HGET', KEYS[1], 'answer') == ARGV[2] then
  redis.call('HSET', KEYS[1], 'seen', ARGV[1])
  return 1
end
return 0
"""
# Take the lease if free, renew it if ours.
_TAKE_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def public_url(url: str) -> str:
    """``url`` without its password, for logs and ``repr``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = (f"{parts.username}:***@" if parts.username else ":***@") + host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class RedisStore:
    """Sessions, leases and tombstones of one app in one Redis (see the module docstring)."""

    def __init__(
        self,
        url: str,
        app_id: str,
        *,
        clock: Callable[[], float] = time.time,
        timeout: float = TIMEOUT_SECONDS,
        prefix: str = "authforge",
    ) -> None:
        self.app_id = app_id
        self.url = public_url(url)
        self._clock = clock
        self._prefix = f"{prefix}:{app_id}"
        self._owner = secrets.token_hex(8)  # this instance, in leases and tombstones
        self._redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            health_check_interval=0,
        )
        self.fallback = Fallback(self.url)
        self._raise_mark = self._redis.register_script(_RAISE_MARK)
        self._take_lease = self._redis.register_script(_TAKE_LEASE)
        self._release_lease = self._redis.register_script(_RELEASE_LEASE)
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._refusals = RefusalLog(f"session store {self.url}")

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r})"

    # ------------------------------------------------------------------ keys

    def _name(self, kind: str, license_key: str, hwid: str) -> str:
        return f"{self._prefix}:{kind}:{key_hash(license_key)}:{hwid_hash(hwid)}"

    @property
    def channel(self) -> str:
        """Where tombstones are published."""
        return f"{self._prefix}:tombstones"

    def _call(self, operation: str, call: Callable[[], Any], default: Any) -> Any:
        """``call()``, or ``default`` when the store is cooling down or fails."""
        if self.fallback.skip():
            return default
        try:
            result = call()
        except (redis.RedisError, OSError, ValueError) as exc:
            self.fallback.failed(operation, exc)
            return default
        self.fallback.succeeded()
        return result

    # ------------------------------------------------------------------ load

    def load(self, license_key: str, hwid: str, *, trust: TrustList) -> Found:
        """The stored session for ``(license_key, hwid)`` if genuine, ours and alive
        (a refusal is logged here)."""
        found = self.lookup(license_key, hwid, trust=trust)
        self._refusals.report(found)
        return found

    def lookup(self, license_key: str, hwid: str, *, trust: TrustList) -> Found:
        """``load`` without the log line."""
        entry_name = self._name("session", license_key, hwid)

        def read() -> Any:
            with self._redis.pipeline(transaction=False) as pipe:
                pipe.hgetall(entry_name)
                pipe.get(self._name("tomb", license_key, hwid))
                return pipe.execute()

        replies = self._call("load", read, None)
        if replies is None:
            return Found(None, "session store unavailable")
        fields: dict[bytes, bytes] = replies[0] or {}
        raw = fields.get(b"answer")
        if raw is None:
            return MISSING
        if len(raw) > MAX_ANSWER_BYTES:
            return Found(None, "unreadable (too large)")
        try:
            entry = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            return Found(None, "unreadable (not JSON)")
        now = self._clock()
        found = verify_entry(
            entry,
            app_id=self.app_id,
            license_key=license_key,
            hwid=hwid,
            trust=trust,
            now=now,
            seen=fields.get(b"seen", b""),
        )
        # Whatever the verdict: this time was seen, and no later load may go back before it.
        seen = mark_of(fields.get(b"seen"))
        if seen is None or now - seen >= MARK_STEP_SECONDS:
            self._call("mark", lambda: self._raise_mark(keys=[entry_name], args=[now, raw]), None)
        if found.session is None:
            return found
        tombstone = _json_object(replies[1])
        ended = ended_by(tombstone, found.session, now) if tombstone is not None else ""
        if ended:
            return Found(None, ended)
        return found

    # ----------------------------------------------------------- save, forget

    def save(self, license_key: str, hwid: str, signed: SignedSession) -> None:
        """Keep ``signed`` for the fleet, expiring with the signed session."""
        now = self._clock()
        left_ms = int((signed.expires_at - now) * 1000)
        if left_ms <= 0:
            return
        entry = entry_for(signed, app_id=self.app_id, license_key=license_key, hwid=hwid, now=now)
        seen = entry.pop("seen")
        name = self._name("session", license_key, hwid)

        def write() -> None:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(name, mapping={"answer": json.dumps(entry), "seen": repr(seen)})
                pipe.pexpire(name, left_ms)
                pipe.execute()

        self._call("save", write, None)

    def forget(self, license_key: str, hwid: str) -> None:
        """Delete the entry for ``(license_key, hwid)``."""
        name = self._name("session", license_key, hwid)
        self._call("forget", lambda: self._redis.delete(name), None)

    def forget_key(self, license_key: str) -> None:
        """Delete the entries of ``license_key`` for every HWID."""
        pattern = f"{self._prefix}:session:{key_hash(license_key)}:*"

        def delete_all() -> None:
            names = list(self._redis.scan_iter(match=pattern, count=100))
            if names:
                self._redis.delete(*names)

        self._call("forget", delete_all, None)

    # ---------------------------------------------------------------- leases

    def try_lease(self, license_key: str, hwid: str, purpose: str, ttl: float) -> bool:
        """``SET NX PX`` (or renew ours); False while another instance holds it. True
        when the store is down: the caller goes ahead on its own, as without a store."""
        name = self._name(f"lease:{purpose}", license_key, hwid)
        ms = max(1, int(ttl * 1000))
        return bool(
            self._call("lease", lambda: self._take_lease(keys=[name], args=[self._owner, ms]), 1)
        )

    def release_lease(self, license_key: str, hwid: str, purpose: str) -> None:
        name = self._name(f"lease:{purpose}", license_key, hwid)
        self._call("lease", lambda: self._release_lease(keys=[name], args=[self._owner]), None)

    # ------------------------------------------------------------ tombstones

    def tombstone(self, license_key: str, hwid: str, code: str) -> None:
        """Delete the entry, keep the loss for a few minutes and publish it."""
        name = self._name("session", license_key, hwid)

        def write() -> None:
            ended = _json_object(self._redis.hget(name, "answer"))
            record = json.dumps(
                tombstone_record(
                    license_key, hwid, code, now=self._clock(), owner=self._owner, ended=ended
                )
            )
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(name)
                pipe.set(
                    self._name("tomb", license_key, hwid),
                    record,
                    px=int(TOMBSTONE_SECONDS * 1000),
                )
                pipe.publish(self.channel, record)
                pipe.execute()

        self._call("tombstone", write, None)

    def watch(self, on_tombstone: Callable[[str, str, str], None]) -> None:
        """Call ``on_tombstone(key_hash, hwid, code)`` from a daemon thread for each
        tombstone another instance publishes; reconnects after an outage."""
        if self._stop.is_set():
            raise closed_store("this Redis store")
        if self._watcher is not None and self._watcher.is_alive():
            raise RuntimeError("this store is already watched")
        # (A watcher started before a fork is not alive in the child: it may watch again.)
        subscribed = threading.Event()
        thread = threading.Thread(
            target=self._listen,
            args=(on_tombstone, subscribed),
            name="authforge-store-watch",
            daemon=True,
        )
        self._watcher = thread
        thread.start()
        # Tombstones published after watch() returns are not missed (when Redis is up).
        subscribed.wait(2 * TIMEOUT_SECONDS + 1.0)

    def _listen(
        self, on_tombstone: Callable[[str, str, str], None], subscribed: threading.Event
    ) -> None:
        delay = 0.1
        while not self._stop.is_set():
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call, unused-ignore]
            try:
                pubsub.subscribe(self.channel)
                subscribed.set()
                delay = 0.1
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=WATCH_POLL_SECONDS)
                    if message is not None and message.get("type") == "message":
                        self._dispatch(on_tombstone, message.get("data"))
            except (redis.RedisError, OSError, ValueError) as exc:
                if not self._stop.is_set():
                    self.fallback.failed("watch", exc)
            finally:
                with contextlib.suppress(redis.RedisError, OSError):
                    pubsub.close()
            self._stop.wait(delay)
            delay = min(delay * 2, 5.0)

    def _dispatch(self, on_tombstone: Callable[[str, str, str], None], data: Any) -> None:
        record = _json_object(data)
        if record is None or record.get("from") == self._owner:
            return
        hashed, hwid, code = record.get("keyHash"), record.get("hwid"), record.get("code")
        if isinstance(hashed, str) and isinstance(hwid, str) and isinstance(code, str):
            deliver(on_tombstone, hashed, hwid, code)

    def close(self) -> None:
        """Stop the watcher and close the connections."""
        self._stop.set()
        watcher, self._watcher = self._watcher, None
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(WATCH_POLL_SECONDS + 2 * TIMEOUT_SECONDS + 1.0)
        with contextlib.suppress(redis.RedisError, OSError):
            self._redis.close()


def _json_object(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, (bytes, str)) or len(raw) > MAX_ANSWER_BYTES:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None
