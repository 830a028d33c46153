"""The official AuthForge SDK (PyPI authforge-sdk 2.0.0) against our local server."""

import time

import authforge
import pytest

from authforge_guard._protocol import key_id_for

from .wire import Wire


class Failures:
    """An ``on_failure`` that records instead of calling ``os._exit``."""

    def __init__(self):
        self.calls = []

    def __call__(self, reason, exc):
        self.calls.append((reason, getattr(exc, "code", str(exc))))


def sdk_client(af, hwid="machine-1", **kwargs):
    kwargs.setdefault("on_failure", Failures())
    return authforge.AuthForgeClient(
        af.app_id,
        af.app_secret,
        kwargs.pop("public_key", af.public_key),
        api_base_url=af.url,
        hwid_override=hwid,
        heartbeat_interval=3600,  # heartbeats run by hand through _heartbeat_tick()
        **kwargs,
    )


def test_login_returns_the_license_and_app_variables(af):
    af.set_app_variables({"motd": "hello"})
    key = af.create_license({"tier": "pro"}, slots=2, label="Alice")
    client = sdk_client(af, online_heartbeat=True)
    try:
        assert client.login(key) is True
        assert client.is_authenticated()
        assert client.get_license_variables() == {"tier": "pro"}
        assert client.get_app_variables() == {"motd": "hello"}
        data = client.get_session_data()
        assert data["licenseLabel"] == "Alice"
        assert data["maxHwidSlots"] == 2 and data["hwidCount"] == 1
        assert data["licenseExpiresAt"] is None
    finally:
        client.logout()


def test_validate_license_result_has_every_documented_key(af):
    key = af.create_license({"tier": "free"}, expires_at=time.time() + 30 * 86400, label="Bob")
    result = sdk_client(af).validate_license(key)
    assert result["valid"] is True
    assert result["key_id"] == key_id_for(af.public_key)
    assert result["license_variables"] == {"tier": "free"}
    assert result["license_label"] == "Bob"
    assert result["max_hwid_slots"] == 1 and result["hwid_count"] == 1
    assert result["license_expires_at"].endswith("Z")
    assert result["session_expires_at"].endswith("Z")
    assert af.stats()["licenses"][key]["validates"] == 1


def test_unknown_key_is_a_failed_validation(af):
    result = sdk_client(af).validate_license("NOPE-NOPE-NOPE-NOPE")
    assert result == {"valid": False, "code": "invalid_key", "error": "invalid_key"}


def test_online_heartbeat_refreshes_the_session(af):
    key = af.create_license({"tier": "free"})
    client = sdk_client(af, online_heartbeat=True)
    try:
        assert client.login(key)
        first = client.get_session_data()
        af.set_variables(key, {"tier": "pro"})  # an upgrade, seen at the next heartbeat
        assert client._heartbeat_tick() is True
        second = client.get_session_data()
        assert second["sessionToken"] != first["sessionToken"]
        assert second["expiresIn"] == first["expiresIn"]  # the session end is kept
        assert client.get_license_variables() == {"tier": "pro"}
        assert af.stats()["licenses"][key]["heartbeats"] == 1
    finally:
        client.logout()


def test_revocation_is_seen_at_the_next_heartbeat(af):
    key = af.create_license()
    failures = Failures()
    client = sdk_client(af, online_heartbeat=True, on_failure=failures)
    try:
        assert client.login(key)
        af.revoke(key)
        assert client.is_authenticated()  # nothing is known until the next check-in
        assert client._heartbeat_tick() is False
        assert failures.calls == [("heartbeat_failed", "revoked")]
        assert not client.is_authenticated()
    finally:
        client.logout()


def test_hwid_slots_bind_machines_until_full(af):
    key = af.create_license(slots=2)
    assert sdk_client(af, "machine-a").validate_license(key)["valid"]
    assert sdk_client(af, "machine-b").validate_license(key)["hwid_count"] == 2
    assert sdk_client(af, "machine-a").validate_license(key)["valid"]  # a bound machine returns
    third = sdk_client(af, "machine-c").validate_license(key)
    assert third["valid"] is False and third["code"] == "hwid_mismatch"
    af.reset_hwids(key)
    assert sdk_client(af, "machine-c").validate_license(key)["valid"]


@pytest.mark.parametrize(("asked", "granted"), [(60, 3600), (None, 86400), (10**7, 604800)])
def test_ttl_is_clamped(af, asked, granted):
    key = af.create_license()
    result = sdk_client(af, ttl_seconds=asked).validate_license(key)
    data = result["session_data"]
    assert result["expires_in"] - data["timestamp"] == granted


def test_rate_limit_answers_the_seventh_heartbeat_in_a_minute(limited_af):
    # The SDK retries a 429 after 2 s and 5 s, so the seventh heartbeat goes raw.
    key = limited_af.create_license()
    client = sdk_client(limited_af, online_heartbeat=True)
    wire = Wire.to(limited_af)
    try:
        assert client.login(key)
        for _ in range(6):
            assert client._heartbeat_tick() is True
        token = client.get_session_data()["sessionToken"]
        answer = wire.heartbeat(token)
        assert (answer.status, answer.error) == (429, "rate_limited")
        assert 1 <= int(answer.headers["retry-after"]) <= 60
        assert limited_af.stats()["licenses"][key]["heartbeats"] == 6
    finally:
        client.logout()
        wire.close()


def test_self_ban_with_a_session_revokes_and_blacklists(af):
    key = af.create_license(slots=2)
    client = sdk_client(af)
    try:
        assert client.login(key)
        assert client.self_ban(blacklist_ip=False)["status"] == "ok"
    finally:
        client.logout()
    assert af.license_info(key)["revoked"] is True
    assert sdk_client(af, "machine-1").validate_license(key)["code"] == "blocked"
    assert sdk_client(af, "machine-2").validate_license(key)["code"] == "revoked"


def test_self_ban_before_a_session_blacklists_without_revoking(af):
    key = af.create_license(slots=2)
    client = sdk_client(af)
    assert client.self_ban(license_key=key, blacklist_ip=False)["status"] == "ok"
    assert af.license_info(key)["revoked"] is False
    assert client.validate_license(key)["code"] == "blocked"
    assert sdk_client(af, "machine-2").validate_license(key)["valid"]


def test_login_from_a_minted_offline_file(af, tmp_path):
    key = af.create_license({"tier": "pro"}, label="Air-gapped")
    client = sdk_client(af, "offline-box")
    path = tmp_path / "license.authforge"
    path.write_text(af.mint_offline_file(key, hwids=[client.get_hwid()]), encoding="utf-8")
    assert client.login_from_file(str(path)) is True
    assert client.get_session_kind() == "offline"
    assert client.get_license_variables() == {"tier": "pro"}
    assert client.get_offline_license()["label"] == "Air-gapped"
    other = sdk_client(af, "another-box")
    assert other.verify_license_file(str(path)) == {"ok": False, "error": "hwid_mismatch"}


def test_activate_offline_twice_on_one_machine_is_a_free_replay(af, tmp_path):
    key = af.create_license({"tier": "pro"}, slots=1)
    client = sdk_client(af, "box-1")
    first_path, second_path = tmp_path / "a.authforge", tmp_path / "b.authforge"
    assert client.activate_offline(key, str(first_path)) is True
    assert client.get_offline_license()["replay"] is False
    spent = af.stats()["credits_spent"]
    assert client.activate_offline(key, str(second_path)) is True
    assert client.get_offline_license()["replay"] is True
    assert second_path.read_bytes() == first_path.read_bytes()
    assert af.stats()["credits_spent"] == spent == 2
    with pytest.raises(authforge.AuthForgeError) as info:
        sdk_client(af, "box-2").activate_offline(key)
    assert info.value.code == "offline_activation_limit_reached"


def test_key_rotation_keeps_clients_with_a_trust_list_working(af):
    key = af.create_license(slots=0)
    old_key = af.public_key
    new_key = af.rotate_key()
    assert af.public_keys == [new_key, old_key]
    pinned_to_old = sdk_client(af, public_key=old_key).validate_license(key)
    assert pinned_to_old["valid"] is False and pinned_to_old["code"] == "signature_mismatch"
    both = sdk_client(af, public_key=[old_key, new_key]).validate_license(key)
    assert both["valid"] and both["key_id"] == key_id_for(new_key)
    assert sdk_client(af, public_key=f"{new_key},{old_key}").validate_license(key)["valid"]
