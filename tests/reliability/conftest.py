"""Fixtures of the reliability tests: one local server and one fault proxy per module.

Each test makes its own licenses, so a server shared by a module's tests
keeps them apart while saving a start and a stop per case. The shared server
is ``shared_af`` (not the root's per-test ``af``), with ``make_shared_client``
and ``make_shared_guard`` for it. A test that needs a server of its own (to
stop it, or to change the app) starts a ``LocalAuthForge`` itself.
"""

import pytest

from authforge_guard.testing import LocalAuthForge
from tests.conftest import clients_of, guards_of
from tests.support.fault_proxy import FaultProxy


@pytest.fixture(scope="module")
def shared_af():
    """A LocalAuthForge with the heartbeat rate limit off, shared by the module's tests."""
    with LocalAuthForge(heartbeat_rate_limit=None) as server:
        yield server


@pytest.fixture(scope="module")
def module_proxy(shared_af):
    with FaultProxy(shared_af.url) as fault_proxy:
        yield fault_proxy


@pytest.fixture
def make_shared_client(shared_af):
    """Clients for ``shared_af`` with fast retries; logged out after the test."""
    with clients_of(shared_af) as make:
        yield make


@pytest.fixture
def make_shared_guard(shared_af):
    """Guards for ``shared_af`` (online checks every 0.2 s, fast retries); logged out after."""
    with guards_of(shared_af) as make:
        yield make


@pytest.fixture
def proxy(module_proxy):
    """A ``FaultProxy`` in front of ``shared_af``, nothing armed: point clients at ``proxy.url``."""
    module_proxy.disarm()
    yield module_proxy
    module_proxy.disarm()
