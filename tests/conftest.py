"""Shared fixtures: a real local AuthForge server on loopback, and guards/clients for it.

The names mean one thing everywhere in the suite:

- ``af``: a fresh ``LocalAuthForge`` for this one test, with the heartbeat rate limit off
  (tests use sub-second heartbeat intervals). No folder redefines it.
- ``make_client`` / ``make_guard``: clients and guards for ``af``, with fast retries,
  logged out after the test.

A folder that needs another kind of server gives it another name: ``limited_af`` in
``tests/server`` (the real limit of 6 heartbeats a minute), ``shared_af`` in
``tests/reliability`` (one server per module, with ``make_shared_client`` and
``make_shared_guard`` for it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Callable

import pytest

from authforge_guard._transport._retry import RetryPolicy
from tests.support.redis_server import RedisServer, missing_reason

# Real retries, real sleeps, only shorter: tests must not wait 2 s and 5 s.
FAST_RETRY = RetryPolicy(rate_limit_delays=(0.05, 0.1), network_delays=(0.05,), max_retry_after=0.2)


def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (pyproject.toml): two workers a core. The suite mostly waits (servers,
    heartbeat intervals, child interpreters, builds): a whole run used 252 s of CPU in
    508 s on two workers, so two more workers fill the idle cores. Measured in the
    helper's report of the CI time work; ``-n N`` on the command line still wins."""
    import os

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return 2 * cores


# Files of half a minute or more of one worker's time (builds, fresh pytest processes on
# other releases, whole benches, bots end to end, mypy runs), measured on two busy cores,
# longest first. With --dist loadfile a file runs on one worker: a long file that starts
# late is the run's tail while the other workers sit idle. Started first, they overlap the
# short files. (pytest-xdist would reorder files by their number of tests, which put the
# two-test build files near the end: --no-loadscope-reorder in pyproject.toml.)
LONG_FILES_FIRST = (
    "tests/shipping/test_frozen.py",
    "tests/shipping/test_frozen_deferred.py",
    "tests/versions/",
    "tests/bots/test_examples.py",
    "tests/bench/",
    "tests/bots/",
    "tests/guard/test_typing.py",
    "tests/tenants/test_memory.py",
    "tests/desktop/",
    "tests/security/test_answer_binding.py",
    "tests/delivery/test_signals.py",
    "tests/delivery/test_fork.py",
    "tests/reliability/test_config_properties.py",
)


def pytest_collection_modifyitems(config, items):
    """The long files first; the other files by their number of tests, most first (the
    order pytest-xdist would give them). A stable sort: every worker sees the same order,
    and a file's tests keep theirs."""
    import collections

    def path_of(item):
        return item.nodeid.split("::", 1)[0]

    tests_in = collections.Counter(path_of(item) for item in items)

    def rank(item):
        path = path_of(item)
        for number, prefix in enumerate(LONG_FILES_FIRST):
            if path.startswith(prefix):
                return (number, 0)
        return (len(LONG_FILES_FIRST), -tests_in[path])

    items.sort(key=rank)


@pytest.fixture
def af():
    """A fresh LocalAuthForge for this test, heartbeat rate limit off (sub-second heartbeats)."""
    from authforge_guard.testing import LocalAuthForge

    with LocalAuthForge(heartbeat_rate_limit=None) as server:
        yield server


@contextlib.contextmanager
def clients_of(server) -> Iterator[Callable[..., Any]]:
    """``make(**overrides)``: clients for ``server`` with fast retries, logged out at the end."""
    clients = []

    def make(**overrides):
        overrides.setdefault("retry_policy", FAST_RETRY)
        overrides.setdefault("hwid_override", "test-machine")
        client = server.client(**overrides)
        clients.append(client)
        return client

    try:
        yield make
    finally:
        for client in clients:
            client.logout()


@contextlib.contextmanager
def guards_of(server) -> Iterator[Callable[..., Any]]:
    """``make(**overrides)``: guards for ``server`` (online checks every 0.2 s, fast retries),
    logged out at the end."""
    guards = []

    def make(**overrides):
        overrides.setdefault("retry_policy", FAST_RETRY)
        overrides.setdefault("hwid_override", "test-machine")
        overrides.setdefault("heartbeat", "online")
        overrides.setdefault("heartbeat_interval", 0.2)
        overrides.setdefault("hook_timeout", 5.0)
        guard = server.guard(**overrides)
        guards.append(guard)
        return guard

    try:
        yield make
    finally:
        for guard in guards:
            guard.logout()


@pytest.fixture
def make_client(af):
    """Clients for ``af`` with fast retries; logged out after the test."""
    with clients_of(af) as make:
        yield make


@pytest.fixture
def make_guard(af):
    """Guards for ``af``: online checks every 0.2 s, fast retries; logged out afterwards."""
    with guards_of(af) as make:
        yield make


@pytest.fixture(autouse=True)
def _fresh_default_guard(monkeypatch):
    """Each test starts with no process-wide guard and no AUTHFORGE_* settings."""
    import os

    from authforge_guard._api._default_guard import _reset_default_for_tests

    for name in list(os.environ):
        if name.startswith("AUTHFORGE_"):
            monkeypatch.delenv(name)
    _reset_default_for_tests()
    yield
    _reset_default_for_tests()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """The URL of a real ``redis-server`` for this module (skips when there is none)."""
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    server = RedisServer(str(tmp_path_factory.mktemp("redis"))).start()
    yield server.url
    server.close()
