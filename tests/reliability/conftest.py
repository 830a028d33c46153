"""Fixtures of the reliability tests: one local server and one fault proxy per module.

Each test makes its own licenses, so a server shared by a module's tests
keeps them apart while saving a start and a stop per case. A test that
needs a server of its own (to stop it, or to change the app) starts a
``LocalAuthForge`` itself.
"""

import pytest

from authforge_guard.testing import LocalAuthForge
from tests.support.fault_proxy import FaultProxy


@pytest.fixture(scope="module")
def af():
    """A LocalAuthForge with the heartbeat rate limit off, shared by the module's tests."""
    with LocalAuthForge(heartbeat_rate_limit=None) as server:
        yield server


@pytest.fixture(scope="module")
def module_proxy(af):
    with FaultProxy(af.url) as fault_proxy:
        yield fault_proxy


@pytest.fixture
def proxy(module_proxy):
    """A ``FaultProxy`` in front of ``af`` with nothing armed: point a client at ``proxy.url``."""
    module_proxy.disarm()
    yield module_proxy
    module_proxy.disarm()
