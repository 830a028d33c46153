"""Stores under test: the file store and a real Redis, side by side, and genuine signed answers.

Two instances of one store (``make_store()`` twice) stand for two processes or
replicas sharing it. The time a store sees is a ``Clock`` the test moves.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import urllib3

from authforge_guard._protocol import (
    VALIDATE_PATH,
    SigningKey,
    TrustList,
    judge_signed_response,
    new_nonce,
    validate_body,
)
from authforge_guard._protocol._encoding import b64decode, b64encode, compact_json
from authforge_guard._stores._entry import hwid_hash, key_hash

from ..support.redis_server import RedisServer, missing_reason


class Clock:
    """The wall clock a store sees: real time plus ``offset`` seconds."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    server = RedisServer(str(tmp_path_factory.mktemp("redis"))).start()
    yield server
    server.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def trust(af):
    return TrustList(af.public_key)


@pytest.fixture
def login(af):
    """``login(key, hwid="machine-a") -> SignedSession``: a real /auth/validate against ``af``."""
    pool = urllib3.PoolManager()

    def run(key, hwid="machine-a"):
        nonce = new_nonce()
        body = validate_body(
            app_id=af.app_id, app_secret=af.app_secret, license_key=key, hwid=hwid, nonce=nonce
        )
        response = pool.request(
            "POST",
            af.url + VALIDATE_PATH,
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        return judge_signed_response(
            json.loads(response.data),
            expected_nonce=nonce,
            trust=TrustList(af.public_key),
            asked=None,
        )

    yield run
    pool.clear()


class Backend:
    """One kind of store for one test: new instances over the same data, raw access to it."""

    def __init__(self, kind, af, clock, directory, redis_url=None):
        self.kind, self.af, self.clock = kind, af, clock
        self.directory = directory
        self.redis_url = redis_url
        self.instances = []

    @property
    def setting(self):
        """The store as a ``session_cache`` / ``session_store`` setting names it."""
        return str(self.directory) if self.kind == "file" else self.redis_url

    def make(self, **options):
        options.setdefault("clock", self.clock)
        if self.kind == "file":
            from authforge_guard._stores._file import FileStore

            store = FileStore(str(self.directory), self.af.app_id, poll_interval=0.05, **options)
        else:
            from authforge_guard._stores._redis import RedisStore

            store = RedisStore(self.redis_url, self.af.app_id, **options)
        self.instances.append(store)
        return store

    # Raw access, as an operator (or an attacker with access to the store) has it.

    def _redis(self):
        import redis

        return redis.Redis.from_url(self.redis_url)

    def _redis_name(self, key, hwid):
        return f"authforge:{self.af.app_id}:session:{key_hash(key)}:{hwid_hash(hwid)}"

    def read(self, key, hwid):
        """The stored entry (a dict, with ``seen``) or ``None``."""
        if self.kind == "file":
            path = Path(self.make().path_for(key, hwid))
            return json.loads(path.read_text()) if path.exists() else None
        client = self._redis()
        try:
            fields = client.hgetall(self._redis_name(key, hwid))
        finally:
            client.close()
        if not fields:
            return None
        entry = json.loads(fields[b"answer"])
        entry["seen"] = float(fields[b"seen"])
        return entry

    def write(self, key, hwid, entry):
        """Put ``entry`` (a dict, with ``seen``) straight into the store."""
        entry = dict(entry)
        if self.kind == "file":
            path = Path(self.make().path_for(key, hwid))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(entry))
            return
        seen = entry.pop("seen", time.time())
        client = self._redis()
        try:
            client.hset(
                self._redis_name(key, hwid),
                mapping={"answer": json.dumps(entry), "seen": repr(float(seen))},
            )
        finally:
            client.close()

    def close(self):
        for store in self.instances:
            store.close()


@pytest.fixture(params=["file", "redis"])
def backend(request, af, clock, tmp_path):
    redis_url = None
    if request.param == "redis":
        redis_url = request.getfixturevalue("redis_server").url
    backend = Backend(request.param, af, clock, tmp_path / "store", redis_url)
    yield backend
    backend.close()


def forged(entry, *, license_variables=None, signing_key=None):
    """``entry`` edited by hand: new variables in its payload, the old signature kept or
    a new one by ``signing_key``."""
    entry = dict(entry)
    payload = json.loads(b64decode(entry["payload"]))
    if license_variables is not None:
        payload["licenseVariables"] = license_variables
    entry["payload"] = b64encode(compact_json(payload).encode("utf-8"))
    if signing_key is not None:
        entry["signature"] = signing_key.sign(entry["payload"])
        entry["keyId"] = signing_key.key_id
    return entry


__all__ = ["Clock", "SigningKey", "forged"]
