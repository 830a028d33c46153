"""Secrets stay secret, and the transport fails closed.

- The app secret, full license keys and session tokens appear in no ``repr``,
  ``str``, exception (with its chain and traceback) or log record at any
  level, ours, the local server's or urllib3's, across a whole session with a
  refused key, transient failures, a loss and the hooks it runs. Base64 runs
  in the text are decoded and searched too (a payload carries the token).
- Plain http to a remote host is refused before a socket is even created.
- TLS to a self-signed server fails closed (``network_error``, no retry);
  trusting exactly that certificate with ``ca_bundle=`` makes it work.
- An explicit ``proxy_url`` is used for an https target, through CONNECT,
  and what crosses the proxy is encrypted.
"""

import base64
import binascii
import json
import logging
import re
import socket
import subprocess
import sys
import textwrap
import traceback

import pytest

from authforge_guard import (
    AuthForgeClient,
    ConfigurationError,
    Guard,
    LicenseError,
    LicenseLost,
    licensed,
)
from authforge_guard._protocol import SigningKey
from tests.support.connect_proxy import ConnectProxy
from tests.support.fault_proxy import Fault, FaultProxy
from tests.support.network import non_loopback_address
from tests.support.tls import self_signed
from tests.support.waiting import wait_for

HEARTBEAT = "/auth/heartbeat"
WRONG_KEY = "ZZZZ-WRONG-LICENSE-KEY-0000-SECRET"
BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")


def decoded_runs(text):
    """Every base64 or base64url run in ``text``, decoded (as far as it decodes)."""
    for run in BASE64_RUN.findall(text):
        bare = run.rstrip("=")
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            for start in range(4):  # a run may begin mid-quantum
                piece = bare[start:]
                piece = piece[: len(piece) - len(piece) % 4] or piece
                try:
                    yield decode(piece + "=" * (-len(piece) % 4)).decode("utf-8", "ignore")
                except (binascii.Error, ValueError):
                    continue


def leaks(texts, secrets):
    """``(secret, where)`` for each secret found in a text or in its base64 runs."""
    found = []
    for text in texts:
        for secret in secrets:
            if secret in text or any(secret in plain for plain in decoded_runs(text)):
                found.append((secret, text[:200]))
    return found


def exception_texts(exc):
    return [
        str(exc),
        repr(exc),
        "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    ]


def record_texts(records):
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return [formatter.format(record) for record in records]


@pytest.fixture
def debug_logs(caplog):
    for name in ("", "authforge_guard", "authforge_guard.server", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def test_no_secret_in_any_log_repr_or_exception_of_a_whole_session(
    shared_af, proxy, make_shared_guard, make_shared_client, debug_logs
):
    key = shared_af.create_license({"tier": "pro"})
    guard = make_shared_guard(
        api_base_url=proxy.url, license_key=key, heartbeat_interval=0.05, max_unreachable=60
    )
    events, texts = [], []

    @guard.on_lost
    def failing_hook(event):
        events.append(event)
        raise RuntimeError("a hook that fails")  # logged with its traceback

    guard.on_transient(events.append)

    # a refused key, through both APIs
    with pytest.raises(LicenseError) as refused:
        guard.ensure(WRONG_KEY)
    texts += exception_texts(refused.value)
    texts.append(repr(make_shared_client(api_base_url=proxy.url).validate_license(WRONG_KEY)))
    # No on_failure: transient failures are logged as warnings. A fatal one would end the
    # process (the official SDK's contract), so the armed faults below must stay within the
    # silence bound (3 intervals by default, 0.15 s here; a loaded machine takes longer).
    bare = make_shared_client(
        api_base_url=proxy.url, online_heartbeat=True, heartbeat_interval=0.05, max_unreachable=60
    )
    assert bare.login(key)

    # a live session, with tokens refreshed and transient failures on the way
    with pytest.raises(LicenseLost) as lost:
        with licensed(guard=guard) as session:
            assert wait_for(lambda: shared_af.stats()["licenses"][key]["heartbeats"] >= 4)
            for count, fault in enumerate((Fault.html(), Fault.drop()), start=1):
                proxy.arm(fault, always=True, path=HEARTBEAT)
                assert wait_for(lambda: len(events) >= count)
                proxy.disarm()
            texts += [
                repr(guard),
                str(guard),
                repr(session),
                str(session),
                repr(guard.settings),
                repr(guard._engine),
                repr(guard._engine.transport),
                repr(bare),
                repr(bare._live),
                repr(guard._entries[None].signed),
            ]
            tokens = {
                guard._entries[None].signed.session_token,
                bare.get_session_data()["sessionToken"],
            }
            bare.logout()  # with no on_failure, a revocation would exit the process
            shared_af.revoke(key)
            wait_for(lambda: False, timeout=10)
    texts += exception_texts(lost.value)
    assert wait_for(lambda: "a hook that fails" in debug_logs.text)
    texts += [repr(event) for event in events]
    texts += [
        text for event in events if event.exception for text in exception_texts(event.exception)
    ]
    texts += record_texts(debug_logs.records)

    tokens |= {
        body["sessionToken"]
        for path, body in proxy.requests
        if path == HEARTBEAT and body and "sessionToken" in body
    }
    secrets = (
        {shared_af.app_secret, key, WRONG_KEY} | tokens | {t.rsplit(".", 1)[1] for t in tokens}
    )
    assert len(tokens) >= 4
    assert {r.name.split(".")[0] for r in debug_logs.records} >= {"authforge_guard", "urllib3"}
    assert any(r.name == "authforge_guard.server" for r in debug_logs.records)
    assert any(r.levelno == logging.DEBUG for r in debug_logs.records)
    assert leaks(texts, secrets) == []


def test_proxy_credentials_stay_out_of_repr(shared_af):
    guard = Guard(
        app_id=shared_af.app_id,
        app_secret=shared_af.app_secret,
        public_key=shared_af.public_key,
        api_base_url=shared_af.url,
        proxy_url="http://user:hunter2@127.0.0.1:3128",
    )
    assert (
        leaks(
            [repr(guard), repr(guard.settings), repr(guard._engine), repr(guard._engine.transport)],
            {"hunter2"},
        )
        == []
    )


# --- plain http to a remote host ------------------------------------------------


def test_plain_http_to_a_remote_host_is_refused_before_any_byte(shared_af):
    address = non_loopback_address()
    if address is None:
        pytest.skip("no non-loopback address on this machine")
    listener = socket.socket()
    listener.bind((address, 0))
    listener.listen(8)
    listener.settimeout(0.3)
    url = f"http://{address}:{listener.getsockname()[1]}"
    try:
        with pytest.raises(ValueError, match="https"):
            AuthForgeClient(
                shared_af.app_id, shared_af.app_secret, shared_af.public_key, api_base_url=url
            )
        with pytest.raises(ConfigurationError) as info:
            Guard(
                app_id=shared_af.app_id,
                app_secret=shared_af.app_secret,
                public_key=shared_af.public_key,
                api_base_url=url,
                license_key="K",
            )
        assert info.value.env_var == "AUTHFORGE_API_URL"
        with pytest.raises(socket.timeout):
            listener.accept()  # nobody ever connected
    finally:
        listener.close()


def test_refusing_plain_http_opens_no_socket_at_all(shared_af):
    """An audit hook in a fresh interpreter sees every socket made: there is none."""
    script = textwrap.dedent(f"""
        import sys
        seen = []
        sys.addaudithook(lambda event, args: event.startswith("socket.") and seen.append(event))
        from authforge_guard import AuthForgeClient, ConfigurationError, Guard
        for url in ("http://203.0.113.7", "http://auth.example.test:80", "http://[2001:db8::1]"):
            try:
                AuthForgeClient("app", "secret", {shared_af.public_key!r}, api_base_url=url)
            except ValueError:
                pass
            else:
                sys.exit("accepted " + url)
            try:
                Guard(app_id="app", public_key={shared_af.public_key!r}, api_base_url=url).ensure("K")
            except ConfigurationError:
                pass
            else:
                sys.exit("guard accepted " + url)
        print(seen)
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert (result.returncode, result.stderr, result.stdout.strip()) == (0, "", "[]")


# --- TLS ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls")
    return {
        "server": self_signed(directory, "server"),
        "other": self_signed(directory, "other"),
        "wrong_host": self_signed(directory, "wrong-host", hosts=("auth.example.test",)),
    }


@pytest.fixture
def https(shared_af, certificates, request):
    name = getattr(request, "param", "server")
    with FaultProxy(shared_af.url, tls=certificates[name].server_context()) as server:
        yield server


def test_a_self_signed_server_fails_closed(shared_af, https, make_shared_client, make_shared_guard):
    key = shared_af.create_license()
    assert https.url.startswith("https://")
    result = make_shared_client(api_base_url=https.url).validate_license(key)
    assert result["code"] == "tls_error"
    with pytest.raises(LicenseError) as info:
        make_shared_guard(api_base_url=https.url, license_key=key).ensure()
    assert info.value.code == "tls_error"
    assert https.requests == []  # not a byte of a request was sent
    assert shared_af.stats()["licenses"][key]["validates"] == 0


def test_trusting_that_certificate_makes_it_work(
    shared_af, https, make_shared_client, make_shared_guard, certificates, monkeypatch
):
    key = shared_af.create_license()
    ca = str(certificates["server"].cert_path)
    assert make_shared_client(api_base_url=https.url, ca_bundle=ca).validate_license(key)["valid"]
    monkeypatch.setenv("AUTHFORGE_CA_BUNDLE", ca)
    guard = make_shared_guard(api_base_url=https.url, license_key=key, heartbeat_interval=0.05)
    guard.ensure()
    assert wait_for(lambda: shared_af.stats()["licenses"][key]["heartbeats"] >= 2)  # heartbeats too


@pytest.mark.parametrize("trusted", ["other", "wrong_host"])
def test_trusting_another_certificate_still_fails(
    shared_af, https, make_shared_client, certificates, trusted
):
    # "other": a different self-signed CA; "wrong_host": the right kind of
    # certificate served for another name.
    key = shared_af.create_license()
    if trusted == "wrong_host":
        with FaultProxy(shared_af.url, tls=certificates["wrong_host"].server_context()) as server:
            ca = str(certificates["wrong_host"].cert_path)
            result = make_shared_client(api_base_url=server.url, ca_bundle=ca).validate_license(key)
    else:
        ca = str(certificates["other"].cert_path)
        result = make_shared_client(api_base_url=https.url, ca_bundle=ca).validate_license(key)
    assert result["code"] == "tls_error"


@pytest.mark.parametrize("https", ["wrong_host"], indirect=True)
def test_an_explicit_proxy_is_used_for_an_https_target(
    shared_af, https, make_shared_client, certificates
):
    # A remote-looking host (loopback is never proxied), routed by the proxy to the server.
    key = shared_af.create_license()
    port = https.url.rsplit(":", 1)[1]
    with ConnectProxy(route={"auth.example.test": "127.0.0.1"}) as tunnel:
        client = make_shared_client(
            api_base_url=f"https://auth.example.test:{port}",
            proxy_url=tunnel.url,
            ca_bundle=str(certificates["wrong_host"].cert_path),
        )
        assert client.validate_license(key)["valid"]
        assert tunnel.targets == [f"auth.example.test:{port}"]
        relayed = tunnel.relayed
    assert relayed and key.encode() not in relayed and shared_af.app_secret.encode() not in relayed
    assert json.dumps(key).encode() not in relayed


def test_a_bad_proxy_url_is_named_without_showing_it():
    with pytest.raises(ConfigurationError) as info:
        Guard(
            app_id="a",
            public_key=SigningKey.generate().public_key_b64,
            proxy_url="socks5://user:hunter2@proxy",
        )
    assert info.value.env_var == "AUTHFORGE_PROXY_URL" and "hunter2" not in str(info.value)
