"""The local server against clients that do not play fair, over real loopback sockets.

Slow drips, idle floods, connection floods, odd spellings of a path, numbers
JSON should not hold, and a flood of nonces: each is refused or outlasted,
and a legitimate client is still answered.
"""

import json
import os
import socket
import sqlite3
import threading
import time

import pytest
import urllib3

from authforge_guard import AuthForgeClient
from authforge_guard._protocol import VALIDATE_PATH, new_nonce
from authforge_guard.server import AuthForgeServer
from authforge_guard.server._http import Problem, Request, RequestReader
from authforge_guard.server._nonces import NONCE_MAX_AGE_SECONDS
from authforge_guard.server._tls import write_self_signed
from tests.support.waiting import wait_for

from .wire import Wire

SLOW_CLIENTS = 2000
HEAD_START = b"POST /auth/validate HTTP/1.1\r\nHost: 127.0.0.1\r\n"


class Clock:
    def __init__(self, now=1_900_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def serve(tmp_path, **options):
    """A started server with one app and one unlimited license: (server, app, key)."""
    server = AuthForgeServer(
        tmp_path / "hostile.sqlite3", heartbeat_rate_limit=None, **options
    ).start()
    app = server.admin.create_app("hostile")
    key = server.admin.create_license(app.app_id, slots=0)
    return server, app, key


def server_threads(server):
    prefix = f"authforge-server-{server.port}"
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


def read_until_closed(sock, limit=5.0):
    """Everything the server sends until it closes ``sock`` (or ``limit`` seconds pass)."""
    sock.settimeout(limit)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def answers_in(raw):
    """(status, JSON body) of each HTTP answer in ``raw``, in order."""
    found = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in lines
            if line.lower().startswith(b"content-length:")
        )
        found.append((int(lines[0].split()[1]), json.loads(rest[:length])))
        raw = rest[length:]
    return found


def post_bytes(body, path=VALIDATE_PATH, extra=b""):
    return (
        b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n%s\r\n%s" % (path.encode(), len(body), extra, body)
    )


def validate_json(app, key, **fields):
    body = {
        "appId": app.app_id,
        "appSecret": app.app_secret,
        "licenseKey": key,
        "hwid": "machine-1",
        "nonce": new_nonce(),
    }
    body.update(fields)
    return json.dumps(body).encode()


@pytest.fixture
def many_descriptors():
    """Room for the slow clients and the server's end of each, in this one process."""
    resource = pytest.importorskip("resource")  # POSIX only
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * SLOW_CLIENTS + 512
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"the descriptor limit ({hard}) is below {wanted}")
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# --- slow and idle clients ---------------------------------------------------------------


def test_two_thousand_slow_clients_cost_no_thread_and_a_validate_still_answers(
    tmp_path, many_descriptors
):
    # Deadlines far off: the drippers must all still be open while we measure.
    server, app, key = serve(tmp_path, request_timeout=120, idle_timeout=120)
    slow = []
    try:
        threads_idle = len(server_threads(server))
        for _ in range(SLOW_CLIENTS):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(HEAD_START)
            slow.append(sock)
        for sock in slow:
            sock.sendall(b"X")  # a byte more each: still "sending"
        assert wait_for(lambda: len(server._httpd.connections()) >= SLOW_CLIENTS, timeout=20)
        assert len(server_threads(server)) == threads_idle  # the loop and the workers, no more

        client = AuthForgeClient(
            app.app_id,
            app.app_secret,
            app.public_key,
            api_base_url=server.url,
            hwid_override="legit",
            request_timeout=10,
        )
        started = time.perf_counter()
        assert client.validate_license(key)["valid"]
        ours = time.perf_counter() - started
        pool = urllib3.PoolManager(retries=False, timeout=10)
        started = time.perf_counter()
        answer = pool.request(
            "POST",
            server.url + VALIDATE_PATH,
            body=validate_json(app, key),
            headers={"Content-Type": "application/json"},
        )
        plain = time.perf_counter() - started
        assert answer.status == 200 and answer.json()["status"] == "ok"
        print(
            f"\nwith {SLOW_CLIENTS} slow clients open: our client's validate "
            f"{ours * 1000:.1f} ms, a plain urllib3 POST {plain * 1000:.1f} ms, "
            f"server threads {len(server_threads(server))}"
        )
        assert all(sock.fileno() != -1 for sock in slow)
        assert len(server._httpd.connections()) >= SLOW_CLIENTS  # none was dropped
    finally:
        for sock in slow:
            sock.close()
        server.stop()


def test_stalled_tls_handshakes_cost_no_thread_either(tmp_path):
    cert, key_file = write_self_signed(tmp_path, "hostile")
    server, app, key = serve(tmp_path, tls=(cert, key_file), request_timeout=120)
    stalled = []
    try:
        threads_idle = len(server_threads(server))
        for index in range(300):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            if index % 2:
                sock.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing
            stalled.append(sock)
        assert wait_for(lambda: len(server._httpd.connections()) >= 300, timeout=20)
        client = AuthForgeClient(
            app.app_id,
            app.app_secret,
            app.public_key,
            api_base_url=server.url,
            ca_bundle=cert,
            hwid_override="legit",
            request_timeout=10,
        )
        assert client.validate_license(key)["valid"]
        assert len(server_threads(server)) == threads_idle
    finally:
        for sock in stalled:
            sock.close()
        server.stop()


def test_a_dripping_client_is_dropped_after_the_request_timeout_not_per_byte(tmp_path):
    server, app, key = serve(tmp_path, request_timeout=0.5, idle_timeout=30)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as drip:
            drip.settimeout(0.1)
            dripped = b""
            reply = None
            for byte in HEAD_START + b"X-Slow: " + b"x" * 200:  # 250 bytes, 0.1 s apart
                try:
                    drip.send(bytes([byte]))
                except OSError:
                    reply = b""  # reset: dropped
                    break
                dripped += bytes([byte])
                try:
                    reply = drip.recv(4096)
                    break
                except socket.timeout:
                    continue
            assert reply is not None, "a client dripping a byte every 0.1 s was never dropped"
            reply += read_until_closed(drip)
            assert len(dripped) < 150  # well before the drip would have ended
            if reply:  # answered before the close: a JSON 408
                assert answers_in(reply) == [(408, {"status": "failed", "error": "bad_request"})]
        with Wire(server.url, app.app_id, app.app_secret) as wire:
            assert wire.validate(key).status == 200
    finally:
        server.stop()


def test_keep_alive_holds_for_a_client_that_plays_fair_and_idle_ones_are_closed(tmp_path):
    server, app, key = serve(tmp_path, request_timeout=5, idle_timeout=0.5)
    try:
        wire = Wire(server.url, app.app_id, app.app_secret)
        for _ in range(3):
            assert wire.validate(key).status == 200
        assert len(server._httpd.connections()) == 1  # one connection for all three
        wire.close()
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as idle:
            idle.sendall(post_bytes(validate_json(app, key)))
            (answer,) = answers_in(idle.recv(65536))
            assert answer[0] == 200
            assert read_until_closed(idle) == b""  # then silence, then the server closes
    finally:
        server.stop()


def test_past_the_connection_limit_the_longest_waiting_is_dropped(tmp_path):
    server, app, key = serve(tmp_path, max_connections=50, request_timeout=120, idle_timeout=120)
    silent = []
    try:
        for _ in range(50):
            silent.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        assert wait_for(lambda: len(server._httpd.connections()) == 50)
        wire = Wire(server.url, app.app_id, app.app_secret)
        assert wire.validate(key).status == 200  # got in: the oldest made room
        wire.close()
        assert read_until_closed(silent[0]) == b""
        assert len(server._httpd.connections()) <= 50
    finally:
        for sock in silent:
            sock.close()
        server.stop()


def test_pipelined_requests_http_1_0_and_expect_100_continue(tmp_path):
    server, app, key = serve(tmp_path)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as pipe:
            pipe.sendall(
                post_bytes(validate_json(app, key))
                + post_bytes(validate_json(app, key))
                + b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"
            )
            statuses = [status for status, _ in answers_in(read_until_closed(pipe))]
            assert statuses == [200, 200, 405]
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as old:
            body = validate_json(app, key)
            old.sendall(
                b"POST /auth/validate HTTP/1.0\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            assert [s for s, _ in answers_in(read_until_closed(old))] == [200]  # then closed
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as polite:
            body = validate_json(app, key)
            head = post_bytes(body, extra=b"Expect: 100-continue\r\n")[: -len(body)]
            polite.sendall(head)
            assert polite.recv(4096) == b"HTTP/1.1 100 Continue\r\n\r\n"
            polite.sendall(body)
            raw = b""
            while b"}" not in raw:
                raw += polite.recv(65536)
            assert answers_in(raw)[0][0] == 200
    finally:
        server.stop()


def test_headers_past_the_limit_are_refused_and_the_connection_closed(tmp_path):
    server, _app, _key = serve(tmp_path)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(HEAD_START + b"X-Big: " + b"x" * 20000 + b"\r\n")
            assert answers_in(read_until_closed(sock)) == [
                (431, {"status": "failed", "error": "bad_request"})
            ]
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(HEAD_START + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}")
            assert answers_in(read_until_closed(sock)) == [
                (400, {"status": "failed", "error": "bad_request"})
            ]
    finally:
        server.stop()


def test_an_oversized_body_that_arrives_with_its_head_is_answered_at_once():
    reader = RequestReader()
    reader.feed(post_bytes(b"{" + b" " * 70000 + b"}") + post_bytes(b"{}"))
    assert reader.next() == Problem(413, "malformed_request", keep_alive=True)
    request = reader.next()
    assert isinstance(request, Request) and request.body == b"{}"
    assert reader.next() is None and not reader.pending


def test_the_parser_takes_bytes_one_at_a_time():
    reader = RequestReader()
    data = post_bytes(b'{"a": 1}', extra=b"Expect: 100-continue\r\n") + b"\r\n"
    found = []
    for byte in data:
        reader.feed(bytes([byte]))
        item = reader.next()
        if item is not None:
            found.append(item)
        if reader.take_continue():
            found.append("100")
    assert found[0] == "100"  # once the head is in, before the body
    (request,) = found[1:]
    assert (request.method, request.target, request.body) == ("POST", VALIDATE_PATH, b'{"a": 1}')
    assert request.headers["content-type"] == "application/json" and request.keep_alive
    assert not reader.pending  # the stray line end after it is skipped


def test_an_oversized_body_announced_with_expect_100_continue_is_refused_at_once(tmp_path):
    server, _app, _key = serve(tmp_path)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(HEAD_START + b"Content-Length: 1000000\r\nExpect: 100-continue\r\n\r\n")
            assert answers_in(read_until_closed(sock)) == [
                (413, {"status": "failed", "error": "malformed_request"})
            ]
    finally:
        server.stop()


# --- paths and numbers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "//auth/validate",
        "/auth//validate",
        "/auth/validate/",
        "/./auth/validate",
        "/auth/../auth/validate",
        "/auth/%76alidate",
        "/AUTH/VALIDATE",
        "/auth/validate;x",
        "http://127.0.0.1/auth/validate",
        "auth/validate",
        "*",
    ],
)
def test_only_the_exact_path_is_the_endpoint(af, wire, path):
    key = af.create_license(slots=0)
    answer = wire.send(
        path,
        {
            "appId": af.app_id,
            "appSecret": af.app_secret,
            "licenseKey": key,
            "hwid": "m",
            "nonce": new_nonce(),
        },
    )
    assert (answer.status, answer.error) == (404, "not_found")
    assert af.stats()["licenses"][key]["validates"] == 0
    assert wire.validate(key, nonce=None).status == 200  # same connection, exact path
    assert (
        wire.send(
            VALIDATE_PATH + "?from=test",
            {
                "appId": af.app_id,
                "appSecret": af.app_secret,
                "licenseKey": key,
                "hwid": "m",
                "nonce": new_nonce(),
            },
        ).status
        == 200
    )  # a query string does not change the path


@pytest.mark.parametrize(
    "number", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"1" * 65]
)
@pytest.mark.parametrize("field", ["ttlSeconds", "extra"])
def test_non_finite_or_absurd_numbers_are_malformed(af, wire, number, field):
    key = af.create_license()
    body = (
        b'{"appId": "%s", "appSecret": "%s", "licenseKey": "%s", "hwid": "m",'
        b' "nonce": "%s", "%s": %s}'
        % (
            af.app_id.encode(),
            af.app_secret.encode(),
            key.encode(),
            new_nonce().encode(),
            field.encode(),
            number,
        )
    )
    answer = wire.send(VALIDATE_PATH, raw=body)
    assert (answer.status, answer.error) == (400, "malformed_request")
    assert af.stats()["licenses"][key]["validates"] == 0


def test_finite_numbers_still_work(af, wire):
    key = af.create_license()
    for ttl in (3600, 7200.5, 1e300, -5, 10**60):
        assert wire.validate(key, ttlSeconds=ttl).status == 200, ttl


# --- nonces ---------------------------------------------------------------------------------


def nonce_rows(db):
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM nonces").fetchone()[0]


def test_nonce_storage_is_bounded_per_app_and_recent_replays_are_still_caught(tmp_path):
    server, app, key = serve(tmp_path, nonce_limit=64)
    other = server.admin.create_app("other")
    other_key = server.admin.create_license(other.app_id)
    wire = Wire(server.url, app.app_id, app.app_secret)
    other_wire = Wire(server.url, other.app_id, other.app_secret)
    try:
        other_nonce = new_nonce()
        assert other_wire.validate(other_key, nonce=other_nonce).status == 200
        sent = []
        for _ in range(400):  # a flood of invalid-key validates, each spending a nonce
            sent.append(new_nonce())
            assert wire.validate("NOPE-NOPE-NOPE-NOPE", nonce=sent[-1]).error == "invalid_key"
        assert nonce_rows(server.db_path) <= 1 + 64 + 8  # the other app's + limit + slack
        for nonce in sent[-32:]:  # the recent ones are remembered
            assert wire.validate(key, nonce=nonce).error == "replay_detected"
        assert wire.validate(key, nonce=sent[0]).status == 200  # the oldest were let go
        # another app's memory is its own: the flood pushed nothing of it out
        assert other_wire.validate(other_key, nonce=other_nonce).error == "replay_detected"
    finally:
        wire.close()
        other_wire.close()
        server.stop()


def test_nonces_are_forgotten_after_their_age(tmp_path):
    clock = Clock()
    server, app, key = serve(tmp_path, nonce_limit=8, clock=clock)  # prunes every insert
    wire = Wire(server.url, app.app_id, app.app_secret)
    try:
        old = new_nonce()
        assert wire.validate(key, nonce=old).status == 200
        clock.now += NONCE_MAX_AGE_SECONDS - 1
        assert wire.validate(key, nonce=old).error == "replay_detected"
        clock.now += 2
        assert wire.validate(key).status == 200  # spends a nonce, prunes the old one
        assert nonce_rows(server.db_path) == 1
        assert wire.validate(key, nonce=old).status == 200
    finally:
        wire.close()
        server.stop()


def test_a_flood_of_invalid_key_validates_stops_growing_the_database(tmp_path):
    server, app, _key = serve(tmp_path, nonce_limit=200)
    pool = urllib3.PoolManager(retries=False, timeout=10)
    wal = server.db_path + "-wal"
    largest_wal = 0

    def flood(count):
        nonlocal largest_wal
        for _ in range(count):
            answer = pool.request(
                "POST",
                server.url + VALIDATE_PATH,
                body=validate_json(app, "NOPE-NOPE-NOPE-NOPE"),
                headers={"Content-Type": "application/json"},
            )
            assert answer.json()["error"] == "invalid_key"
            largest_wal = max(largest_wal, os.path.getsize(wal))
        return os.path.getsize(server.db_path)

    try:
        start = os.path.getsize(server.db_path)
        filled = flood(600)  # three times the limit: the nonce table is as large as it gets
        flooded = flood(1200)
        print(
            f"\nnonce_limit=200: database {start} -> {filled} bytes after 600 invalid-key "
            f"validates, {flooded} after 1800; WAL at most {largest_wal} bytes"
        )
        assert flooded <= filled + 8192  # freed pages are reused: no growth past the limit
        assert largest_wal < 1.2 * 1024 * 1024  # checkpointed at 1 MiB, not sqlite's 4 MiB
    finally:
        server.stop()


def test_a_version_1_database_is_upgraded(tmp_path):
    server, app, key = serve(tmp_path)
    server.stop()
    with sqlite3.connect(server.db_path) as conn:  # back to version 1's nonce table
        conn.executescript(
            "DROP TABLE nonces;"
            "CREATE TABLE nonces (app_id TEXT NOT NULL, nonce TEXT NOT NULL,"
            " seen_at REAL NOT NULL, PRIMARY KEY (app_id, nonce)) WITHOUT ROWID;"
            "CREATE INDEX nonces_seen ON nonces(seen_at);"
            "INSERT INTO nonces VALUES ('x', 'y', 1.0);"
            "PRAGMA user_version=1;"
        )
    upgraded = AuthForgeServer(server.db_path).start()
    try:
        wire = Wire(upgraded.url, app.app_id, app.app_secret)
        nonce = new_nonce()
        assert wire.validate(key, nonce=nonce).status == 200
        assert wire.validate(key, nonce=nonce).error == "replay_detected"
        wire.close()
    finally:
        upgraded.stop()
    with sqlite3.connect(server.db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
