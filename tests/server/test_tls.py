"""The local server over HTTPS: what a user testing their app's TLS path relies on.

Clients that trust the server's certificate (``ca_bundle=``, or ``SSL_CERT_FILE``
for the official SDK's urllib) log in and heartbeat; clients that do not fail
closed; and nothing a client does to the TLS port (plain HTTP, garbage, a
stalled handshake) stops the server answering everyone else.
"""

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from authforge_guard import AuthForgeClient, LicenseError
from authforge_guard.server import Admin, AuthForgeServer
from authforge_guard.server._tls import write_self_signed
from authforge_guard.testing import LocalAuthForge
from tests.conftest import FAST_RETRY
from tests.support.waiting import wait_for

from .test_cli import start_server


@pytest.fixture
def af():
    with LocalAuthForge(heartbeat_rate_limit=None, tls=True) as server:
        yield server


def port_of(af):
    return af.server.port


def tls_connection(af, *, timeout=5.0):
    """A TLS connection to ``af`` that trusts its certificate, handshake done."""
    context = ssl.create_default_context(cafile=af.ca_bundle)
    raw = socket.create_connection(("127.0.0.1", port_of(af)), timeout=timeout)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def post(connection, body):
    """One kept-alive POST /auth/validate on ``connection``; returns (status, JSON)."""
    data = json.dumps(body).encode()
    connection.sendall(
        b"POST /auth/validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(data), data)
    )
    reader = connection.makefile("rb")
    status = int(reader.readline().split()[1])
    length = 0
    for line in iter(reader.readline, b"\r\n"):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return status, json.loads(reader.read(length))


def validate_body(af, key):
    return {
        "appId": af.app_id,
        "appSecret": af.app_secret,
        "licenseKey": key,
        "hwid": "raw-machine",
        "nonce": os.urandom(16).hex(),
    }


def closed_by_server(sock, timeout=5.0):
    """True when the server ends ``sock`` (EOF or reset) within ``timeout``."""
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
    except (ConnectionResetError, ssl.SSLError):
        return True
    except socket.timeout:
        return False
    return True


# --- clients that trust the certificate -------------------------------------------------


def test_the_server_serves_https_with_a_throwaway_certificate(af):
    assert af.url == f"https://127.0.0.1:{port_of(af)}"
    assert af.ca_bundle.endswith(".crt") and os.path.isfile(af.ca_bundle)
    with open(af.ca_bundle) as pem:
        assert pem.read().startswith("-----BEGIN CERTIFICATE-----")


def test_our_client_logs_in_and_heartbeats_over_https(af):
    key = af.create_license({"tier": "pro"})
    client = af.client(
        hwid_override="machine",
        retry_policy=FAST_RETRY,
        online_heartbeat=True,
        heartbeat_interval=0.05,
    )
    try:
        assert client.login(key)
        assert client.get_license_variables() == {"tier": "pro"}
        assert wait_for(lambda: af.stats()["licenses"][key]["heartbeats"] >= 2)
        assert client.validate_license(key)["valid"]
    finally:
        client.logout()


def test_a_guard_with_the_ca_bundle_logs_in_and_heartbeats(af):
    key = af.create_license({"tier": "pro"})
    guard = af.guard(
        license_key=key,
        hwid_override="machine",
        heartbeat="online",
        heartbeat_interval=0.05,
        retry_policy=FAST_RETRY,
    )
    try:
        assert guard.ensure().tier == "pro"
        assert wait_for(lambda: af.stats()["licenses"][key]["heartbeats"] >= 2)
        assert guard.session is not None
    finally:
        guard.logout()


def test_the_ca_bundle_can_also_come_from_the_environment(af, monkeypatch):
    key = af.create_license()
    monkeypatch.setenv("AUTHFORGE_CA_BUNDLE", af.ca_bundle)
    guard = af.guard(license_key=key, hwid_override="machine", heartbeat="grace", ca_bundle=None)
    try:
        assert guard.ensure().license_variables == {}
    finally:
        guard.logout()


def test_without_the_ca_bundle_it_fails_closed(af):
    key = af.create_license()
    failures = []
    client = af.client(
        hwid_override="machine",
        retry_policy=FAST_RETRY,
        ca_bundle=None,
        on_failure=lambda reason, exc: failures.append((reason, exc.code)),
    )
    assert client.validate_license(key)["code"] == "tls_error"
    assert client.login(key) is False
    assert failures == [("login_failed", "tls_error")]
    guard = af.guard(
        license_key=key, hwid_override="machine", retry_policy=FAST_RETRY, ca_bundle=None
    )
    with pytest.raises(LicenseError) as info:
        guard.ensure()
    assert info.value.code == "tls_error"
    assert af.stats()["licenses"][key]["validates"] == 0  # nothing reached the server


def test_a_plain_http_client_gets_no_answer_and_no_session(af):
    key = af.create_license()
    client = af.client(
        api_base_url=af.url.replace("https://", "http://"),
        hwid_override="machine",
        retry_policy=FAST_RETRY,
    )
    assert client.validate_license(key)["code"] == "network_error"
    assert af.stats()["licenses"][key]["validates"] == 0


SDK_SCRIPT = textwrap.dedent("""
    import json, sys
    import authforge

    url, app_id, secret, public_key, key = sys.argv[1:]
    failures = []
    client = authforge.AuthForgeClient(
        app_id, secret, public_key, api_base_url=url, hwid_override="sdk-machine",
        heartbeat_interval=3600, online_heartbeat=True,
        on_failure=lambda reason, exc: failures.append(getattr(exc, "code", str(exc))))
    result = client.validate_license(key)
    out = {"validate": result["valid"] or result.get("code")}
    if result["valid"]:
        out["login"] = client.login(key)
        out["heartbeat"] = client._heartbeat_tick() and client.is_authenticated()
        out["variables"] = client.get_license_variables()
        client.logout()
    out["failures"] = failures
    print(json.dumps(out))
""")


def run_sdk(af, key, **env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    env.update(env_overrides)
    result = subprocess.run(
        [sys.executable, "-c", SDK_SCRIPT, af.url, af.app_id, af.app_secret, af.public_key, key],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_official_sdk_works_over_https_when_told_to_trust_the_certificate(af):
    # urllib's default context loads the trust store OpenSSL is pointed at:
    # SSL_CERT_FILE is the standard way to point it at a private CA.
    key = af.create_license({"tier": "pro"})
    assert run_sdk(af, key, SSL_CERT_FILE=af.ca_bundle) == {
        "validate": True,
        "login": True,
        "heartbeat": True,
        "variables": {"tier": "pro"},
        "failures": [],
    }
    stats = af.stats()["licenses"][key]
    assert (stats["validates"], stats["heartbeats"]) == (2, 1)


def test_the_official_sdk_verifies_the_certificate_too(af):
    key = af.create_license()
    refused = run_sdk(af, key)
    assert "CERTIFICATE_VERIFY_FAILED" in refused["validate"] and refused["failures"] == []
    assert af.stats()["licenses"][key]["validates"] == 0


# --- the connection ------------------------------------------------------------------------


def test_keep_alive_and_tcp_nodelay_hold_over_tls(af):
    key = af.create_license(slots=None)
    with tls_connection(af) as connection:
        assert connection.version() in ("TLSv1.2", "TLSv1.3")
        for _ in range(3):  # three requests, one connection
            status, answer = post(connection, validate_body(af, key))
            assert status == 200 and answer["status"] == "ok"
        live = af.server._httpd.connections()
        assert len(live) == 1
        (served,) = live
        assert isinstance(served, ssl.SSLSocket)
        assert served.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    assert af.stats()["licenses"][key]["validates"] == 3


@pytest.mark.parametrize(
    "first_bytes",
    [
        b"POST /auth/validate HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",  # plain HTTP
        os.urandom(512),  # garbage
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,  # a cut ClientHello
    ],
    ids=["plain-http", "garbage", "cut-client-hello"],  # the same in every xdist worker
)
def test_a_broken_handshake_ends_that_connection_only(af, first_bytes):
    key = af.create_license(slots=None)
    with socket.create_connection(("127.0.0.1", port_of(af)), timeout=5) as bad:
        bad.sendall(first_bytes)
        if first_bytes.startswith(b"\x16"):
            bad.shutdown(socket.SHUT_WR)  # the rest of the hello never comes
        assert closed_by_server(bad)
    with tls_connection(af) as good:
        assert post(good, validate_body(af, key))[0] == 200


def test_stalled_handshakes_do_not_hold_up_other_clients(af):
    key = af.create_license(slots=None)
    # Connections that never send a ClientHello: if the handshake ran on the
    # accept loop, the first one would stall every later client.
    stalled = [socket.create_connection(("127.0.0.1", port_of(af)), timeout=5) for _ in range(5)]
    try:
        # Handshakes on the accept loop would hold this client up for their 10 s deadline
        # each, 50 s: past its own 20 s deadline, so it would fail.
        client = af.client(hwid_override="machine", request_timeout=20)
        assert client.validate_license(key)["valid"]
    finally:
        for sock in stalled:
            sock.close()


def test_the_request_timeout_applies_to_the_handshake(tmp_path):
    cert, key_file = write_self_signed(tmp_path, "short")
    with AuthForgeServer(
        tmp_path / "db.sqlite3", tls=(cert, key_file), request_timeout=0.3
    ) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as stalled:
            stalled.sendall(b"\x16\x03\x01")  # the start of a record, then nothing
            assert closed_by_server(stalled)


def test_stop_ends_open_tls_connections_and_stalled_handshakes():
    server = LocalAuthForge(tls=True).start()
    key = server.create_license(slots=None)
    connection = tls_connection(server)
    stalled = socket.create_connection(("127.0.0.1", port_of(server)), timeout=5)
    try:
        assert post(connection, validate_body(server, key))[0] == 200
        stopping = threading.Thread(target=server.stop)
        started = time.monotonic()
        stopping.start()
        stopping.join(10)
        # At once, not when the stalled handshake's 10 s deadline ends it: half of it is
        # room for a loaded machine.
        assert not stopping.is_alive() and time.monotonic() - started < 5
        assert closed_by_server(connection) and closed_by_server(stalled)
    finally:
        connection.close()
        stalled.close()
        server.stop()


# --- configuration ------------------------------------------------------------------------


def test_an_authforge_server_takes_a_cert_and_key_pair_or_a_context(tmp_path):
    cert, key_file = write_self_signed(tmp_path, "pair")
    with AuthForgeServer(tmp_path / "a.sqlite3", tls=(cert, key_file)) as server:
        assert server.tls and server.url.startswith("https://127.0.0.1:")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key_file)
    with AuthForgeServer(tmp_path / "b.sqlite3", tls=context) as server:
        assert server.url.startswith("https://")
        app = server.admin.create_app("ctx")
        license_key = server.admin.create_license(app.app_id)
        client = AuthForgeClient(
            app.app_id,
            app.app_secret,
            app.public_key,
            api_base_url=server.url,
            ca_bundle=cert,
            hwid_override="m",
        )
        assert client.validate_license(license_key)["valid"]
    with pytest.raises(ValueError, match="server-side"):
        AuthForgeServer(tmp_path / "c.sqlite3", tls=ssl.create_default_context())
    with pytest.raises(ssl.SSLError):
        other_cert, _ = write_self_signed(tmp_path, "other")
        AuthForgeServer(tmp_path / "d.sqlite3", tls=(other_cert, key_file))


def test_without_tls_nothing_changes():
    with LocalAuthForge() as plain:
        assert plain.url.startswith("http://") and plain.ca_bundle is None
        assert not plain.server.tls


def test_the_certificate_goes_with_the_server(tmp_path):
    db = tmp_path / "kept.sqlite3"
    with LocalAuthForge(db_path=db, tls=True) as first:
        bundle = first.ca_bundle
        app_id = first.app_id
    assert not os.path.exists(bundle) and db.exists()  # the database stays, the cert goes
    with LocalAuthForge(db_path=db, tls=True) as second:
        assert second.app_id == app_id and second.ca_bundle != bundle


# --- the command line ----------------------------------------------------------------------


def test_the_cli_serves_https_with_tls_cert_and_key(tmp_path):
    cert, key_file = write_self_signed(tmp_path, "cli")
    db = str(tmp_path / "cli.sqlite3")
    process, url, lines = start_server(
        db, "--tls-cert", cert, "--tls-key", key_file, "--show-credentials"
    )
    try:
        assert url.startswith("https://127.0.0.1:")
        app_id = lines[2].split(": ", 1)[1]
        secret = lines[3].split(": ", 1)[1]
        public_key = lines[4].split(": ", 1)[1]
        admin = Admin.open(db)
        try:
            license_key = admin.create_license(app_id)
        finally:
            admin.close()
        client = AuthForgeClient(
            app_id,
            secret,
            public_key,
            api_base_url=url,
            ca_bundle=cert,
            hwid_override="cli-machine",
        )
        assert client.validate_license(license_key)["valid"]
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tls-cert", "{cert}"], "give both or neither"),
        (["--tls-key", "{key}"], "give both or neither"),
        (["--tls-cert", "{missing}", "--tls-key", "{key}"], "no such file"),
        (["--tls-cert", "{cert}", "--tls-key", "{other_key}"], "KEY_VALUES_MISMATCH"),
    ],
)
def test_the_cli_refuses_an_incomplete_or_unusable_certificate(tmp_path, args, message):
    cert, key_file = write_self_signed(tmp_path, "one")
    _, other_key = write_self_signed(tmp_path, "two")
    paths = {
        "cert": cert,
        "key": key_file,
        "other_key": other_key,
        "missing": str(tmp_path / "missing.crt"),
    }
    db = tmp_path / "never.sqlite3"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "authforge_guard",
            "server",
            "--db",
            str(db),
            "--port",
            "0",
            *(arg.format(**paths) for arg in args),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.splitlines()) == 1 and not db.exists()


def trust_lines(lines):
    """The ``--tls self-signed`` lines: {"tls certificate": ..., "trust it from Python": ...}."""
    return dict(line.split(": ", 1) for line in lines if line.startswith(("tls ", "trust ")))


def test_the_cli_makes_a_self_signed_certificate_and_says_how_to_trust_it(tmp_path):
    db = str(tmp_path / "data" / "local.sqlite3")
    os.makedirs(os.path.dirname(db))
    process, url, lines = start_server(db, "--tls", "self-signed", "--show-credentials")
    try:
        assert url.startswith("https://127.0.0.1:")
        app_id, secret, public_key = (line.split(": ", 1)[1] for line in lines[2:5])
        said = trust_lines(lines)
        cert = said["tls certificate"].split(" ", 1)[0]
        assert cert == str(tmp_path / "data" / "local-tls.crt") and os.path.isfile(cert)
        assert "localhost, ::1" in said["tls certificate"] and "new" in said["tls certificate"]
        assert f"AUTHFORGE_CA_BUNDLE={cert}" in said["trust it from Python"]
        assert f"SSL_CERT_FILE={cert}" in said["trust it from Python"]
        assert said["trust it from Node"] == f"NODE_EXTRA_CA_CERTS={cert}"
        assert oct(os.stat(cert[:-4] + ".key").st_mode & 0o777) == "0o600"
        admin = Admin.open(db)
        try:
            license_key = admin.create_license(app_id, slots=0)
        finally:
            admin.close()
        for base in (url, url.replace("127.0.0.1", "localhost")):
            client = AuthForgeClient(
                app_id,
                secret,
                public_key,
                api_base_url=base,
                ca_bundle=cert,
                hwid_override="cli-machine",
            )
            assert client.validate_license(license_key)["valid"], base
        untrusting = AuthForgeClient(
            app_id,
            secret,
            public_key,
            api_base_url=url,
            hwid_override="cli-machine",
            retry_policy=FAST_RETRY,
        )
        assert untrusting.validate_license(license_key)["code"] == "tls_error"
        if shutil.which("node"):  # the official Node SDK's way in: https.request
            script = textwrap.dedent("""
                const https = require("https");
                const request = https.request(new URL(process.argv[1] + "/auth/validate"),
                    {method: "POST", headers: {"Content-Type": "application/json"}},
                    (answer) => { let body = ""; answer.on("data", (d) => body += d);
                                  answer.on("end", () => console.log(answer.statusCode, body)); });
                request.on("error", (error) => console.log("error", error.code));
                request.end("{}");
            """)
            env = dict(os.environ, NODE_EXTRA_CA_CERTS=cert)
            trusted = subprocess.run(
                ["node", "-e", script, url], env=env, capture_output=True, text=True, timeout=30
            )
            assert trusted.stdout.strip() == '400 {"status":"failed","error":"bad_request"}'
            env.pop("NODE_EXTRA_CA_CERTS")
            refused = subprocess.run(
                ["node", "-e", script, url], env=env, capture_output=True, text=True, timeout=30
            )
            assert refused.stdout.strip() == "error DEPTH_ZERO_SELF_SIGNED_CERT"
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    # A restart reuses the certificate, so whatever trusts it keeps trusting it.
    with open(cert, "rb") as pem:
        first = pem.read()
    process, url, lines = start_server(db, "--tls", "self-signed")
    try:
        assert "reused" in trust_lines(lines)["tls certificate"]
        with open(cert, "rb") as pem:
            assert pem.read() == first
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_a_self_signed_certificate_is_made_anew_when_it_no_longer_fits(tmp_path):
    from authforge_guard.server._tls import ensure_self_signed

    cert, key_file, created = ensure_self_signed(tmp_path, "fit")
    assert created
    assert ensure_self_signed(tmp_path, "fit")[2] is False
    assert ensure_self_signed(tmp_path, "fit", ["127.0.0.1", "box.lan"])[2] is True  # a new name
    assert ensure_self_signed(tmp_path, "fit", ["box.lan"])[2] is False
    assert ensure_self_signed(tmp_path, "fit", ["box.lan"], renew_within=10**9)[2] is True
    write_self_signed(tmp_path, "other")
    os.replace(tmp_path / "other.key", key_file)  # a key that does not match
    assert ensure_self_signed(tmp_path, "fit", ["box.lan"])[2] is True


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tls", "self-signed", "--tls-cert", "{cert}", "--tls-key", "{key}"], "not both"),
        (["--tls-dir", "{dir}"], "--tls-dir goes with --tls self-signed"),
        (["--tls", "self-signed", "--tls-dir", "{file}"], "cannot make a self-signed certificate"),
    ],
)
def test_the_cli_refuses_mixed_tls_options(tmp_path, args, message):
    cert, key_file = write_self_signed(tmp_path, "one")
    paths = {"cert": cert, "key": key_file, "dir": str(tmp_path), "file": cert}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "authforge_guard",
            "server",
            "--db",
            str(tmp_path / "x.sqlite3"),
            "--port",
            "0",
            *(arg.format(**paths) for arg in args),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: ") and message in result.stderr
