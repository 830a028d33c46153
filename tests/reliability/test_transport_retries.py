"""The retry policy on the wire: which failures are tried again, how often, after how long,
and that every attempt carries a fresh nonce (read back from what the proxy received)."""

import email.utils
import re
import threading
import time

import pytest

from authforge_guard._transport._http import Transport
from authforge_guard._transport._retry import RetryPolicy
from tests.support.fault_proxy import Fault
from tests.support.waiting import wait_for

VALIDATE = "/auth/validate"
HEARTBEAT = "/auth/heartbeat"
NONCE = re.compile(r"[0-9a-f]{32}")


def verdict(code, status=429, retry_after=None):
    headers = {"Retry-After": retry_after} if retry_after is not None else None
    return Fault.status(status, {"status": "failed", "error": code}, headers=headers)


def nonces(proxy, since, path=VALIDATE):
    return [body["nonce"] for seen, body in proxy.requests[since:] if seen == path]


def attempts(proxy, since, path=VALIDATE):
    return len(nonces(proxy, since, path))


def assert_fresh(found, count):
    assert len(found) == count
    assert len(set(found)) == count, "a retry reused a nonce"
    assert all(NONCE.fullmatch(nonce) for nonce in found)


def test_every_retry_carries_a_fresh_nonce(shared_af, proxy, make_shared_client):
    key = shared_af.create_license()
    proxy.arm(Fault.drop(), path=VALIDATE)  # one network failure ...
    proxy.arm(verdict("rate_limited"), times=2, path=VALIDATE)  # ... then two rate limits
    since = len(proxy.requests)
    result = make_shared_client(api_base_url=proxy.url).validate_license(key)
    assert result["valid"] is True
    sent = nonces(proxy, since)
    assert_fresh(sent, 4)
    assert result["session_data"]["nonce"] == sent[-1]  # the answer echoes the last attempt's


def test_a_heartbeat_retry_carries_a_fresh_nonce(shared_af, proxy, make_shared_client):
    # The first attempt is held at the proxy until the retry is through, so it times out
    # however loaded the machine (a 1 s delay against a 0.3 s timeout failed once under
    # load: a starved client can read a late answer, or time out its retry as well).
    key = shared_af.create_license()
    client = make_shared_client(
        api_base_url=proxy.url, online_heartbeat=True, heartbeat_interval=3600, request_timeout=2.0
    )
    assert client.login(key)
    token = client.get_session_data()["sessionToken"]
    released = threading.Event()
    proxy.arm(Fault.hold(released), path=HEARTBEAT)  # reaches the server, but too late
    since = len(proxy.requests)
    try:
        assert client._heartbeat_tick(client._live.generation) is True
    finally:
        released.set()
    assert_fresh(nonces(proxy, since, HEARTBEAT), 2)
    assert client.get_session_data()["sessionToken"] != token  # the retry was accepted
    # The server saw the timed-out request as well: reusing its nonce would be a replay.
    assert wait_for(lambda: shared_af.stats()["licenses"][key]["heartbeats"] == 2)


def test_a_network_failure_is_retried_once(shared_af, proxy, make_shared_client):
    key = shared_af.create_license()
    proxy.arm(Fault.reset(), always=True, path=VALIDATE)
    since = len(proxy.requests)
    assert (
        make_shared_client(api_base_url=proxy.url).validate_license(key)["code"] == "network_error"
    )
    assert_fresh(nonces(proxy, since), 2)


@pytest.mark.parametrize(
    ("fault", "code"),
    [(verdict("rate_limited"), "rate_limited"), (Fault.status(429), "http_error_429")],
    ids=["rate_limited", "bare_429"],
)
def test_a_rate_limit_is_retried_twice_then_reported(
    shared_af, proxy, make_shared_client, fault, code
):
    key = shared_af.create_license()
    proxy.arm(fault, always=True, path=VALIDATE)
    since = len(proxy.requests)
    assert make_shared_client(api_base_url=proxy.url).validate_license(key)["code"] == code
    assert_fresh(nonces(proxy, since), 3)


@pytest.mark.parametrize("code", ["no_credits", "app_burn_cap_reached", "demo_quota_exceeded"])
def test_a_429_that_means_stop_is_not_retried(shared_af, proxy, make_shared_client, code):
    key = shared_af.create_license()
    proxy.arm(verdict(code, retry_after="1"), always=True, path=VALIDATE)
    since = len(proxy.requests)
    assert make_shared_client(api_base_url=proxy.url).validate_license(key)["code"] == code
    assert attempts(proxy, since) == 1


def test_no_credits_from_the_real_server_is_not_retried(make_shared_client):
    from authforge_guard.testing import LocalAuthForge

    with LocalAuthForge(credits=0) as broke:
        key = broke.create_license()
        client = make_shared_client(
            api_base_url=broke.url,
            app_id=broke.app_id,
            app_secret=broke.app_secret,
            public_key=broke.public_key,
        )
        assert client.validate_license(key)["code"] == "no_credits"
        assert broke.stats()["licenses"][key]["validates"] == 0


class RecordingSleep:
    """The transport's ``sleep``: really sleeps, and keeps each delay it was asked for."""

    def __init__(self):
        self.delays = []

    def __call__(self, seconds):
        self.delays.append(seconds)
        time.sleep(seconds)


def retry_after_transport(proxy, max_retry_after):
    sleep = RecordingSleep()
    policy = RetryPolicy(
        rate_limit_delays=(0.01, 0.01), network_delays=(0.01,), max_retry_after=max_retry_after
    )
    return Transport(proxy.url, retry=policy, sleep=sleep), sleep


def test_retry_after_is_honoured(proxy):
    transport, sleep = retry_after_transport(proxy, max_retry_after=5.0)
    proxy.arm(verdict("rate_limited", retry_after="0.3"), times=2, path=VALIDATE)
    since = len(proxy.requests)
    started = time.monotonic()
    reply = transport.post(VALIDATE, {"nonce": "0" * 32})
    assert reply.data == {
        "status": "failed",
        "error": "bad_request",
    }  # the server's word on a bare body
    assert sleep.delays == [0.3, 0.3]
    assert time.monotonic() - started >= 0.6
    assert attempts(proxy, since) == 3


def test_retry_after_as_an_http_date_is_honoured(proxy):
    transport, sleep = retry_after_transport(proxy, max_retry_after=5.0)
    when = email.utils.formatdate(time.time() + 2, usegmt=True)  # whole seconds: 1-2 s away
    proxy.arm(verdict("rate_limited", retry_after=when), path=VALIDATE)
    transport.post(VALIDATE, {"nonce": "0" * 32})
    [delay] = sleep.delays
    assert 0.5 <= delay <= 2.0


def test_retry_after_is_capped_by_the_policy(proxy):
    transport, sleep = retry_after_transport(proxy, max_retry_after=0.2)
    proxy.arm(verdict("rate_limited", retry_after="3600"), always=True, path=VALIDATE)
    started = time.monotonic()
    reply = transport.post(VALIDATE, {"nonce": "0" * 32})
    assert reply.data["error"] == "rate_limited"
    assert sleep.delays == [0.2, 0.2]
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("header", ["soon", "-5", "nan", ""])
def test_an_unusable_retry_after_falls_back_to_the_policy(proxy, header):
    transport, sleep = retry_after_transport(proxy, max_retry_after=5.0)
    proxy.arm(verdict("rate_limited", retry_after=header), times=2, path=VALIDATE)
    transport.post(VALIDATE, {"nonce": "0" * 32})
    assert sleep.delays == ([0.0, 0.0] if header == "-5" else [0.01, 0.01])
