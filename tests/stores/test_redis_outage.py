"""Redis down or gone never takes licensing down: every call answers "absent" at once."""

from __future__ import annotations

import logging
import threading

import pytest

from authforge_guard._stores._redis import RedisStore

from ..support.redis_server import RedisServer, missing_reason
from ..support.waiting import wait_for


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test alone (the test stops it)."""
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    server = RedisServer(str(tmp_path / "redis")).start()
    yield server
    server.close()


def every_call(store, key, signed, trust):
    """Each store method once; what load found."""
    found = store.load(key, "machine-a", trust=trust)
    store.save(key, "machine-a", signed)
    leased = store.try_lease(key, "machine-a", "login", 5)
    store.release_lease(key, "machine-a", "login")
    store.tombstone(key, "machine-a", "revoked")
    store.forget(key, "machine-a")
    return found, leased


def test_redis_stopped_mid_run_every_call_falls_back(own_redis, af, login, trust, caplog):
    key = af.create_license()
    signed = login(key)
    store = RedisStore(own_redis.url, af.app_id)
    store.save(key, "machine-a", signed)
    assert store.load(key, "machine-a", trust=trust).session is not None

    own_redis.stop()
    with caplog.at_level(logging.INFO, logger="authforge_guard"):
        results = [every_call(store, key, signed, trust) for _ in range(20)]

    for found, leased in results:
        assert found.session is None and found.reason == "session store unavailable"
        assert leased  # nobody can hold a lease in a store that is down: go ahead
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # rate-limited: one line, not 120
    assert "unavailable (ConnectionError" in warnings[0].getMessage()
    assert store.fallback.fallbacks == 120  # every call counted
    store.close()


def test_the_store_is_used_again_once_redis_is_back(own_redis, af, login, trust, caplog):
    key = af.create_license()
    signed = login(key)
    store = RedisStore(own_redis.url, af.app_id)
    own_redis.stop()
    store.save(key, "machine-a", signed)  # lost: Redis is down

    own_redis.start()
    with caplog.at_level(logging.INFO, logger="authforge_guard"):
        # After the cooldown the next call tries again.
        assert wait_for(
            lambda: (
                (store.save(key, "machine-a", signed), store.load(key, "machine-a", trust=trust))[
                    1
                ].session
            ),
            timeout=10,
        )
    assert "reachable again" in caplog.text
    store.close()


def test_a_watcher_reconnects_after_an_outage(own_redis, af):
    key = af.create_license()
    publisher, watcher = RedisStore(own_redis.url, af.app_id), RedisStore(own_redis.url, af.app_id)
    arrived = threading.Event()
    watcher.watch(lambda *fields: arrived.set())

    own_redis.stop()
    own_redis.start()

    # Published until the watcher has resubscribed: pub/sub keeps no backlog.
    assert wait_for(lambda: (publisher.tombstone(key, "m", "revoked"), arrived.is_set())[1], 15)
    publisher.close()
    watcher.close()


def test_a_store_that_never_answers_costs_one_timeout_then_nothing(af, login, trust):
    """A port that accepts but never speaks (a hung Redis): the first call waits its short
    timeout, the calls during the cooldown do not wait at all."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        store = RedisStore(f"redis://127.0.0.1:{silent.getsockname()[1]}/0", af.app_id, timeout=0.2)
        key = af.create_license()
        first = store.load(key, "machine-a", trust=trust)
        during_cooldown = [store.load(key, "machine-a", trust=trust) for _ in range(50)]
        assert first.reason == "session store unavailable"
        assert {found.reason for found in during_cooldown} == {"session store unavailable"}
        assert store.fallback.fallbacks == 51
        store.close()
    finally:
        silent.close()


def test_a_password_in_the_url_is_never_shown(own_redis, af, caplog):
    store = RedisStore(f"redis://user:s3cret-pass@127.0.0.1:{own_redis.port}/0", af.app_id)
    with caplog.at_level(logging.INFO, logger="authforge_guard"):
        store.forget("KEY", "m")  # AUTH fails: redis-server has no such user
    assert "s3cret-pass" not in repr(store) and "s3cret-pass" not in caplog.text
    assert "***" in repr(store)
    store.close()
