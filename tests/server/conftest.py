import pytest

from authforge_guard.testing import LocalAuthForge

from .wire import Wire


@pytest.fixture
def af():
    """A local server with the real heartbeat limit (6 per minute)."""
    with LocalAuthForge() as server:
        yield server


@pytest.fixture
def fast_af():
    """A local server without the heartbeat limit."""
    with LocalAuthForge(heartbeat_rate_limit=None) as server:
        yield server


@pytest.fixture
def wire(af):
    connection = Wire.to(af)
    yield connection
    connection.close()


@pytest.fixture
def fast_wire(fast_af):
    connection = Wire.to(fast_af)
    yield connection
    connection.close()
