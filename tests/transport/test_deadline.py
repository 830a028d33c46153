"""Each request ends within its timeout as a whole, however slowly a server answers.

urllib3's timeout bounds each read; a server that drips its answer one byte
at a time never lets a single read time out. Against a real loopback server
that drips (its status line, or its body, in clear or over TLS), a request
must fail with ``timeout`` while the server is still dripping: the client
gave up on its own deadline, not because the answer ended. No clock is read
by the assertions: the drip lasts far longer than the test's timeout.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time

import pytest

from authforge_guard import AuthForgeError
from authforge_guard._retry import NO_RETRY, RetryPolicy
from authforge_guard._transport import Transport
from tests.support.tls import self_signed

ANSWER = b'{"status":"failed","error":"bad_request"}'
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
# One byte every DRIP seconds: the whole answer would take about a minute.
DRIP = 0.5


class DripServer:
    """A loopback HTTP server that reads a request, then sends its answer one byte at a
    time (``where="head"``: from the status line on; ``"body"``: the head at once).

    ``connections`` counts the requests read (one per connection); ``cut`` is set when the client closes
    or shuts down a connection mid-drip; ``completed`` would be set if a whole answer
    were ever sent.
    """

    def __init__(self, where: str, tls: ssl.SSLContext | None = None) -> None:
        self.where = where
        self.tls = tls
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
                if self._stop.wait(DRIP):
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


@pytest.fixture
def drip(request):
    servers = []

    def make(where, tls=None):
        server = DripServer(where, tls)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.mark.parametrize("where", ["head", "body"])
def test_a_dripping_answer_times_out_on_the_requests_own_deadline(drip, where):
    server = drip(where)
    transport = Transport(server.url, timeout=0.5, retry=NO_RETRY)
    with pytest.raises(AuthForgeError) as failure:
        transport.post("/auth/validate", {"nonce": "0" * 32})
    assert failure.value.code == "timeout"
    assert not server.completed.is_set()  # it was still dripping when the client gave up
    assert server.cut.wait(10)  # and the client dropped the connection
    assert server.connections == 1


def test_over_tls_too(drip, tmp_path):
    certificate = self_signed(tmp_path)
    server = drip("body", tls=certificate.server_context())
    transport = Transport(
        server.url, timeout=0.5, retry=NO_RETRY, ca_bundle=str(certificate.cert_path)
    )
    with pytest.raises(AuthForgeError) as failure:
        transport.post("/auth/validate", {"nonce": "0" * 32})
    assert failure.value.code == "timeout"
    assert not server.completed.is_set()
    assert server.cut.wait(10)


def test_the_client_reports_timeout_for_a_dripping_validate(af, drip):
    server = drip("head")
    client = af.client(
        api_base_url=server.url,
        request_timeout=0.5,
        retry_policy=NO_RETRY,
        hwid_override="test-machine",
    )
    result = client.validate_license(af.create_license())
    assert (result["valid"], result["code"]) == (False, "timeout")
    assert not server.completed.is_set()


def test_the_connection_after_a_cut_one_is_new_and_works(af, drip):
    """A cut connection never goes back to the pool: the next request opens a fresh one."""
    server = drip("body")
    transport = Transport(server.url, timeout=0.5, retry=NO_RETRY)
    with pytest.raises(AuthForgeError):
        transport.post("/auth/validate", {"nonce": "0" * 32})
    with pytest.raises(AuthForgeError) as failure:
        transport.post("/auth/validate", {"nonce": "1" * 32})
    assert failure.value.code == "timeout"  # not a broken pipe on the cut socket
    assert server.connections == 2  # the server answers one request per connection


class RecordingSleep:
    def __init__(self):
        self.delays = []

    def __call__(self, seconds):
        self.delays.append(seconds)
        time.sleep(seconds)


def test_a_deadline_caps_the_retries(drip):
    """Two attempts fit (0.5 s, a 0.05 s wait, then what is left): the second ends at the
    deadline, not 0.5 s after it started, and no third is tried."""
    server = drip("head")
    sleep = RecordingSleep()
    policy = RetryPolicy(network_delays=(0.05, 0.05, 0.05))
    transport = Transport(server.url, timeout=0.5, retry=policy, sleep=sleep)
    with pytest.raises(AuthForgeError) as failure:
        transport.post("/auth/validate", {"nonce": "0" * 32}, deadline=time.monotonic() + 0.8)
    assert failure.value.code == "timeout"
    assert sleep.delays == [0.05]
    assert server.connections == 2


def test_no_retry_starts_when_its_wait_would_pass_the_deadline(drip):
    server = drip("head")
    sleep = RecordingSleep()
    transport = Transport(
        server.url, timeout=0.3, retry=RetryPolicy(network_delays=(60.0,)), sleep=sleep
    )
    with pytest.raises(AuthForgeError) as failure:
        transport.post("/auth/validate", {"nonce": "0" * 32}, deadline=time.monotonic() + 5)
    assert failure.value.code == "timeout"
    assert sleep.delays == []  # the 60 s wait was never started
    assert server.connections == 1


def test_a_deadline_already_passed_fails_at_once_without_a_request(drip):
    server = drip("head")
    transport = Transport(server.url, timeout=5, retry=NO_RETRY)
    with pytest.raises(AuthForgeError) as failure:
        transport.post("/auth/validate", {"nonce": "0" * 32}, deadline=time.monotonic() - 1)
    assert failure.value.code == "timeout"
    assert server.connections == 0


def test_one_deadline_thread_serves_every_transport(af):
    """The deadline is kept by one thread for the whole process, however many transports
    and requests there are (a request that ends in time never wakes it)."""
    import threading

    for _ in range(3):
        transport = Transport(af.url, timeout=5, retry=NO_RETRY)
        for _ in range(3):
            transport.post("/auth/validate", {"nonce": "0" * 32})
    names = [t.name for t in threading.enumerate() if t.name == "authforge-io-deadline"]
    assert names == ["authforge-io-deadline"]
