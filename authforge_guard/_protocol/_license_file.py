"""Offline license files (``.authforge``, version 1): parse, verify, and (server side) mint.

Verification order and codes are fixed across every AuthForge SDK:
``bad_armor``, ``bad_signature`` (before the JSON is decoded, so a forged file
never reaches the parser), ``unsupported_version``, ``malformed_payload``,
``wrong_app``, ``expired``, ``hwid_mismatch``. No network, ever.

One check of our own comes just before ``expired``: ``issued_in_future``, a
file signed more than ``MAX_CLOCK_SKEW_SECONDS`` after the local clock's now.
A vendor cannot sign a file in the future, so such a file means the clock was
set back, the one thing that would keep an expired file running.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Union

from . import _armor
from ._encoding import b64decode, b64encode, compact_json, parse_iso_utc
from ._keys import PublicKeyArg, SigningKey, TrustList

BEGIN_LICENSE = "-----BEGIN AUTHFORGE LICENSE-----"
END_LICENSE = "-----END AUTHFORGE LICENSE-----"
BEGIN_SIGNATURE = "-----BEGIN AUTHFORGE SIGNATURE-----"
END_SIGNATURE = "-----END AUTHFORGE SIGNATURE-----"
LICENSE_FILE_VERSION = 1
LICENSE_TYP = "authforge-license"

OFFLINE_LICENSE_ERRORS = (
    "bad_armor",
    "bad_signature",
    "unsupported_version",
    "malformed_payload",
    "wrong_app",
    "issued_in_future",
    "expired",
    "hwid_mismatch",
)

# How far ahead of the local clock a file's issuedAt may be: clocks drift, and the
# vendor's machine signs with its own. Beyond this the local clock was set back.
MAX_CLOCK_SKEW_SECONDS = 300.0

Moment = Union[datetime, float, int, None]


def parse_license_file(text: Any) -> dict[str, Any] | None:
    """``{"headers", "payload_base64", "signature_base64"}`` of armored text, or ``None``.

    ``payload_base64`` is exactly the string the signature covers.
    """
    if not isinstance(text, str):
        return None
    lines = _armor.split_lines(text)
    begin = _armor.find_marker(lines, BEGIN_LICENSE, 0)
    end = _armor.find_marker(lines, END_LICENSE, begin + 1) if begin >= 0 else -1
    sig_begin = _armor.find_marker(lines, BEGIN_SIGNATURE, end + 1) if end >= 0 else -1
    sig_end = _armor.find_marker(lines, END_SIGNATURE, sig_begin + 1) if sig_begin >= 0 else -1
    if sig_end < 0:
        return None
    parsed = _armor.parse_headers_and_body(lines[begin + 1 : end])
    signature = _armor.join_base64(lines[sig_begin + 1 : sig_end])
    if parsed is None or signature is None:
        return None
    headers, payload_b64 = parsed
    return {"headers": headers, "payload_base64": payload_b64, "signature_base64": signature}


def verify_license_file(
    file: Any,
    app_id: str,
    public_key: PublicKeyArg | TrustList,
    hwid: str | None = None,
    *,
    now: Moment = None,
) -> dict[str, Any]:
    """``{"ok": True, "license": {...}, ...}`` or ``{"ok": False, "error": <code>}``.

    Never raises for bad input: a key argument that names no usable key makes
    every signature a ``bad_signature``, as in the official SDK.
    """
    parsed = parse_license_file(file)
    if parsed is None:
        return {"ok": False, "error": "bad_armor"}
    trust = public_key if isinstance(public_key, TrustList) else TrustList.lenient(public_key)
    if not trust.verify(parsed["payload_base64"], parsed["signature_base64"]):
        return {"ok": False, "error": "bad_signature"}
    try:
        payload = json.loads(b64decode(parsed["payload_base64"]).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {"ok": False, "error": "malformed_payload"}
    if not isinstance(payload, dict):
        return {"ok": False, "error": "malformed_payload"}
    version = payload.get("v")
    # True == 1 in Python: the other SDKs demand a JSON number, so must we.
    if isinstance(version, bool) or version != LICENSE_FILE_VERSION:
        return {"ok": False, "error": "unsupported_version"}
    if not _payload_shape_ok(payload):
        return {"ok": False, "error": "malformed_payload"}
    if payload["appId"] != app_id:
        return {"ok": False, "error": "wrong_app"}
    current = _epoch(now)
    issued = parse_iso_utc(payload["issuedAt"])
    if issued is not None and issued - current > MAX_CLOCK_SKEW_SECONDS:
        return {"ok": False, "error": "issued_in_future"}
    expires_at = payload["expiresAt"]
    if expires_at is not None:
        expiry = parse_iso_utc(expires_at)
        if expiry is None or expiry <= current:
            return {"ok": False, "error": "expired"}
    policy = payload["hwid"]
    if policy["mode"] == "bound":
        local = hwid.strip() if isinstance(hwid, str) else ""
        if not local or local not in policy["hwids"]:
            return {"ok": False, "error": "hwid_mismatch"}
    return {
        "ok": True,
        "license": _license_summary(payload),
        "payload_base64": parsed["payload_base64"],
        "signature_base64": parsed["signature_base64"],
    }


def _epoch(now: Moment) -> float:
    if isinstance(now, datetime):
        return now.timestamp()
    if isinstance(now, (int, float)) and not isinstance(now, bool):
        return float(now)
    return time.time()


def _payload_shape_ok(payload: Mapping[str, Any]) -> bool:
    if payload.get("typ") != LICENSE_TYP:
        return False
    for name in ("appId", "licenseKey", "jti", "kid", "issuedAt"):
        value = payload.get(name)
        if not isinstance(value, str) or not value:
            return False
    # expiresAt must be present: explicit null is a lifetime license, absence is malformed.
    if "expiresAt" not in payload:
        return False
    expires_at = payload["expiresAt"]
    if expires_at is not None and (not isinstance(expires_at, str) or not expires_at):
        return False
    policy = payload.get("hwid")
    if not isinstance(policy, dict):
        return False
    if policy.get("mode") == "any":
        return True
    if policy.get("mode") != "bound":
        return False
    hwids = policy.get("hwids")
    return isinstance(hwids, list) and bool(hwids) and all(isinstance(h, str) and h for h in hwids)


def _license_summary(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The ``license`` dict of a verified file, with the official SDK's keys."""
    policy = payload["hwid"]
    summary: dict[str, Any] = {
        "app_id": payload["appId"],
        "license_key": payload["licenseKey"],
        "jti": payload["jti"],
        "key_id": payload["kid"],
        "issued_at": payload["issuedAt"],
        "expires_at": payload["expiresAt"],
        "hwid_policy": (
            {"mode": "bound", "hwids": list(policy["hwids"])}
            if policy["mode"] == "bound"
            else {"mode": "any"}
        ),
        "license_variables": _optional_dict(payload.get("licenseVariables")),
        "app_variables": _optional_dict(payload.get("appVariables")),
        "payload": dict(payload),
    }
    if isinstance(payload.get("label"), str):
        summary["label"] = payload["label"]
    if "licenseExpiresAt" in payload:
        value = payload["licenseExpiresAt"]
        summary["license_expires_at"] = value if isinstance(value, str) else None
    return summary


def _optional_dict(value: Any) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, dict) else None


def license_payload(
    *,
    app_id: str,
    license_key: str,
    jti: str,
    key_id: str,
    issued_at: str,
    expires_at: str | None,
    hwids: Sequence[str] | None,
    label: str | None = None,
    license_variables: Mapping[str, Any] | None = None,
    app_variables: Mapping[str, Any] | None = None,
    license_expires_at: str | None = None,
) -> dict[str, Any]:
    """A version-1 payload; ``hwids=None`` means any machine, ``expires_at=None`` lifetime."""
    payload: dict[str, Any] = {
        "v": LICENSE_FILE_VERSION,
        "typ": LICENSE_TYP,
        "appId": app_id,
        "licenseKey": license_key,
        "jti": jti,
        "kid": key_id,
        "issuedAt": issued_at,
        "expiresAt": expires_at,
        "hwid": {"mode": "any"} if hwids is None else {"mode": "bound", "hwids": list(hwids)},
    }
    if label is not None:
        payload["label"] = label
    if license_variables is not None:
        payload["licenseVariables"] = dict(license_variables)
    if app_variables is not None:
        payload["appVariables"] = dict(app_variables)
    if license_expires_at is not None:
        payload["licenseExpiresAt"] = license_expires_at
    return payload


def format_license_file(
    payload: Mapping[str, Any],
    signing_key: SigningKey,
    extra_headers: Mapping[str, str] | None = None,
) -> str:
    """Armored, signed ``.authforge`` text for ``payload`` (server side)."""
    payload_b64 = b64encode(compact_json(dict(payload)).encode("utf-8"))
    headers = {"Version": str(LICENSE_FILE_VERSION), "App-Id": str(payload.get("appId", ""))}
    headers.update(extra_headers or {})
    header_lines = [f"{name}: {_armor.header_value(value)}" for name, value in headers.items()]
    return "\n".join(
        [
            BEGIN_LICENSE,
            *header_lines,
            "",
            _armor.wrap(payload_b64),
            END_LICENSE,
            BEGIN_SIGNATURE,
            _armor.wrap(signing_key.sign(payload_b64)),
            END_SIGNATURE,
            "",
        ]
    )
