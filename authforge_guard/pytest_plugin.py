"""Pytest fixtures for users' own test suites: a local AuthForge server, a license, a Guard.

pytest imports this module in every run of every project that installs us,
before coverage starts. Importing it must do nothing: no server, no
environment or network reads. The library is imported inside the fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .testing import LocalAuthForge


@pytest.fixture
def authforge_server() -> Iterator[LocalAuthForge]:
    """A fresh local AuthForge server with one app; heartbeats are not rate limited."""
    from .testing import LocalAuthForge

    with LocalAuthForge(heartbeat_rate_limit=None) as server:
        yield server


@pytest.fixture
def authforge_license(authforge_server: LocalAuthForge) -> str:
    """A new license key (one machine, no expiry) on ``authforge_server``."""
    return authforge_server.create_license()


@pytest.fixture
def authforge_guard(authforge_server: LocalAuthForge, authforge_license: str) -> Iterator[Any]:
    """An ``authforge_guard.Guard`` for ``authforge_license``, logged out after the test.
    Like every ``LocalAuthForge.guard()`` it trusts the environment
    (``trust_environment=True``): a test may set ``AUTHFORGE_*`` to adjust it."""
    guard = authforge_server.guard(license_key=authforge_license)
    try:
        yield guard
    finally:
        guard.logout()
