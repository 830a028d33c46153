"""A tiny HTTP CONNECT proxy that records each tunnel it opens and the bytes it relays."""

from __future__ import annotations

import socket
import socketserver
import threading


class ConnectProxy:
    """Accepts ``CONNECT host:port``, opens the tunnel, and relays bytes both ways.

    ``targets`` lists each ``host:port`` asked for; ``relayed`` is every byte
    that went through (to check that what crosses the proxy is encrypted).
    """

    def __init__(self, route: dict[str, str] | None = None) -> None:
        # ``host -> address`` for names that do not resolve (a test's made-up API host).
        self.route = dict(route or {})
        self._lock = threading.Lock()
        self.targets: list[str] = []
        self._relayed: list[bytes] = []
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def relayed(self) -> bytes:
        with self._lock:
            return b"".join(self._relayed)

    def _record(self, target: str = "", data: bytes = b"") -> None:
        with self._lock:
            if target:
                self.targets.append(target)
            if data:
                self._relayed.append(data)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> ConnectProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, proxy: ConnectProxy) -> None:
        self.proxy = proxy
        super().__init__(("127.0.0.1", 0), _Tunnel)


class _Tunnel(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        request_line = self.rfile.readline(8192).decode("latin-1").split()
        while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
            pass  # headers
        if len(request_line) != 3 or request_line[0] != "CONNECT":
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        target = request_line[1]
        self.server.proxy._record(target=target)
        host, _, port = target.rpartition(":")
        try:
            address = self.server.proxy.route.get(host, host.strip("[]"))
            upstream = socket.create_connection((address, int(port)), timeout=10)
        except OSError:
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        with upstream:
            pump = threading.Thread(
                target=self._pump, args=(upstream, self.connection), daemon=True
            )
            pump.start()
            self._pump(self.connection, upstream)
            pump.join(5)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                self.server.proxy._record(data=data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            try:
                sink.shutdown(socket.SHUT_WR)
            except OSError:
                pass
