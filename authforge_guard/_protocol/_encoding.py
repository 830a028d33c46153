"""Byte-level encodings of the wire format: base64 flavours, compact JSON, nonces, timestamps.

Written once and shared by the client, the local server and the session cache,
so both ends of the wire encode exactly alike.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from datetime import datetime, timezone
from typing import Any

# ``json.dumps`` with any option builds a new encoder per call; these are built once
# (the same options, so the same output).
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_COMPACT_ASCII = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)


def compact_json(value: Any) -> str:
    """JSON as AuthForge sends it: no spaces, UTF-8 characters kept (not \\u-escaped)."""
    return _COMPACT.encode(value)


def compact_json_bytes(value: Any) -> bytes:
    """``compact_json`` as the UTF-8 bytes of a request body.

    Text that UTF-8 cannot carry (a lone surrogate, from a file or an
    environment variable that was not UTF-8) goes escaped (``\\udcff``), as the
    official SDK sends every request, so the server judges it
    (``malformed_request``) rather than the client failing with
    ``UnicodeEncodeError``.
    """
    try:
        return compact_json(value).encode("utf-8")
    except UnicodeEncodeError:
        return _COMPACT_ASCII.encode(value).encode("ascii")


def b64encode(data: bytes) -> str:
    """Standard base64 with padding."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, *, strict: bool = False) -> bytes:
    """Standard base64, tolerating missing padding.

    ``strict`` rejects characters outside the alphabet (for signatures and keys,
    where a lenient decode could let two different strings mean one key).
    Raises ``ValueError`` on undecodable input.
    """
    if not isinstance(text, str):
        raise ValueError("base64 text must be a string")
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded, validate=strict)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("invalid base64") from exc


def b64url_encode(data: bytes) -> str:
    """URL-safe base64 without padding (session-token parts)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """URL-safe base64 with or without padding; ``ValueError`` on garbage."""
    if not isinstance(text, str):
        raise ValueError("base64url text must be a string")
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError as exc:
        raise ValueError("invalid base64url") from exc
    try:
        return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("invalid base64url") from exc


def new_nonce() -> str:
    """A fresh 128-bit random nonce: 32 lowercase hex characters."""
    return secrets.token_hex(16)


def iso_utc(epoch_seconds: float) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, the form AuthForge timestamps use."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso_utc(text: Any) -> float | None:
    """ISO-8601 to epoch seconds (naive means UTC); ``None`` when unparseable."""
    if not isinstance(text, str) or not text.strip():
        return None
    value = text.strip()
    if value[-1] in "zZ":
        value = value[:-1] + "+00:00"
    moment: datetime | None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = _parse_iso_fallback(value)
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def server_time(value: Any) -> float | None:
    """A payload ``timestamp`` (epoch seconds or ms, or ISO-8601) as epoch seconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and value == value:
        return float(value) / 1000.0 if value > 1e11 else float(value)
    return parse_iso_utc(value)


def _parse_iso_fallback(value: str) -> datetime | None:
    # Python 3.9/3.10 fromisoformat only takes 0, 3 or 6 fraction digits;
    # AuthForge and other SDKs may send any count. Normalise to 6.
    head, sep, rest = value.partition(".")
    if not sep:
        return None
    digits = ""
    while rest and rest[0].isdigit():
        digits, rest = digits + rest[0], rest[1:]
    if not digits:
        return None
    try:
        return datetime.fromisoformat(f"{head}.{digits[:6].ljust(6, '0')}{rest}")
    except ValueError:
        return None
