"""Shared fixtures: a real local AuthForge server on loopback, and guards/clients for it."""

from __future__ import annotations

import pytest

from authforge_guard._retry import RetryPolicy

# Real retries, real sleeps, only shorter: tests must not wait 2 s and 5 s.
FAST_RETRY = RetryPolicy(rate_limit_delays=(0.05, 0.1), network_delays=(0.05,), max_retry_after=0.2)


@pytest.fixture
def af():
    """A LocalAuthForge with the heartbeat rate limit off (sub-second heartbeats)."""
    from authforge_guard.testing import LocalAuthForge

    with LocalAuthForge(heartbeat_rate_limit=None) as server:
        yield server


@pytest.fixture
def make_client(af):
    """Clients for ``af`` with fast retries; logged out after the test."""
    clients = []

    def make(**overrides):
        overrides.setdefault("retry_policy", FAST_RETRY)
        overrides.setdefault("hwid_override", "test-machine")
        client = af.client(**overrides)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.logout()


@pytest.fixture
def make_guard(af):
    """Guards for ``af``: online checks every 0.2 s, fast retries; logged out afterwards."""
    guards = []

    def make(**overrides):
        overrides.setdefault("retry_policy", FAST_RETRY)
        overrides.setdefault("hwid_override", "test-machine")
        overrides.setdefault("heartbeat", "online")
        overrides.setdefault("heartbeat_interval", 0.2)
        overrides.setdefault("hook_timeout", 5.0)
        guard = af.guard(**overrides)
        guards.append(guard)
        return guard

    yield make
    for guard in guards:
        guard.logout()


@pytest.fixture(autouse=True)
def _fresh_default_guard(monkeypatch):
    """Each test starts with no process-wide guard and no AUTHFORGE_* settings."""
    import os

    from authforge_guard._guard import _reset_default_for_tests

    for name in list(os.environ):
        if name.startswith("AUTHFORGE_"):
            monkeypatch.delenv(name)
    _reset_default_for_tests()
    yield
    _reset_default_for_tests()
