"""Fixtures of the reliability tests: a fault proxy in front of the local server."""

import pytest

from tests.support.fault_proxy import FaultProxy


@pytest.fixture
def proxy(af):
    """A ``FaultProxy`` in front of ``af``: point a client at ``proxy.url``."""
    with FaultProxy(af.url) as fault_proxy:
        yield fault_proxy
