"""Fixtures of the loss-delivery tests: a real local server, guards that check often."""

import pytest

from tests.support.fault_proxy import FaultProxy


@pytest.fixture
def proxy(af):
    """A ``FaultProxy`` in front of ``af``: point a guard at ``proxy.url``."""
    with FaultProxy(af.url) as fault_proxy:
        yield fault_proxy
