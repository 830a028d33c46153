"""Raw AuthForge protocol against the local server: every verdict, status and bad body."""

import json
import logging

import pytest

from authforge_guard._protocol import (
    HEARTBEAT_PATH,
    SELFBAN_PATH,
    VALIDATE_PATH,
    TrustList,
    decode_token_body,
    encode_token,
    judge_signed_response,
    key_id_for,
    mask_key,
    new_nonce,
    selfban_presession_body,
    selfban_session_body,
)
from authforge_guard.server import AuthForgeServer

from .wire import Wire


class Clock:
    def __init__(self, now=1_900_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clocked(tmp_path):
    """A server whose time the test moves: (server, clock, wire, app)."""
    clock = Clock()
    server = AuthForgeServer(tmp_path / "db.sqlite3", clock=clock).start()
    app = server.admin.create_app("clocked")
    connection = Wire(server.url, app.app_id, app.app_secret)
    yield server, clock, connection, app
    connection.close()
    server.stop()


def failed(answer):
    return answer.status, answer.error


# --- success ------------------------------------------------------------------


def test_validate_answer_is_signed_by_the_active_key(af, wire):
    key = af.create_license({"tier": "pro"}, label="Alice")
    nonce = new_nonce()
    answer = wire.validate(key, nonce=nonce)
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.body["keyId"] == key_id_for(af.public_key)
    assert TrustList(af.public_key).verify(answer.body["payload"], answer.body["signature"])
    session = judge_signed_response(
        answer.body, expected_nonce=nonce, trust=TrustList(af.public_key), asked=None
    )
    payload = session.payload
    for name in (
        "sessionToken",
        "timestamp",
        "expiresIn",
        "nonce",
        "requestId",
        "appVariables",
        "licenseVariables",
        "sessionExpiresAt",
        "licenseExpiresAt",
        "maxHwidSlots",
        "hwidCount",
        "licenseLabel",
    ):
        assert name in payload
    assert payload["nonce"] == nonce
    token = decode_token_body(payload["sessionToken"])
    assert token["appId"] == af.app_id and token["licenseKey"] == key
    assert token["hwid"] == "machine-1" and token["exp"] == payload["expiresIn"]


def test_rotation_signs_with_the_new_key_and_keeps_the_old_one_listed(af, wire):
    key = af.create_license()
    old = af.public_key
    new = af.rotate_key()
    answer = wire.validate(key)
    assert answer.body["keyId"] == key_id_for(new) != key_id_for(old)
    assert not TrustList(old).verify(answer.body["payload"], answer.body["signature"])
    assert TrustList(af.public_keys).verify(answer.body["payload"], answer.body["signature"])
    assert af.public_keys == [new, old]
    assert af.server.admin.activate_key(af.app_id, old) == old  # and back again
    assert wire.validate(key).body["keyId"] == key_id_for(old)
    assert af.public_keys == [old, new]


def test_unlimited_seats_are_null_on_the_wire(af, wire):
    key = af.create_license(slots=0)
    for machine in range(5):
        answer = wire.validate(key, hwid=f"machine-{machine}")
        assert answer.status == 200
    assert answer.payload["maxHwidSlots"] is None and answer.payload["hwidCount"] == 5


def test_session_never_outlives_its_license(clocked):
    server, clock, wire, app = clocked
    key = server.admin.create_license(app.app_id, expires_at=clock.now + 7200)
    answer = wire.validate(key)
    assert answer.payload["expiresIn"] == int(clock.now + 7200)


def test_heartbeat_refreshes_the_token_but_keeps_the_session_end(clocked):
    server, clock, wire, app = clocked
    key = server.admin.create_license(app.app_id)
    first = wire.validate(key, ttlSeconds=3600)
    clock.now += 1800
    beat = wire.heartbeat(first.token)
    assert beat.status == 200
    assert beat.token != first.token
    assert beat.payload["expiresIn"] == first.payload["expiresIn"]
    assert decode_token_body(beat.token)["exp"] == decode_token_body(first.token)["exp"]
    clock.now += 1799
    assert wire.heartbeat(beat.token).status == 200
    clock.now += 1
    assert failed(wire.heartbeat(beat.token)) == (403, "session_expired")


def test_rate_limit_window_slides(clocked):
    server, clock, wire, app = clocked
    key = server.admin.create_license(app.app_id)
    token = wire.validate(key).token
    for _ in range(6):
        assert wire.heartbeat(token).status == 200
        clock.now += 5
    limited = wire.heartbeat(token)
    assert failed(limited) == (429, "rate_limited")
    assert limited.headers["retry-after"] == "30"
    clock.now += 30
    assert wire.heartbeat(token).status == 200


def test_credits_one_per_validate_and_one_per_ten_heartbeats(af, wire):
    af.set_credits(100)
    key = af.create_license()
    token = wire.validate(key).token
    for beat in range(1, 21):
        assert wire.heartbeat(token).status == 200
        expected_spent = 1 + beat // 10
        assert af.server.admin.credits(af.app_id)["credits"] == 100 - expected_spent
    assert af.stats() == {
        "licenses": {key: {"validates": 1, "heartbeats": 20, "credits": 3}},
        "credits_spent": 3,
    }


def test_tenth_heartbeat_without_credits_is_refused_and_not_counted(af, wire):
    af.set_credits(1)
    key = af.create_license()
    token = wire.validate(key).token
    for _ in range(9):
        assert wire.heartbeat(token).status == 200
    assert failed(wire.heartbeat(token)) == (429, "no_credits")
    assert af.stats()["licenses"][key]["heartbeats"] == 9
    af.set_credits(1)
    assert wire.heartbeat(token).status == 200
    assert af.stats()["licenses"][key] == {"validates": 1, "heartbeats": 10, "credits": 2}


# --- verdicts -----------------------------------------------------------------


def test_app_problems_are_401(af, wire):
    key = af.create_license()
    assert failed(wire.validate(key, appSecret="wrong")) == (401, "invalid_app")
    assert failed(wire.validate(key, appId="no-such-app")) == (401, "invalid_app")
    token = wire.validate(key).token
    af.disable_app()
    assert failed(wire.validate(key)) == (401, "app_disabled")
    assert failed(wire.heartbeat(token)) == (401, "app_disabled")
    af.enable_app()
    assert wire.heartbeat(token).status == 200


def test_license_problems_are_403(af, wire):
    assert failed(wire.validate("NOPE-NOPE-NOPE-NOPE")) == (403, "invalid_key")
    old = af.create_license(expires_at="2001-01-01T00:00:00Z")
    assert failed(wire.validate(old)) == (403, "expired")
    key = af.create_license(slots=1)
    token = wire.validate(key, hwid="machine-a").token
    assert failed(wire.validate(key, hwid="machine-b")) == (403, "hwid_mismatch")
    assert failed(wire.heartbeat(token, hwid="machine-b")) == (403, "hwid_mismatch")
    af.revoke(key)
    assert failed(wire.validate(key, hwid="machine-a")) == (403, "revoked")
    assert failed(wire.heartbeat(token, hwid="machine-a")) == (403, "revoked")


def test_a_license_of_another_app_is_unknown(af, wire):
    other = af.create_app()
    key = af.server.admin.create_license(other.app_id)
    assert failed(wire.validate(key)) == (403, "invalid_key")
    with Wire.to(af, other) as other_wire:
        assert other_wire.validate(key).status == 200


def test_reset_hwids_lets_a_new_machine_in_and_the_old_one_out(af, wire):
    key = af.create_license(slots=1)
    token = wire.validate(key, hwid="machine-a").token
    assert af.reset_hwids(key) == 1
    assert wire.validate(key, hwid="machine-b").status == 200
    assert failed(wire.heartbeat(token, hwid="machine-a")) == (403, "hwid_mismatch")


def test_out_of_credits_is_429_and_charges_nothing(af, wire):
    key = af.create_license()
    af.set_credits(0)
    assert failed(wire.validate(key)) == (429, "no_credits")
    assert af.stats()["licenses"][key]["validates"] == 0
    assert af.license_info(key)["hwids"] == []  # a refused login binds no machine


def test_a_reused_nonce_is_a_replay_even_after_a_refusal(af, wire):
    key = af.create_license()
    nonce = new_nonce()
    assert wire.validate(key, nonce=nonce).status == 200
    assert failed(wire.validate(key, nonce=nonce)) == (400, "replay_detected")
    af.set_credits(0)
    refused = new_nonce()
    assert failed(wire.validate(key, nonce=refused)) == (429, "no_credits")
    af.set_credits(None)
    assert failed(wire.validate(key, nonce=refused)) == (400, "replay_detected")
    token = wire.validate(key).token
    beat_nonce = new_nonce()
    assert wire.heartbeat(token, nonce=beat_nonce).status == 200
    assert failed(wire.heartbeat(token, nonce=beat_nonce)) == (400, "replay_detected")


def test_nonces_are_per_app(af, wire):
    other = af.create_app()
    other_key = af.server.admin.create_license(other.app_id)
    nonce = new_nonce()
    assert wire.validate(af.create_license(), nonce=nonce).status == 200
    with Wire.to(af, other) as other_wire:
        assert other_wire.validate(other_key, nonce=nonce).status == 200


def test_bad_tokens_mean_session_expired(af, wire):
    key = af.create_license()
    token = wire.validate(key).token
    head, mac = token.split(".")
    forged_body = dict(decode_token_body(token), exp=decode_token_body(token)["exp"] + 10**6)
    forged = encode_token(forged_body, b"not the server's key")
    for bad in (f"{head}.{mac[:-2]}AA", forged, "garbage", "a.b.c", f"{head}."):
        assert failed(wire.heartbeat(bad)) == (403, "session_expired"), bad
    other = af.create_app()
    with Wire.to(af, other) as other_wire:
        foreign = other_wire.validate(af.server.admin.create_license(other.app_id)).token
    assert failed(wire.heartbeat(foreign)) == (403, "session_expired")


def test_blacklisted_ip_blocks_every_license_of_that_app_only(af, wire):
    key = af.create_license()
    token = wire.validate(key).token
    answer = wire.send(
        SELFBAN_PATH,
        selfban_session_body(
            app_id=af.app_id,
            session_token=token,
            hwid="machine-1",
            revoke_license=False,
            blacklist_hwid=False,
            blacklist_ip=True,
        ),
    )
    assert answer.status == 200 and answer.body == {"status": "ok"}
    assert failed(wire.validate(af.create_license(), hwid="machine-9")) == (403, "blocked")
    assert failed(wire.heartbeat(token)) == (403, "blocked")
    other = af.create_app()
    with Wire.to(af, other) as other_wire:
        assert other_wire.validate(af.server.admin.create_license(other.app_id)).status == 200


def test_presession_selfban_cannot_revoke(af, wire):
    key = af.create_license()
    body = selfban_presession_body(
        app_id=af.app_id,
        app_secret=af.app_secret,
        license_key=key,
        hwid="machine-1",
        nonce=new_nonce(),
        blacklist_hwid=True,
        blacklist_ip=False,
    )
    body["revokeLicense"] = True
    assert failed(wire.send(SELFBAN_PATH, body)) == (400, "revoke_requires_session")
    body.update(revokeLicense=False, appSecret="wrong")
    assert failed(wire.send(SELFBAN_PATH, body)) == (401, "invalid_app")
    body.update(appSecret=af.app_secret, licenseKey="NOPE-NOPE-NOPE-NOPE")
    assert failed(wire.send(SELFBAN_PATH, body)) == (403, "invalid_key")
    assert af.license_info(key)["revoked"] is False


def test_session_selfban_needs_a_live_token(af, wire):
    body = selfban_session_body(
        app_id=af.app_id,
        session_token="x.y",
        hwid="machine-1",
        revoke_license=True,
        blacklist_hwid=True,
        blacklist_ip=True,
    )
    assert failed(wire.send(SELFBAN_PATH, body)) == (403, "session_expired")


# --- bad input ----------------------------------------------------------------


def test_missing_and_mistyped_fields_are_bad_requests(af, wire):
    key = af.create_license()
    good = {
        "appId": af.app_id,
        "appSecret": af.app_secret,
        "licenseKey": key,
        "hwid": "machine-1",
        "nonce": new_nonce(),
    }
    for name in good:
        body = dict(good, nonce=new_nonce())
        del body[name]
        assert failed(wire.send(VALIDATE_PATH, body)) == (400, "bad_request"), name
    for name, value in (
        ("appId", 5),
        ("licenseKey", None),
        ("hwid", ["a"]),
        ("nonce", ""),
        ("ttlSeconds", "3600"),
        ("ttlSeconds", True),
        ("hwid", "x" * 300),
    ):
        body = dict(good, nonce=new_nonce())
        body[name] = value
        assert failed(wire.send(VALIDATE_PATH, body)) == (400, "bad_request"), (name, value)
    assert failed(wire.send(HEARTBEAT_PATH, {"appId": af.app_id})) == (400, "bad_request")
    ban = {"appId": af.app_id, "sessionToken": "x.y", "hwid": "h", "blacklistIp": "yes"}
    assert failed(wire.send(SELFBAN_PATH, ban)) == (400, "bad_request")


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        b'"text"',
        b"",
        b"\xff\xfe{}",
        b"{" * 5000,
        b'{"appId": "a", "nonce": "\\ud800"}',
    ],
)
def test_bodies_that_are_not_a_json_object_are_malformed(wire, raw):
    assert failed(wire.send(VALIDATE_PATH, raw=raw)) == (400, "malformed_request")


def test_oversized_body_is_refused_and_the_connection_stays_usable(af, wire):
    answer = wire.send(VALIDATE_PATH, raw=b"{" + b" " * (1024 * 1024) + b"}")
    assert failed(answer) == (413, "malformed_request")
    assert wire.validate(af.create_license()).status == 200  # same kept-alive connection


def test_wrong_method_and_unknown_path_are_json_errors(af, wire):
    answer = wire.send(VALIDATE_PATH, method="GET")
    assert failed(answer) == (405, "method_not_allowed") and answer.headers["allow"] == "POST"
    assert failed(wire.send(VALIDATE_PATH, {"x": 1}, method="PUT")) == (405, "method_not_allowed")
    assert failed(wire.send("/auth/nothing", {})) == (404, "not_found")
    assert failed(wire.send("/", {})) == (404, "not_found")
    assert wire.validate(af.create_license()).status == 200  # still the same connection


def test_garbage_request_line_gets_json_and_a_closed_connection(af):
    import socket

    host, port = "127.0.0.1", af.server.port
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"BREW /pot HTCPCP/1.0\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"Connection: close" in head
    assert json.loads(body) == {"status": "failed", "error": "bad_request"}


def test_unexpected_errors_are_a_logged_system_error(af, wire, monkeypatch, caplog):
    import authforge_guard.server._endpoints as endpoints

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(endpoints, "signed_response", broken)
    with caplog.at_level(logging.ERROR, logger="authforge_guard.server"):
        answer = wire.validate(af.create_license())
    assert answer.status == 500 and answer.body == {"status": "failed", "error": "system_error"}
    assert "disk on fire" in caplog.text
    assert af.app_secret not in caplog.text


def test_logs_never_carry_secrets_keys_or_tokens(af, wire, caplog):
    key = af.create_license()
    with caplog.at_level(logging.DEBUG, logger="authforge_guard"):
        token = wire.validate(key).token
        wire.heartbeat(token)
        af.revoke(key)
        wire.validate(key)
        wire.validate(key, appSecret="guess")
        wire.send(VALIDATE_PATH, raw=b"nope")
    text = caplog.text
    assert "revoked" in text and mask_key(key) in text  # masked keys do appear
    for secret in (af.app_secret, key, token, "guess"):
        assert secret not in text
