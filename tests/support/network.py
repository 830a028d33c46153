"""This machine's own network facts, for tests that need an address that is not loopback."""

from __future__ import annotations

import socket


def non_loopback_address() -> str | None:
    """This machine's address on its default route, if it has one that is not loopback."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # UDP: picks a route, sends nothing
        address: str = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") or address == "0.0.0.0" else address
