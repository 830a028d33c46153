"""Framework tests: the real frameworks (skipped when one is not installed), a real local
AuthForge server, and the examples run as their users run them."""

import socket

import pytest

from ..examples.conftest import EXAMPLES, example_env, run_example  # noqa: F401


@pytest.fixture
def silent_port():
    """A loopback port that accepts connections and never answers (a hung server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


@pytest.fixture
def customer_env(af, tmp_path):
    """The vendor's settings, no license key, and an empty config dir for the stored key."""

    def make(license_key=None, **extra):
        extra.setdefault("XDG_CONFIG_HOME", str(tmp_path / "config"))
        return example_env(af, license_key, **extra)

    return make
