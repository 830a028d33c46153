"""Offline .authforge files: parsing tolerance, the fixed verification order, and parity
with the official SDK's verifier on a matrix of good and bad files."""

import base64
import json
import time

import authforge as official
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authforge_guard import parse_license_file, verify_license_file
from authforge_guard._protocol import (
    SigningKey,
    format_license_file,
    iso_utc,
    license_payload,
)

KEY = SigningKey.generate()
HWID = "a" * 64


def make_file(key=KEY, **overrides):
    fields = dict(
        app_id="app_1",
        license_key="KEY-1",
        jti="j1",
        key_id=key.key_id,
        issued_at=iso_utc(time.time()),
        expires_at=None,
        hwids=[HWID],
        label="Alice",
        license_variables={"tier": "pro"},
        app_variables={"motd": "hi"},
    )
    fields.update(overrides)
    return format_license_file(license_payload(**fields), key)


def raw_file(payload_obj, key=KEY):
    """A file around an arbitrary payload object (for malformed-payload cases)."""
    payload_b64 = base64.b64encode(json.dumps(payload_obj).encode()).decode()
    return (
        "-----BEGIN AUTHFORGE LICENSE-----\nVersion: 1\nApp-Id: app_1\n\n"
        f"{payload_b64}\n-----END AUTHFORGE LICENSE-----\n"
        f"-----BEGIN AUTHFORGE SIGNATURE-----\n{key.sign(payload_b64)}\n"
        "-----END AUTHFORGE SIGNATURE-----\n"
    )


def good_payload(**overrides):
    payload = license_payload(
        app_id="app_1",
        license_key="KEY-1",
        jti="j",
        key_id=KEY.key_id,
        issued_at="2026-01-01T00:00:00.000Z",
        expires_at=None,
        hwids=[HWID],
    )
    payload.update(overrides)
    return payload


def rewrap(text, width):
    out, body, in_body = [], [], False
    for line in text.split("\n"):
        if line == "" and not in_body and "BEGIN AUTHFORGE LICENSE" in "\n".join(out):
            in_body = True
            out.append(line)
            continue
        if in_body and line.startswith("-----END"):
            joined = "".join(body)
            out.extend(joined[i : i + width] for i in range(0, len(joined), width))
            in_body = False
        if in_body:
            body.append(line)
        else:
            out.append(line)
    return "\n".join(out)


def tamper(text):
    """Flip one character of the first payload line (still valid base64)."""
    lines = text.split("\n")
    index = lines.index("") + 1
    line = lines[index]
    lines[index] = line[:10] + ("A" if line[10] != "A" else "B") + line[11:]
    return "\n".join(lines)


def payload_without_expiry():
    payload = good_payload()
    del payload["expiresAt"]
    return payload


MATRIX = {
    "good_bound": (make_file(), None),
    "good_any": (make_file(hwids=None), None),
    "good_expiring": (make_file(expires_at=iso_utc(time.time() + 3600)), None),
    "crlf_bom_rewrapped": ("\ufeff" + rewrap(make_file(), 17).replace("\n", "\r\n"), None),
    "text_around": ("Dear customer,\nhere is your file:\n" + make_file() + "\nThanks!\n", None),
    "tampered": (tamper(make_file()), "bad_signature"),
    "wrong_key": (make_file(key=SigningKey.generate()), "bad_signature"),
    "wrong_app": (make_file(app_id="other"), "wrong_app"),
    "expired": (make_file(expires_at=iso_utc(time.time() - 5)), "expired"),
    "hwid_mismatch": (make_file(hwids=["b" * 64]), "hwid_mismatch"),
    "v2": (raw_file(good_payload(v=2)), "unsupported_version"),
    "v_true": (raw_file(good_payload(v=True)), "unsupported_version"),
    "missing_expiresAt": (raw_file(payload_without_expiry()), "malformed_payload"),
    "empty_hwid_list": (
        raw_file(good_payload(hwid={"mode": "bound", "hwids": []})),
        "malformed_payload",
    ),
    "payload_not_object": (raw_file([1, 2]), "malformed_payload"),
    "truncated": (make_file()[:200], "bad_armor"),
    "not_a_file": ("hello world", "bad_armor"),
    "empty": ("", "bad_armor"),
}


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_verdict_matches_expectation_and_official_sdk(name):
    text, expected_error = MATRIX[name]
    ours = verify_license_file(text, "app_1", KEY.public_key_b64, HWID)
    theirs = official.verify_license_file(text, "app_1", KEY.public_key_b64, HWID)
    assert ours["ok"] is (expected_error is None)
    assert ours.get("error") == expected_error
    assert ours["ok"] == theirs["ok"] and ours.get("error") == theirs.get("error")
    if ours["ok"]:
        assert ours["license"] == theirs["license"]
        assert ours["payload_base64"] == theirs["payload_base64"]


def test_official_parser_agrees_on_armor():
    text = MATRIX["crlf_bom_rewrapped"][0]
    assert parse_license_file(text) == official.parse_license_file(text)


def test_now_parameter_moves_the_clock():
    text = make_file(expires_at="2030-01-01T00:00:00Z")
    assert verify_license_file(text, "app_1", KEY.public_key_b64, HWID, now=1893456000 - 1)["ok"]
    assert (
        verify_license_file(text, "app_1", KEY.public_key_b64, HWID, now=1893456000)["error"]
        == "expired"
    )


def test_key_rotation_list_accepts_either_key():
    old = SigningKey.generate()
    text = make_file(key=old)
    assert verify_license_file(text, "app_1", [KEY.public_key_b64, old.public_key_b64], HWID)["ok"]
    assert verify_license_file(text, "app_1", "junk", HWID)["error"] == "bad_signature"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_garbage_gets_a_documented_verdict(text):
    result = verify_license_file(text, "app_1", KEY.public_key_b64, HWID)
    assert result["ok"] is False
    assert result["error"] in {"bad_armor", "bad_signature"}


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=12,
    )
)
def test_signed_garbage_payload_never_raises(obj):
    result = verify_license_file(raw_file(obj), "app_1", KEY.public_key_b64, HWID)
    assert result["ok"] is False
    assert result["error"] in {"unsupported_version", "malformed_payload"}
