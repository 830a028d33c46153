"""One reading of the store setting (issue 26): ``Guard(session_store=...)`` and the stores
read a value the same way, so a ``unix://`` Redis socket reaches Redis, and a program's own
``SessionStore`` object is a setting too."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from authforge_guard import ConfigurationError, Guard
from authforge_guard._stores import store_from_setting
from authforge_guard._stores._file import FileStore

from ..cache.conftest import counts
from ..support.redis_server import missing_reason

VALUES = [
    True,
    False,
    None,
    "",
    "yes",
    "off",
    "none",
    "/srv/app/sessions",
    "relative/sessions",
    Path("/srv/app/sessions"),
    "file:///srv/app/sessions",
    "file://",
    "redis://127.0.0.1:6379/0",
    "rediss://cache.example:6380/1",
    "unix:///run/redis/redis.sock",
    "ftp://example/sessions",
    "http://example/sessions",
    "s3://bucket",
    42,
    b"/srv/app/sessions",
]


def accepted(make):
    try:
        make()
    except ConfigurationError:
        return False
    return True


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_the_guard_and_the_stores_agree_on_every_value(af, value):
    pytest.importorskip("redis")  # a Redis URL makes a RedisStore (it connects lazily)
    by_guard = accepted(
        lambda: Guard(app_id=af.app_id, public_key=af.public_key, session_store=value)
    )
    by_stores = accepted(lambda: store_from_setting(value, af.app_id))
    assert by_guard == by_stores


def test_a_unix_socket_url_is_a_redis_store_in_the_settings(af):
    pytest.importorskip("redis")
    guard = Guard(
        app_id=af.app_id, public_key=af.public_key, session_store="unix:///run/redis.sock"
    )
    assert guard.settings.session_store == "unix:///run/redis.sock"
    assert guard.settings.session_cache is False  # not a directory


@pytest.fixture
def unix_redis(tmp_path):
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    import redis

    socket_path = tmp_path / "redis.sock"
    process = subprocess.Popen(
        [
            shutil.which("redis-server"),
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(tmp_path),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"unix://{socket_path}"
        deadline = time.monotonic() + 10
        while True:  # a hang guard, not a timing: wait until it answers
            try:
                if redis.Redis.from_url(url, socket_timeout=1).ping():
                    break
            except (redis.RedisError, OSError):
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.skip("redis-server did not start on a unix socket")
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def test_guards_share_one_login_through_redis_on_a_unix_socket(af, make_guard, unix_redis):
    key = af.create_license({"tier": "pro"})
    tiers = [
        make_guard(heartbeat="grace", session_store=unix_redis, hwid_override="m").ensure(key).tier
        for _ in range(3)
    ]
    assert tiers == ["pro"] * 3
    assert counts(af, key) == (1, 0)


class CountingStore:
    """A program's own store: here one that counts what it is asked, over a directory."""

    def __init__(self, directory: str, app_id: str) -> None:
        self._inner = FileStore(directory, app_id, poll_interval=0.05)
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        method = getattr(self._inner, name)
        if not callable(method):
            return method

        def counted(*args, **kwargs):
            self.calls.append(name)
            return method(*args, **kwargs)

        return counted


def test_a_session_store_object_is_a_setting(af, make_guard, tmp_path):
    """Each guard is given its own store object (a guard watches its store and closes it with
    itself), here two over the same directory."""
    key = af.create_license({"tier": "pro"})
    stores = [CountingStore(os.fspath(tmp_path / "sessions"), af.app_id) for _ in range(2)]
    first = make_guard(heartbeat="grace", session_store=stores[0], hwid_override="m")
    assert first.settings.session_store is stores[0] and first.settings.session_cache is False
    assert first.ensure(key).tier == "pro"
    assert "save" in stores[0].calls

    second = make_guard(heartbeat="grace", session_store=stores[1], hwid_override="m")
    assert second.ensure(key).tier == "pro"  # resumed from what the first one stored
    assert "load" in stores[1].calls and "save" not in stores[1].calls
    assert counts(af, key) == (1, 0)


def test_the_older_session_cache_setting_takes_directories_only(af):
    store = CountingStore("sessions", af.app_id)
    for value in ("redis://127.0.0.1:6379/0", "unix:///run/redis.sock", store):
        with pytest.raises(ConfigurationError, match="set with session_store"):
            Guard(app_id=af.app_id, public_key=af.public_key, session_cache=value)
    with pytest.raises(ConfigurationError, match="or a SessionStore object"):
        Guard(app_id=af.app_id, public_key=af.public_key, session_store=object())
