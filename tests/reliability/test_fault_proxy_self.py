"""The fault proxy itself: every fault does what it says, seen by plain HTTP clients.

The upstream is a tiny stdlib server answering signed sessions made with the
codec (the nonce echoed), so a fault's effect is judged exactly as a client
would judge it, by ``judge_signed_response``.
"""

import http.client
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import urllib3

from authforge_guard import AuthForgeError
from authforge_guard._protocol import (
    SigningKey,
    TrustList,
    decode_payload,
    encode_token,
    judge_signed_response,
    new_nonce,
    signed_response,
)
from tests.support.fault_proxy import Fault, FaultProxy

KEY = SigningKey.generate()
TRUST = TrustList(KEY.public_key_b64)
FOREIGN_KEY = SigningKey.generate()
VALIDATE = "/auth/validate"
HEARTBEAT = "/auth/heartbeat"


class _Upstream(BaseHTTPRequestHandler):
    """A signed session for every request; a failed verdict when the request asks ``fail``."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if request.get("fail"):
            status, answer = 403, {"status": "failed", "error": "revoked"}
        else:
            status, answer = 200, signed_response(_session_payload(request["nonce"]), KEY)
        raw = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("X-Upstream-Saw-Agent", self.headers.get("User-Agent", ""))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format, *args):
        pass


def _session_payload(nonce):
    exp = int(time.time()) + 3600
    token_body = {"appId": "app", "licenseKey": "K", "hwid": "h", "exp": exp}
    return {
        "sessionToken": encode_token(token_body, b"mac"),
        "timestamp": int(time.time()),
        "expiresIn": exp,
        "nonce": nonce,
        "licenseVariables": {"tier": "pro"},
    }


@pytest.fixture(scope="module")
def upstream_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def proxy(upstream_url):
    with FaultProxy(upstream_url) as proxy:
        yield proxy


@pytest.fixture
def pool():
    with urllib3.PoolManager(retries=False) as pool:
        yield pool


def post(pool, proxy, path=VALIDATE, timeout=2.0, **fields):
    """POST a request with a fresh nonce; returns ``(nonce, response)``."""
    nonce = new_nonce()
    response = pool.request(
        "POST", proxy.url + path, json={"nonce": nonce, **fields}, timeout=timeout
    )
    return nonce, response


def connect(proxy):
    """A bare ``http.client`` connection to the proxy, for what urllib3 hides."""
    return http.client.HTTPConnection("127.0.0.1", int(proxy.url.rsplit(":", 1)[1]), timeout=5)


def judged(response, nonce, trust=TRUST):
    return judge_signed_response(response.json(), expected_nonce=nonce, trust=trust, asked=None)


def refusal(response, nonce, trust=TRUST):
    with pytest.raises(AuthForgeError) as info:
        judged(response, nonce, trust)
    return info.value.code


# --- no fault ---------------------------------------------------------------


def test_forwards_untouched_over_one_kept_alive_connection(proxy):
    connection = connect(proxy)
    try:
        bodies, sockets = [], []
        for path in (VALIDATE, HEARTBEAT):
            body = {"appId": "app", "nonce": new_nonce()}
            connection.request(
                "POST",
                path,
                json.dumps(body),
                {"Content-Type": "application/json", "User-Agent": "t/1"},
            )
            response = connection.getresponse()
            raw = response.read()
            assert response.status == 200
            assert response.getheader("X-Upstream-Saw-Agent") == "t/1"  # request headers forwarded
            assert response.getheader("Content-Type") == "application/json"  # answer headers back
            judge_signed_response(
                json.loads(raw), expected_nonce=body["nonce"], trust=TRUST, asked=None
            )
            bodies.append((path, body))
            sockets.append(connection.sock)
    finally:
        connection.close()
    assert sockets[0] is sockets[1]  # keep-alive: the second request reused the connection
    assert proxy.requests == bodies
    assert proxy.forwarded_count() == 2
    assert proxy.forwarded_count(HEARTBEAT) == 1


def test_upstream_down_is_a_502(pool):
    with FaultProxy("http://127.0.0.1:9") as proxy:  # discard port: nothing listens
        _, response = post(pool, proxy)
    assert response.status == 502


# --- the connection fails ---------------------------------------------------


def test_drop_closes_without_answer_then_recovers(pool, proxy):
    proxy.arm(Fault.drop())
    with pytest.raises(urllib3.exceptions.ProtocolError):
        post(pool, proxy)
    nonce, response = post(pool, proxy)  # armed once: the next request goes through
    assert judged(response, nonce).session_token
    assert proxy.forwarded_count() == 1
    assert len(proxy.requests) == 2


def test_reset_is_a_connection_reset_not_an_orderly_close(proxy):
    proxy.arm(Fault.reset())
    connection = connect(proxy)
    try:
        connection.request("POST", VALIDATE, json.dumps({"nonce": new_nonce()}))
        with pytest.raises(ConnectionResetError) as info:
            connection.getresponse()
    finally:
        connection.close()
    assert not isinstance(info.value, http.client.RemoteDisconnected)  # a RST, not a FIN
    assert proxy.forwarded_count() == 0


def test_delay_longer_than_the_client_timeout_times_out(pool, proxy):
    proxy.arm(Fault.delay(1.0))
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        post(pool, proxy, timeout=0.2)


def test_delay_shorter_than_the_client_timeout_only_slows(pool, proxy):
    proxy.arm(Fault.delay(0.2))
    started = time.monotonic()
    nonce, response = post(pool, proxy, timeout=2.0)
    assert time.monotonic() - started >= 0.2
    assert judged(response, nonce).session_token


def test_close_aborts_a_pending_delay(pool, upstream_url):
    proxy = FaultProxy(upstream_url)
    proxy.arm(Fault.delay(30.0))
    errors = []

    def call():
        try:
            post(pool, proxy, timeout=10.0)
        except urllib3.exceptions.HTTPError as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    while not proxy.requests:
        time.sleep(0.01)
    proxy.close()
    caller.join(5.0)  # not the 30 s delay, nor the caller's 10 s timeout
    assert not caller.is_alive()
    assert len(errors) == 1 and proxy.forwarded_count() == 0


# --- something other than AuthForge answers ---------------------------------


def test_status_is_a_canned_answer_with_no_body(pool, proxy):
    proxy.arm(Fault.status(429, headers={"Retry-After": "2"}))
    _, response = post(pool, proxy)
    assert (response.status, response.data) == (429, b"")
    assert response.headers["Retry-After"] == "2"
    assert proxy.forwarded_count() == 0


def test_status_with_an_html_body(pool, proxy):
    proxy.arm(Fault.status(503, "<h1>down</h1>", content_type="text/html"))
    _, response = post(pool, proxy)
    assert (response.status, response.data) == (503, b"<h1>down</h1>")
    assert response.headers["Content-Type"] == "text/html"


def test_html_is_a_proxy_error_page(pool, proxy):
    proxy.arm(Fault.html())
    _, response = post(pool, proxy)
    assert response.status == 502
    assert response.headers["Content-Type"] == "text/html"
    assert b"502 Bad Gateway" in response.data
    with pytest.raises(ValueError):
        json.loads(response.data)


def test_json_answer_is_not_a_verdict(pool, proxy):
    proxy.arm(Fault.json({"status": "revoked"}))
    nonce, response = post(pool, proxy)
    assert response.status == 200 and response.json() == {"status": "revoked"}
    assert refusal(response, nonce) == "unexpected_response"


# --- the real answer, damaged -----------------------------------------------


def test_truncated_body_with_matching_length_is_not_json(pool, proxy):
    proxy.arm(Fault.truncated())
    _, response = post(pool, proxy)
    assert response.status == 200
    assert 0 < len(response.data) == int(response.headers["Content-Length"])
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.data)


def test_wrong_content_type_keeps_the_body(pool, proxy):
    proxy.arm(Fault.wrong_content_type())
    nonce, response = post(pool, proxy)
    assert response.headers["Content-Type"] == "text/plain"
    assert judged(response, nonce).session_token


def test_tamper_breaks_the_signature(pool, proxy):
    proxy.arm(Fault.tamper(lambda payload: {**payload, "licenseVariables": {"tier": "enterprise"}}))
    nonce, response = post(pool, proxy)
    assert decode_payload(response.json()["payload"])["licenseVariables"] == {"tier": "enterprise"}
    assert refusal(response, nonce) == "signature_mismatch"


def test_tamper_may_edit_in_place(pool, proxy):
    proxy.arm(Fault.tamper(lambda payload: payload.update(expiresIn=0)))
    nonce, response = post(pool, proxy)
    assert decode_payload(response.json()["payload"])["expiresIn"] == 0
    assert refusal(response, nonce) == "signature_mismatch"


def test_resign_with_a_foreign_key(pool, proxy):
    proxy.arm(Fault.resign(FOREIGN_KEY, lambda payload: payload.update(hwidCount=0)))
    nonce, response = post(pool, proxy)
    assert response.json()["keyId"] == FOREIGN_KEY.key_id
    assert refusal(response, nonce) == "signature_mismatch"
    # The signature itself is sound: a client trusting the foreign key accepts it.
    session = judged(response, nonce, TrustList(FOREIGN_KEY.public_key_b64))
    assert session.payload["hwidCount"] == 0


def test_swap_nonce(pool, proxy):
    proxy.arm(Fault.swap_nonce())
    nonce, response = post(pool, proxy)
    echoed = decode_payload(response.json()["payload"])["nonce"]
    assert echoed != nonce and len(echoed) == 32
    assert refusal(response, nonce) == "nonce_mismatch"


def test_replay_sends_the_last_success_verbatim(pool, proxy):
    _, first = post(pool, proxy)
    _, failed = post(pool, proxy, fail=True)  # a failure is never replayed
    assert failed.status == 403
    proxy.arm(Fault.replay())
    nonce, replayed = post(pool, proxy)
    assert (replayed.status, replayed.data) == (first.status, first.data)
    assert refusal(replayed, nonce) == "nonce_mismatch"
    assert proxy.forwarded_count() == 2  # the upstream never saw the replayed request


def test_replay_with_nothing_to_replay_forwards(pool, proxy):
    proxy.arm(Fault.replay(), path=HEARTBEAT)
    post(pool, proxy, VALIDATE)  # a success on another path does not count
    nonce, response = post(pool, proxy, HEARTBEAT)
    assert judged(response, nonce).session_token


# --- arming -----------------------------------------------------------------


def test_path_and_times(pool, proxy):
    proxy.arm(Fault.status(503), times=2, path=HEARTBEAT)
    statuses = [
        post(pool, proxy, path)[1].status for path in (VALIDATE, HEARTBEAT, HEARTBEAT, HEARTBEAT)
    ]
    assert statuses == [200, 503, 503, 200]


def test_always_until_disarm(pool, proxy):
    proxy.arm(Fault.status(429), always=True)
    assert [post(pool, proxy)[1].status for _ in range(3)] == [429, 429, 429]
    proxy.disarm()
    assert post(pool, proxy)[1].status == 200


def test_armed_faults_apply_in_arming_order(pool, proxy):
    proxy.arm(Fault.status(500))
    proxy.arm(Fault.status(502))
    assert [post(pool, proxy)[1].status for _ in range(3)] == [500, 502, 200]


def test_arming_is_thread_safe(pool, proxy):
    proxy.arm(Fault.status(503), times=10)
    statuses = []

    def client():
        for _ in range(5):
            statuses.append(post(pool, proxy)[1].status)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 30 + [503] * 10
    assert len(proxy.requests) == 40
    assert proxy.forwarded_count() == 30
