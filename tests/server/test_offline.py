"""Offline licensing, server side: minted files and self-serve activation rules."""

import time
from datetime import datetime, timedelta, timezone

import pytest

from authforge_guard._protocol import key_id_for, parse_license_file, verify_license_file
from authforge_guard.server import AdminError


def failed(answer):
    return answer.status, answer.error


def test_minted_file_is_bound_signed_and_carries_snapshots(af):
    af.set_app_variables({"motd": "hi"})
    key = af.create_license({"tier": "pro"}, label="Alice")
    text = af.mint_offline_file(key, hwids=["box-1", "box-2"])
    for box in ("box-1", "box-2"):
        result = verify_license_file(text, af.app_id, af.public_key, box)
        assert result["ok"], result
    lic = result["license"]
    assert lic["license_key"] == key and lic["key_id"] == key_id_for(af.public_key)
    assert lic["expires_at"] is None and lic["label"] == "Alice"
    assert lic["license_variables"] == {"tier": "pro"} and lic["app_variables"] == {"motd": "hi"}
    assert verify_license_file(text, af.app_id, af.public_key, "box-3")["error"] == "hwid_mismatch"
    assert verify_license_file(text, "other-app", af.public_key, "box-1")["error"] == "wrong_app"
    assert parse_license_file(text)["headers"]["App-Id"] == af.app_id


def test_any_machine_file_with_an_expiry(af):
    key = af.create_license()
    expires = datetime.now(timezone.utc) + timedelta(days=30)
    text = af.mint_offline_file(key, expires_at=expires, label="trial")
    result = verify_license_file(text, af.app_id, af.public_key, "whatever")
    assert result["ok"] and result["license"]["hwid_policy"] == {"mode": "any"}
    assert result["license"]["label"] == "trial"
    later = expires + timedelta(seconds=1)
    assert verify_license_file(text, af.app_id, af.public_key, now=later)["error"] == "expired"


def test_minted_file_defaults_to_the_licenses_own_expiry(af):
    ends = time.time() + 86400
    key = af.create_license(expires_at=ends)
    result = verify_license_file(af.mint_offline_file(key), af.app_id, af.public_key)
    assert (
        result["ok"] and result["license"]["license_expires_at"] == result["license"]["expires_at"]
    )
    assert (
        verify_license_file(af.mint_offline_file(key), af.app_id, af.public_key, now=ends + 1)[
            "error"
        ]
        == "expired"
    )


def test_mint_refuses_revoked_and_unknown_licenses(af):
    key = af.create_license()
    af.revoke(key)
    with pytest.raises(AdminError) as info:
        af.mint_offline_file(key)
    assert info.value.code == "revoked"
    with pytest.raises(AdminError) as info:
        af.mint_offline_file("NOPE-NOPE-NOPE-NOPE")
    assert info.value.code == "invalid_key"
    with pytest.raises(ValueError):
        af.mint_offline_file(af.create_license(), hwids=[])


def test_files_after_rotation_are_signed_by_the_new_key(af):
    key = af.create_license()
    old = af.public_key
    new = af.rotate_key()
    text = af.mint_offline_file(key)
    assert verify_license_file(text, af.app_id, old)["error"] == "bad_signature"
    assert verify_license_file(text, af.app_id, [old, new])["license"]["key_id"] == key_id_for(new)


def test_activation_binds_one_machine_per_slot_and_replays_for_free(af, wire):
    key = af.create_license({"tier": "pro"}, slots=2)
    first = wire.activate(key, hwid="box-1")
    assert first.status == 200 and first.body["replay"] is False
    assert verify_license_file(first.body["file"], af.app_id, af.public_key, "box-1")["ok"]
    again = wire.activate(key, hwid="box-1")
    assert again.body == {"status": "ok", "file": first.body["file"], "replay": True}
    assert wire.activate(key, hwid="box-2").body["replay"] is False
    assert failed(wire.activate(key, hwid="box-3")) == (403, "offline_activation_limit_reached")
    assert af.stats()["licenses"][key]["credits"] == 4
    af.reset_hwids(key)  # online slots only: activated machines keep their files
    assert failed(wire.activate(key, hwid="box-3")) == (403, "offline_activation_limit_reached")
    assert af.license_info(key)["offline_activations"] == ["box-1", "box-2"]


def test_activation_rules(af, wire):
    expiring = af.create_license(expires_at=time.time() + 3600)
    assert failed(wire.activate(expiring)) == (403, "offline_activation_requires_perpetual")
    unlimited = af.create_license(slots=0)
    assert failed(wire.activate(unlimited)) == (403, "offline_activation_requires_seats")
    revoked = af.create_license()
    af.revoke(revoked)
    assert failed(wire.activate(revoked)) == (403, "revoked")
    assert failed(wire.activate("NOPE-NOPE-NOPE-NOPE")) == (403, "invalid_key")
    assert failed(wire.activate(af.create_license(), appSecret="x")) == (401, "invalid_app")
    af.set_offline_activation(False)
    assert failed(wire.activate(af.create_license())) == (403, "offline_activation_disabled")
    assert af.stats()["credits_spent"] == 0


def test_activation_costs_two_credits(af, wire):
    key = af.create_license()
    af.set_credits(1)
    assert failed(wire.activate(key)) == (429, "no_credits")
    assert af.license_info(key)["offline_activations"] == []
    af.set_credits(2)
    assert wire.activate(key).status == 200
    assert af.server.admin.credits(af.app_id)["credits"] == 0
    assert wire.activate(key).body["replay"] is True  # free, even with no credits left
