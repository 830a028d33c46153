"""Per-user licensing's store in Redis: the users' keys beside the fleet's sessions.

For a bot run as several replicas: ``UserLicenses(store="redis://...")``. The
sessions are the ``RedisStore``'s (one login, one heartbeat per user across the
replicas, losses fanned out); the users' keys live in one hash,
``<prefix>:users`` (field: the user id; value: JSON with the key, the subject
and a remembered loss). The keys are the users' secrets: protect the Redis as
you would a database of passwords (``rediss://``, a password, no public port).

Reading or writing a user's key does not fall back to "absent" as the session
calls do: a Redis that cannot be reached is an ``unreachable`` refusal
(``store_unavailable``), never "this user has no key".
"""

from __future__ import annotations

import json
from typing import Any

import redis

from .._exceptions import LicenseError
from ._redis import RedisStore
from ._sqlite import UserRecord

UNAVAILABLE = "store_unavailable"


class RedisUserStore(RedisStore):
    """``RedisStore`` plus the users' keys (see the module docstring)."""

    @property
    def _users(self) -> str:
        return f"{self._prefix}:users"

    def _must(self, call: Any) -> Any:
        try:
            return call()
        except (redis.RedisError, OSError) as exc:
            error = LicenseError(UNAVAILABLE, f"license refused: {UNAVAILABLE}")
            error.per_user = True
            raise error from exc

    def get_user(self, user_id: str) -> UserRecord | None:
        raw = self._must(lambda: self._redis.hget(self._users, user_id))
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return None
        key, subject, lost = value.get("key"), value.get("subject"), value.get("lost")
        if not isinstance(key, str) or not isinstance(subject, str):
            return None
        return UserRecord(user_id, key, subject, lost if isinstance(lost, str) else None)

    def put_user(self, user_id: str, license_key: str, subject: str) -> None:
        value = json.dumps({"key": license_key, "subject": subject, "lost": None})
        self._must(lambda: self._redis.hset(self._users, user_id, value))

    def mark_lost(self, user_id: str, license_key: str, code: str) -> None:
        found = self.get_user(user_id)
        if found is None or found.license_key != license_key:
            return
        value = json.dumps({"key": license_key, "subject": found.subject, "lost": code})
        self._must(lambda: self._redis.hset(self._users, user_id, value))

    def delete_user(self, user_id: str) -> UserRecord | None:
        found = self.get_user(user_id)
        self._must(lambda: self._redis.hdel(self._users, user_id))
        return found

    def user_count(self) -> int:
        return int(self._must(lambda: self._redis.hlen(self._users)))


def redis_user_store(url: str, app_id: str) -> RedisUserStore:
    """A ``RedisUserStore`` for ``url`` (a bad URL is a ``ConfigurationError``)."""
    from .._exceptions import ConfigurationError

    try:
        return RedisUserStore(url, app_id)
    except ValueError as exc:
        scheme = url.split(":", 1)[0]
        raise ConfigurationError(
            f"UserLicenses store: not a usable {scheme}:// URL ({type(exc).__name__})"
        ) from None
