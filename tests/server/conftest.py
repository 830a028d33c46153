"""Fixtures of the server tests: ``wire`` speaks raw HTTP to the root ``af``; ``limited_af``
is a server with the real heartbeat rate limit, for the tests of that limit."""

import pytest

from authforge_guard.testing import LocalAuthForge

from .wire import Wire


@pytest.fixture
def limited_af():
    """A local server with the real heartbeat limit (6 per minute)."""
    with LocalAuthForge() as server:
        yield server


@pytest.fixture
def wire(af):
    connection = Wire.to(af)
    yield connection
    connection.close()
