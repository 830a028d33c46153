"""Fixtures of the many-licenses tests: one real server, a fault proxy in front of it."""

import pytest

from tests.support.fault_proxy import FaultProxy


@pytest.fixture
def proxy(af):
    with FaultProxy(af.url) as fault_proxy:
        yield fault_proxy


def validates(af, key):
    return af.stats()["licenses"].get(key, {}).get("validates", 0)
