"""Each request ends within its timeout as a whole, however slowly a server answers.

urllib3's timeout bounds each read; a server that drips its answer one byte
at a time never lets a single read time out. Against a real loopback server
that drips (its status line, or its body, in clear or over TLS), a request
must fail with ``timeout`` while the server is still dripping: the client
gave up on its own deadline, not because the answer ended. No clock is read
by the assertions: the drip lasts far longer than the test's timeout, and each byte comes
sooner than a single read would time out (only the total deadline can end the request).
"""

from __future__ import annotations

import time

import pytest

from authforge_guard import AuthForgeError
from authforge_guard._transport._http import Transport
from authforge_guard._transport._retry import NO_RETRY, RetryPolicy
from tests.support.tls import self_signed


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


def test_the_deadlines_of_every_transport_are_kept_on_the_one_timer_thread(af):
    """No thread of the transport's own, however many transports and requests there are:
    the deadlines are one job on the shared timer thread (a request that ends in time
    never wakes it)."""
    import threading

    for _ in range(3):
        transport = Transport(af.url, timeout=5, retry=NO_RETRY)
        for _ in range(3):
            transport.post("/auth/validate", {"nonce": "0" * 32})
    names = [t.name for t in threading.enumerate()]
    assert "authforge-io-deadline" not in names
    assert names.count("authforge-timers") == 1
