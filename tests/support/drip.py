"""A loopback HTTP server that answers one byte at a time: what a request's total deadline
is tested against (``tests/transport``)."""

from __future__ import annotations

import socket
import ssl
import threading

ANSWER = b'{"status":"failed","error":"bad_request"}'
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
# One byte every DRIP seconds: the whole answer (about 120 bytes) takes about 12 s. Shorter
# than any timeout a test gives a request, so no single read ever times out: only the
# request's total deadline can end it before the answer is complete.
DRIP = 0.1


class DripServer:
    """A loopback HTTP server that reads a request, then sends its answer one byte at a
    time (``where="head"``: from the status line on; ``"body"``: the head at once).

    ``connections`` counts the requests read (one per connection); ``cut`` is set when the
    client closes or shuts down a connection mid-drip; ``completed`` would be set if a whole
    answer were ever sent. ``close()`` stops every drip (a client still reading sees the
    connection end).
    """

    def __init__(
        self, where: str, tls: ssl.SSLContext | None = None, *, drip: float = DRIP
    ) -> None:
        self.where = where
        self.tls = tls
        self.drip = drip
        self.connections = 0
        self.cut = threading.Event()
        self.completed = threading.Event()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        self._listener.settimeout(0.05)  # to see the stop flag: close() does not wake accept()
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(None)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.tls:
                conn = self.tls.wrap_socket(conn, server_side=True)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            while len(body) < length:
                body += conn.recv(65536)
            self.connections += 1
            answer = HEAD % len(ANSWER) + ANSWER
            if self.where == "body":
                conn.sendall(answer[: len(HEAD % len(ANSWER))])
                answer = ANSWER
            for i in range(len(answer)):
                if self._stop.wait(self.drip):
                    return
                conn.sendall(answer[i : i + 1])
            self.completed.set()
        except (OSError, ValueError, IndexError):
            self.cut.set()  # the client went away mid-answer
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
        self._listener.close()

    def __enter__(self) -> DripServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
