"""AuthForgeClient against the local server: the official SDK's semantics, over loopback."""

import threading
import time

import authforge as official
import pytest

from authforge_guard import AuthForgeClient, AuthForgeError


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)
    return predicate()


def test_validate_result_has_the_official_keys(af, make_client):
    key = af.create_license({"tier": "pro"}, slots=2, label="Alice")
    ours = make_client().validate_license(key)
    theirs = official.AuthForgeClient(
        af.app_id, af.app_secret, af.public_key, api_base_url=af.url, hwid_override="test-machine"
    ).validate_license(key)
    assert ours["valid"] is True and theirs["valid"] is True
    assert set(ours) == set(theirs)
    assert ours["license_variables"] == theirs["license_variables"] == {"tier": "pro"}
    assert ours["key_id"] == theirs["key_id"]
    assert abs(ours["expires_in"] - theirs["expires_in"]) <= 2


def test_refusals_are_results_not_exceptions(af, make_client):
    revoked = af.create_license()
    af.revoke(revoked)
    client = make_client()
    for key, code in (("NOPE-NOPE-NOPE", "invalid_key"), (revoked, "revoked")):
        result = client.validate_license(key)
        assert result == {"valid": False, "code": code, "error": code}


def test_grace_mode_login_makes_no_further_calls(af, make_client):
    key = af.create_license()
    client = make_client(heartbeat_interval=0.05)
    assert client.login(key) and client.is_authenticated()
    assert client.get_session_kind() == "online"
    time.sleep(0.4)
    stats = af.stats()["licenses"][key]
    assert stats == {**stats, "validates": 1, "heartbeats": 0}
    assert client.is_authenticated()


def test_online_heartbeats_refresh_and_revocation_is_fatal(af, make_client):
    key = af.create_license({"tier": "free"})
    failures = []
    state_seen = []

    def on_failure(reason, exc):
        state_seen.append(client.is_authenticated())  # cleared before we are told
        failures.append((reason, exc.code, exc.fatal))

    client = make_client(online_heartbeat=True, heartbeat_interval=0.1, on_failure=on_failure)
    assert client.login(key)
    assert wait_for(lambda: af.stats()["licenses"][key]["heartbeats"] >= 2)
    af.set_variables(key, {"tier": "pro"})
    assert wait_for(lambda: client.get_license_variables() == {"tier": "pro"})
    af.revoke(key)
    assert wait_for(lambda: failures)
    assert failures == [("heartbeat_failed", "revoked", True)]
    assert state_seen == [False] and not client.is_authenticated()


def test_transient_failure_keeps_the_session(af, make_client):
    key = af.create_license()
    failures = []
    client = make_client(
        online_heartbeat=True,
        heartbeat_interval=0.1,
        max_unreachable=60,  # within the silence bound (tests/security/test_silence_bound.py)
        on_failure=lambda reason, exc: failures.append(exc.code),
    )
    assert client.login(key)
    af.stop()
    assert wait_for(lambda: len(failures) >= 2)
    assert set(failures) == {"network_error"}
    assert client.is_authenticated()


def test_heartbeat_mode_server_means_online(af, make_client):
    key = af.create_license()
    client = make_client(heartbeat_mode="server", heartbeat_interval=0.1)
    assert client.online_heartbeat and client.heartbeat_mode == "SERVER"
    client.login(key)
    assert wait_for(lambda: af.stats()["licenses"][key]["heartbeats"] >= 1)


def test_logout_stops_checks_and_an_inflight_check_cannot_resurrect(af, make_client):
    key = af.create_license()
    client = make_client(online_heartbeat=True, heartbeat_interval=0.05)
    client.login(key)
    assert wait_for(lambda: af.stats()["licenses"][key]["heartbeats"] >= 1)
    client.logout()
    count = af.stats()["licenses"][key]["heartbeats"]
    time.sleep(0.3)
    assert not client.is_authenticated()
    assert af.stats()["licenses"][key]["heartbeats"] <= count + 1  # at most the in-flight one


def test_key_rotation_with_a_trust_list(af, make_client):
    key = af.create_license()
    old = af.public_key
    new = af.rotate_key()
    assert make_client(public_key=[old, new]).validate_license(key)["valid"]
    assert make_client(public_key=f"{new},{old}").validate_license(key)["valid"]
    stale = make_client(public_key=old).validate_license(key)
    assert stale["code"] == "signature_mismatch"


def test_ttl_is_clamped_by_the_server(af, make_client):
    key = af.create_license()
    result = make_client(ttl_seconds=60).validate_license(key)
    assert 3590 <= result["expires_in"] - time.time() <= 3610


def test_hwid_slots(af, make_client):
    key = af.create_license(slots=1)
    assert make_client(hwid_override="machine-a").validate_license(key)["valid"]
    assert make_client(hwid_override="machine-a").validate_license(key)["valid"]
    refused = make_client(hwid_override="machine-b").validate_license(key)
    assert refused["code"] == "hwid_mismatch"


def test_login_failure_goes_to_on_failure_not_exit(af, make_client):
    seen = []
    client = make_client(on_failure=lambda reason, exc: seen.append((reason, exc.code)))
    assert client.login("NOPE-NOPE-NOPE") is False
    assert seen == [("login_failed", "invalid_key")]


def test_self_ban_with_a_session_revokes(af, make_client):
    key = af.create_license()
    client = make_client()
    client.login(key)
    assert client.self_ban()["status"] == "ok"
    assert make_client(hwid_override="other").validate_license(key)["code"] in {
        "revoked",
        "blocked",
    }


def test_self_ban_without_a_session_only_blacklists(af, make_client):
    key = af.create_license()
    client = make_client(hwid_override="bad-machine")
    assert client.self_ban(license_key=key, blacklist_ip=False)["status"] == "ok"
    assert client.validate_license(key)["code"] == "blocked"
    assert make_client(hwid_override="good-machine").validate_license(key)["valid"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"app_id": ""},
        {"public_key": "short"},
        {"public_key": []},
        {"heartbeat_interval": 0},
        {"heartbeat_mode": "sometimes"},
        {"api_base_url": "ftp://x"},
        {"request_timeout": 0},
    ],
)
def test_constructor_rejects_bad_arguments(af, kwargs):
    base = dict(app_id=af.app_id, app_secret="s", public_key=af.public_key, api_base_url=af.url)
    base.update(kwargs)
    with pytest.raises(ValueError):
        AuthForgeClient(**base)


def test_short_interval_only_against_loopback(af):
    AuthForgeClient("a", "s", af.public_key, heartbeat_interval=0.5, api_base_url=af.url)
    with pytest.raises(ValueError):
        AuthForgeClient(
            "a", "s", af.public_key, heartbeat_interval=5, api_base_url="https://auth.example.test"
        )


def test_secrets_never_in_repr_or_errors(af, make_client):
    client = make_client()
    text = repr(client)
    assert af.app_secret not in text
    result = client.validate_license("SECRET-LICENSE-KEY-123")
    assert "SECRET-LICENSE-KEY-123" not in str(result)


def test_concurrent_logins_from_threads_leave_one_consistent_session(af, make_client):
    key = af.create_license(slots=None)
    client = make_client(online_heartbeat=True, heartbeat_interval=0.05)
    threads = [threading.Thread(target=client.login, args=(key,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.is_authenticated()
    time.sleep(0.3)
    assert client.is_authenticated()
    alive = [t for t in threading.enumerate() if t.name == "authforge-heartbeat" and t.is_alive()]
    client.logout()
    assert wait_for(lambda: not [t for t in alive if t.is_alive()], timeout=2) or len(alive) <= 1


def test_errors_carry_codes():
    error = AuthForgeError("revoked")
    assert isinstance(error, ValueError) and error.fatal and str(error) == "revoked"
