"""Which store a setting names, and a Guard resuming through each of them."""

from __future__ import annotations

import logging
import os

import pytest

from authforge_guard import ConfigurationError
from authforge_guard._stores import store_from_setting
from authforge_guard._stores._file import FileStore

from ..cache.conftest import counts
from ..support.redis_server import missing_reason
from .conftest import forged


@pytest.mark.parametrize("off", [None, False, "", "0", "off", "no", "false"])
def test_off(off):
    assert store_from_setting(off, "app") is None


@pytest.mark.parametrize("on", [True, "1", "yes", "on", "TRUE"])
def test_on_is_the_per_user_cache(on, tmp_path):
    store = store_from_setting(on, "my-app", {"XDG_CACHE_HOME": str(tmp_path)})
    assert isinstance(store, FileStore)
    assert store.directory == str(tmp_path / "authforge-guard" / "my-app")


def test_a_path_or_a_file_url_is_that_directory(tmp_path):
    by_path = store_from_setting(str(tmp_path / "a"), "app")
    by_pathlike = store_from_setting(tmp_path / "b", "app")
    by_url = store_from_setting(f"file://{tmp_path}/c%20d", "app")
    assert [s.directory for s in (by_path, by_pathlike, by_url)] == [
        str(tmp_path / "a"),
        str(tmp_path / "b"),
        str(tmp_path / "c d"),
    ]


def test_an_unknown_scheme_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="unknown scheme 'memcached'"):
        store_from_setting("memcached://127.0.0.1:11211", "app")


@pytest.mark.skipif(bool(missing_reason()), reason=missing_reason() or "")
@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "rediss://127.0.0.1:1/0"])
def test_redis_urls_make_a_redis_store(url):
    from authforge_guard._stores._redis import RedisStore

    store = store_from_setting(url, "app")
    assert isinstance(store, RedisStore) and store.url == url
    store.close()


def test_a_redis_url_without_the_redis_package_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.delitem(sys.modules, "authforge_guard._stores._redis", raising=False)
    monkeypatch.setitem(sys.modules, "redis", None)  # as if not installed
    with pytest.raises(
        ConfigurationError, match=r"pip install \"authforge-guard\[redis\]\""
    ) as caught:
        store_from_setting("redis://user:s3cret@127.0.0.1:6379/0", "app")
    assert "s3cret" not in str(caught.value)


@pytest.mark.skipif(bool(missing_reason()), reason=missing_reason() or "")
def test_a_broken_redis_url_is_a_configuration_error_without_the_password():
    with pytest.raises(ConfigurationError, match="not a usable redis:// URL") as caught:
        store_from_setting("redis://user:s3cret@127.0.0.1:notaport/0", "app")
    assert "s3cret" not in str(caught.value)


def test_redis_is_imported_only_for_a_redis_store(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from authforge_guard._stores import store_from_setting\n"
        f"store_from_setting({str(tmp_path)!r}, 'app')\n"
        "assert 'redis' not in sys.modules, 'redis imported'\n"
        "import authforge_guard\n"
        "authforge_guard.Guard\n"
        "assert 'redis' not in sys.modules, 'redis imported'\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# --- a Guard on each store (through the session_cache setting the Guard reads today)


@pytest.fixture(params=["file", "redis"])
def guard_backend(request, af, clock, tmp_path):
    from .conftest import Backend

    redis_url = request.getfixturevalue("redis_server").url if request.param == "redis" else None
    backend = Backend(request.param, af, clock, tmp_path / "store", redis_url)
    yield backend
    backend.close()


def test_guards_share_one_login_through_the_store(af, make_guard, guard_backend):
    key = af.create_license({"tier": "pro"})

    tiers = [
        make_guard(heartbeat="grace", session_store=guard_backend.setting, hwid_override="tg:1")
        .ensure(key)
        .tier
        for _ in range(5)
    ]

    assert tiers == ["pro"] * 5
    assert counts(af, key) == (1, 0)


def test_a_guard_ignores_a_forged_entry_and_logs_in(af, make_guard, guard_backend, caplog):
    backend = guard_backend
    key = af.create_license({"tier": "free"})
    make_guard(heartbeat="grace", session_store=backend.setting, hwid_override="m").ensure(key)
    backend.write(
        key, "m", forged(backend.read(key, "m"), license_variables={"tier": "enterprise"})
    )

    with caplog.at_level(logging.INFO, logger="authforge_guard"):
        guard = make_guard(heartbeat="grace", session_store=backend.setting, hwid_override="m")
        assert guard.ensure(key).tier == "free"

    assert "not validly signed (signature_mismatch)" in caplog.text
    assert counts(af, key) == (2, 0)
