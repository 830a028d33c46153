"""Fixtures of the bot tests: a real ``redis-server`` for the replicas' shared store."""

from __future__ import annotations

import pytest

from ..support.redis_server import RedisServer, missing_reason


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """The URL of a real ``redis-server`` for this module (skips when there is none)."""
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    server = RedisServer(str(tmp_path_factory.mktemp("redis"))).start()
    yield server.url
    server.close()
