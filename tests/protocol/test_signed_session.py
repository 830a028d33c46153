"""Judging validate/heartbeat answers: every check, in the documented order."""

import base64
import json
import time

import pytest

from authforge_guard import AuthForgeError
from authforge_guard._protocol import (
    SigningKey,
    TrustList,
    encode_token,
    judge_signed_response,
    signed_response,
)

KEY = SigningKey.generate()
TRUST = TrustList(KEY.public_key_b64)
NONCE = "0123456789abcdef0123456789abcdef"


def payload(**overrides):
    exp = int(time.time()) + 3600
    body = {
        "sessionToken": encode_token(
            {"appId": "app", "licenseKey": "K", "hwid": "h", "exp": exp}, b"mac"
        ),
        "timestamp": int(time.time()),
        "expiresIn": exp + 99,
        "nonce": NONCE,
        "appVariables": {"motd": "hi"},
        "licenseVariables": {"tier": "pro"},
        "maxHwidSlots": 2,
        "hwidCount": 1,
        "licenseLabel": "Alice",
        "licenseExpiresAt": None,
        "sessionExpiresAt": "2030-01-01T00:00:00.000Z",
    }
    body.update(overrides)
    return body


def code_of(body, nonce=NONCE):
    with pytest.raises(AuthForgeError) as info:
        judge_signed_response(body, expected_nonce=nonce, trust=TRUST, asked=None)
    return info.value.code


def test_good_answer_yields_session_with_official_result_keys():
    answer = signed_response(payload(), KEY)
    session = judge_signed_response(answer, expected_nonce=NONCE, trust=TRUST, asked=None)
    assert session.expires_at == session.token_body["exp"]  # token exp wins over expiresIn
    assert session.key_id == KEY.key_id
    result = session.validate_result()
    assert result["valid"] is True
    assert result["license_variables"] == {"tier": "pro"}
    assert result["max_hwid_slots"] == 2 and result["hwid_count"] == 1
    assert result["license_expires_at"] is None
    assert result["license_label"] == "Alice"
    assert result["session_expires_at"] == "2030-01-01T00:00:00.000Z"


def test_expiry_falls_back_to_expires_in_when_token_has_no_exp():
    answer = signed_response(payload(sessionToken="opaque-token", expiresIn=1900000000), KEY)
    assert (
        judge_signed_response(answer, expected_nonce=NONCE, trust=TRUST, asked=None).expires_at
        == 1900000000
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"status": "failed", "error": "revoked"}, "revoked"),
        ({"status": "failed", "error": "Some_New_Code"}, "some_new_code"),
        ({"status": "failed", "error": "bad code!"}, "unexpected_response"),
        ({"status": "revoked"}, "unexpected_response"),
        ({"status": "failed"}, "unexpected_response"),
        ({"status": "ok"}, "missing_payload"),
        ({"status": "ok", "payload": "", "signature": "x"}, "empty_payload"),
        (
            {
                "status": "ok",
                "payload": "e30=",
            },
            "missing_signature",
        ),
        ({"status": "ok", "payload": "!!!!", "signature": "x"}, "invalid_payload_json"),
        (
            {"status": "ok", "payload": base64.b64encode(b"[1]").decode(), "signature": "x"},
            "payload_not_json_object",
        ),
    ],
)
def test_failures_map_to_codes(body, code):
    assert code_of(body) == code


def test_nonce_is_checked_before_the_signature():
    forged = signed_response(payload(nonce="other"), SigningKey.generate())
    assert code_of(forged) == "nonce_mismatch"


def test_foreign_key_is_signature_mismatch_and_fatal():
    answer = signed_response(payload(), SigningKey.generate())
    with pytest.raises(AuthForgeError) as info:
        judge_signed_response(answer, expected_nonce=NONCE, trust=TRUST, asked=None)
    assert info.value.code == "signature_mismatch" and info.value.fatal


def test_tampered_payload_is_signature_mismatch():
    answer = signed_response(payload(), KEY)
    decoded = json.loads(base64.b64decode(answer["payload"]))
    decoded["licenseVariables"] = {"tier": "enterprise"}
    answer["payload"] = base64.b64encode(json.dumps(decoded).encode()).decode()
    assert code_of(answer) == "signature_mismatch"


def test_empty_token_and_missing_expiry_are_rejected_after_signature():
    assert code_of(signed_response(payload(sessionToken="  "), KEY)) == "missing_sessionToken"
    no_expiry = payload(sessionToken="opaque")
    del no_expiry["expiresIn"]
    assert code_of(signed_response(no_expiry, KEY)) == "missing_expiresIn"


def test_success_spellings():
    for status in ("OK", "success", "Valid", "true", "1", True):
        answer = signed_response(payload(), KEY)
        answer["status"] = status
        assert judge_signed_response(answer, expected_nonce=NONCE, trust=TRUST, asked=None)
    for status in (False, None, "no", 0, {}):
        answer = signed_response(payload(), KEY)
        answer["status"] = status
        assert code_of(answer) == "unexpected_response"
