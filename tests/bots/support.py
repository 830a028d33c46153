"""Servers that are not AuthForge: a port that resets every connection, one that hangs."""

from __future__ import annotations

import socket
import threading


class SilentServer:
    """A loopback TCP server that accepts connections and then either closes them at once
    (``hang=False``: every request fails as on a dead server) or holds them unanswered
    until ``release()`` (``hang=True``: a server that hangs). Counts the connections."""

    def __init__(self, *, hang: bool) -> None:
        self.hang = hang
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self.first_connection = threading.Event()
        self.released = threading.Event()
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _addr = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                if self.hang and not self.released.is_set():
                    self._held.append(conn)
                    conn = None
            self.first_connection.set()
            if conn is not None:
                conn.close()

    def release(self) -> None:
        """Close the held connections (their requests fail) and every later one at once."""
        with self._lock:
            self.released.set()
            held, self._held = self._held, []
        for conn in held:
            conn.close()

    def close(self) -> None:
        self.release()
        self._listener.close()
        self._thread.join(5)

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])
