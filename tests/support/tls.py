"""Self-signed certificates and TLS contexts for a loopback HTTPS server in tests."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from authforge_guard.server._tls import write_self_signed


@dataclass(frozen=True)
class SelfSigned:
    """A self-signed certificate (its own CA) and its key, as PEM files."""

    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.cert_path), str(self.key_path))
        return context


def self_signed(
    directory: Path, name: str = "server", hosts: Sequence[str] = ("127.0.0.1", "localhost")
) -> SelfSigned:
    """Write ``<name>.crt``/``<name>.key`` for ``hosts`` (IP addresses or DNS names)."""
    cert_path, key_path = write_self_signed(directory, name, hosts, days=1)
    return SelfSigned(Path(cert_path), Path(key_path))
