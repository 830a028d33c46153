"""Where a validate or heartbeat answer is judged, and the signed session it yields.

The checks run in the documented order, and nothing in a response is believed
before its signature has been verified against the trust list:
status, payload and signature present, payload is a JSON object, echoed nonce,
signature, non-empty session token, session expiry, then the binding to the
request (``_binding``: app, license key, HWID, lifetime).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._exceptions import AuthForgeError
from .._records import Record
from ._binding import Asked, check_binding
from ._codes import is_success_status, server_verdict_code
from ._encoding import b64decode, b64encode, compact_json
from ._keys import SigningKey, TrustList
from ._token import decode_token_body, token_expiry


def failure_from_body(body: Mapping[str, Any]) -> AuthForgeError:
    """The error a non-success body stands for.

    Only ``{"status": "failed", "error": <code>}`` is an AuthForge verdict;
    any other shape is ``unexpected_response`` (transient), never a reason to
    end a session.
    """
    code = server_verdict_code(body)
    if code is not None:
        return AuthForgeError(code)
    return AuthForgeError("unexpected_response", "unexpected_response: not an AuthForge verdict")


class SignedSession(Record):
    """A verified AuthForge session: the signed payload exactly as received, and what it says.

    ``payload_b64``/``signature``/``key_id`` are kept verbatim so the session
    can be re-verified later (grace mode, the session cache) without trusting
    anything that was not signed.
    """

    __slots__ = ("expires_at", "key_id", "payload", "payload_b64", "session_token", "signature")
    # The payload carries the session token (and the token the license key):
    # never in repr, even base64-encoded.
    _hidden = frozenset({"payload_b64", "signature", "payload", "session_token"})

    payload_b64: str
    signature: str
    key_id: str | None
    payload: Mapping[str, Any]
    session_token: str
    expires_at: int

    def __init__(
        self,
        *,
        payload_b64: str,
        signature: str,
        key_id: str | None,
        payload: Mapping[str, Any],
        session_token: str,
        expires_at: int = 0,
    ) -> None:
        self._assign(
            payload_b64=payload_b64,
            signature=signature,
            key_id=key_id,
            payload=payload,
            session_token=session_token,
            expires_at=expires_at,
        )

    @property
    def token_body(self) -> dict[str, Any]:
        """The session token's body (``appId``, ``licenseKey``, ``hwid``, ``exp``), if readable."""
        return decode_token_body(self.session_token) or {}

    @property
    def app_variables(self) -> dict[str, Any] | None:
        value = self.payload.get("appVariables")
        return dict(value) if isinstance(value, dict) else None

    @property
    def license_variables(self) -> dict[str, Any] | None:
        value = self.payload.get("licenseVariables")
        return dict(value) if isinstance(value, dict) else None

    def validate_result(self) -> dict[str, Any]:
        """The success dict of ``AuthForgeClient.validate_license`` (the official SDK's keys)."""
        result: dict[str, Any] = {
            "valid": True,
            "session_token": self.session_token,
            "expires_in": self.expires_at,
            "session_data": dict(self.payload),
            "app_variables": self.app_variables,
            "license_variables": self.license_variables,
            "key_id": self.key_id,
        }
        payload = self.payload
        session_expires_at = payload.get("sessionExpiresAt")
        if isinstance(session_expires_at, str) and session_expires_at:
            result["session_expires_at"] = session_expires_at
        if "licenseExpiresAt" in payload:
            license_expires_at = payload["licenseExpiresAt"]
            result["license_expires_at"] = (
                license_expires_at if isinstance(license_expires_at, str) else None
            )
        for wire, key in (("maxHwidSlots", "max_hwid_slots"), ("hwidCount", "hwid_count")):
            number = _as_int(payload.get(wire))
            if number is not None:
                result[key] = number
        label = payload.get("licenseLabel")
        if isinstance(label, str) and label:
            result["license_label"] = label
        return result


def judge_signed_response(
    body: Mapping[str, Any], *, expected_nonce: str, trust: TrustList, asked: Asked | None
) -> SignedSession:
    """Accept a validate/heartbeat answer or raise ``AuthForgeError`` at the first failed check.

    Last of all the answer must be bound to its request (``_binding``): the
    signed claims are the app, license key and HWID sent, and the signed end is
    within the lifetime asked for (``session_mismatch`` otherwise). ``asked`` has
    no default so no caller can forget it; ``None`` (tests of the other checks
    only) skips the binding.
    """
    if not is_success_status(body.get("status")):
        raise failure_from_body(body)
    signed = verify_signed_payload(
        body.get("payload"),
        body.get("signature"),
        body.get("keyId"),
        trust=trust,
        expected_nonce=expected_nonce,
    )
    if asked is not None:
        check_binding(signed.token_body, signed.expires_at, signed.payload, asked)
    return signed


def verify_signed_payload(
    payload_b64: Any,
    signature: Any,
    key_id: Any,
    *,
    trust: TrustList,
    expected_nonce: str | None,
) -> SignedSession:
    """Verify a signed payload; ``expected_nonce=None`` skips the echo check.

    The nonce check is skipped only for a session restored from the cache,
    whose nonce is by nature an old one; its signature is still verified.
    """
    payload_text = _require_text(payload_b64, "payload")
    signature_text = _require_text(signature, "signature")
    payload = decode_payload(payload_text)
    if expected_nonce is not None:
        echoed = payload.get("nonce")
        if not isinstance(echoed, str) or echoed.strip() != expected_nonce:
            raise AuthForgeError("nonce_mismatch")
    if not trust.verify(payload_text, signature_text):
        raise AuthForgeError("signature_mismatch")
    token = payload.get("sessionToken")
    if not isinstance(token, str) or not token.strip():
        raise AuthForgeError("missing_sessionToken")
    if key_id is not None and not isinstance(key_id, str):
        raise AuthForgeError("invalid_keyId")
    expires_at = token_expiry(token)
    if expires_at is None:
        expires_at = _as_int(payload.get("expiresIn"))
    if expires_at is None:
        raise AuthForgeError("missing_expiresIn")
    return SignedSession(
        payload_b64=payload_text,
        signature=signature_text,
        key_id=key_id,
        payload=payload,
        session_token=token.strip(),
        expires_at=expires_at,
    )


def signed_response(payload: Mapping[str, Any], signing_key: SigningKey) -> dict[str, Any]:
    """Server side: the success body carrying ``payload`` signed by ``signing_key``."""
    payload_b64 = b64encode(compact_json(dict(payload)).encode("utf-8"))
    return {
        "status": "ok",
        "payload": payload_b64,
        "signature": signing_key.sign(payload_b64),
        "keyId": signing_key.key_id,
    }


def decode_payload(payload_b64: str) -> dict[str, Any]:
    """The JSON object inside a base64 payload; ``AuthForgeError`` when it is not one."""
    try:
        decoded = json.loads(b64decode(payload_b64).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise AuthForgeError("invalid_payload_json") from None
    if not isinstance(decoded, dict):
        raise AuthForgeError("payload_not_json_object")
    return decoded


def _require_text(value: Any, name: str) -> str:
    if value is None:
        raise AuthForgeError(f"missing_{name}")
    if not isinstance(value, str):
        raise AuthForgeError("unexpected_response", f"unexpected_response: {name} is not a string")
    if not value:
        raise AuthForgeError(f"empty_{name}")
    return value


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 1e18:
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None
