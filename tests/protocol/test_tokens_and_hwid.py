"""Session tokens and HWID resolution."""

import hashlib

import pytest

from authforge_guard._protocol import (
    decode_token_body,
    encode_token,
    resolve_hwid,
    token_expiry,
    verify_token,
)


def test_token_round_trip_and_mac_check():
    token = encode_token({"appId": "a", "licenseKey": "K", "hwid": "h", "exp": 123}, b"secret")
    assert decode_token_body(token)["exp"] == 123 and token_expiry(token) == 123
    assert verify_token(token, b"secret")["licenseKey"] == "K"
    assert verify_token(token, b"other") is None
    head, mac = token.split(".")
    forged = encode_token({"appId": "a", "licenseKey": "K", "hwid": "h", "exp": 999}, b"x")
    assert verify_token(forged.split(".")[0] + "." + mac, b"secret") is None


@pytest.mark.parametrize("token", [None, "", "abc", ".x", "!!!.x", "e30.x", "WzFd.x", 7])
def test_garbage_tokens_decode_to_nothing(token):
    body = decode_token_body(token)
    assert body is None or body == {}
    assert token_expiry(token) is None


def test_exp_must_be_a_number():
    for exp in ("123", True, None, float("nan")):
        assert token_expiry(encode_token({"exp": exp}, b"k")) is None


def test_override_is_sent_unchanged_after_trimming():
    assert resolve_hwid("app", "  tg:123 ") == "tg:123"


def test_machine_hwid_follows_the_formula():
    with open("/etc/machine-id") as handle:
        machine_id = handle.read().strip().lower()
    expected = hashlib.sha256(f"authforge-hwid-v2|app|{machine_id}".encode()).hexdigest()
    assert resolve_hwid("app", None) == expected
    assert resolve_hwid("app", "   ") == expected
