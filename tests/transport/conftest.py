"""Fixtures of the transport tests: servers that drip their answers (``tests/support/drip.py``)."""

import pytest

from tests.support.drip import DripServer


@pytest.fixture
def drip():
    """``make(where, tls=None, drip=...)``: a dripping server, closed after the test."""
    servers = []

    def make(where, tls=None, **options):
        server = DripServer(where, tls, **options)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()
