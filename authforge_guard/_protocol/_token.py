"""Session tokens: ``<base64url(JSON body)>.<base64url(server MAC)>``.

A client only reads the body (``exp``, ``appId``, ``licenseKey``, ``hwid``);
the MAC is the server's business and is checked only by the server.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from ._encoding import b64url_decode, b64url_encode, compact_json


def decode_token_body(token: Any) -> dict[str, Any] | None:
    """The JSON body of a session token, or ``None`` if it is not one. Never raises."""
    if not isinstance(token, str):
        return None
    head, dot, _mac = token.partition(".")
    if not dot or not head:
        return None
    try:
        body = json.loads(b64url_decode(head).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting: not a token
        return None
    return body if isinstance(body, dict) else None


def token_expiry(token: Any) -> int | None:
    """The token's ``exp`` in epoch seconds, or ``None`` when absent or not a number."""
    body = decode_token_body(token)
    if body is None:
        return None
    exp = body.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return None
    if exp != exp or exp in (float("inf"), float("-inf")):  # NaN / infinities
        return None
    return int(exp)


def encode_token(body: Mapping[str, Any], mac_key: bytes) -> str:
    """Server side: a token for ``body``, authenticated with HMAC-SHA256 under ``mac_key``."""
    head = b64url_encode(compact_json(dict(body)).encode("utf-8"))
    mac = hmac.new(mac_key, head.encode("ascii"), hashlib.sha256).digest()
    return f"{head}.{b64url_encode(mac)}"


def verify_token(token: Any, mac_key: bytes) -> dict[str, Any] | None:
    """Server side: the body of ``token`` if its MAC is ours, else ``None``. Never raises."""
    if not isinstance(token, str) or token.count(".") != 1:
        return None
    head, mac_text = token.split(".")
    try:
        given = b64url_decode(mac_text)
        head_bytes = head.encode("ascii")
    except (ValueError, UnicodeEncodeError):
        return None
    expected = hmac.new(mac_key, head_bytes, hashlib.sha256).digest()
    if not hmac.compare_digest(given, expected):
        return None
    return decode_token_body(token)
