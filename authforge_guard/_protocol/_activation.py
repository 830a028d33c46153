"""Activation requests (``.authforge-request``): how an air-gapped machine reports its HWID.

Unsigned by design (the machine has no secret); the ``Checksum`` header only
catches transcription damage. The hostname is included only when asked for:
it is often a person's name.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .._version import __version__
from . import _armor
from ._encoding import b64decode, b64encode, compact_json

BEGIN_REQUEST = "-----BEGIN AUTHFORGE ACTIVATION REQUEST-----"
END_REQUEST = "-----END AUTHFORGE ACTIVATION REQUEST-----"
REQUEST_VERSION = 1
REQUEST_TYP = "authforge-activation-request"
SDK_TAG = f"python-authforge-guard/{__version__}"

# Field length caps shared with the other SDKs (longer values are clipped).
_MAX_LENGTHS = {"hwid": 256, "machineName": 128, "os": 64, "sdk": 64, "licenseKey": 64}


def os_label() -> str:
    """A short OS description such as ``Linux 6.1.0`` or ``macOS 14.5``."""
    import platform  # only activation requests need it: not loaded at start-up

    system, release = platform.system(), platform.release()
    if system == "Darwin":
        label = f"macOS {platform.mac_ver()[0] or release}"
    elif system in ("Windows", "Linux"):
        label = f"{system} {release}"
    else:
        label = f"{system} {release}".strip()
    return label[: _MAX_LENGTHS["os"]]


def request_checksum(payload_b64: str) -> str:
    """First 16 hex characters of the SHA-256 of the base64 payload."""
    return hashlib.sha256(payload_b64.encode("utf-8")).hexdigest()[:16]


def format_activation_request(
    *,
    app_id: str,
    hwid: str,
    created_at: str,
    machine_name: str | None = None,
    os: str | None = None,  # the official SDK's keyword, shadowing is intended
    sdk: str | None = None,
    license_key: str | None = None,
) -> str:
    """Armored activation-request text from explicit fields (canonical field order)."""
    fields: dict[str, Any] = {
        "v": REQUEST_VERSION,
        "typ": REQUEST_TYP,
        "appId": app_id,
        "hwid": hwid[: _MAX_LENGTHS["hwid"]],
        "createdAt": created_at,
    }
    optional = {"machineName": machine_name, "os": os, "sdk": sdk, "licenseKey": license_key}
    for name, value in optional.items():
        if value:
            fields[name] = value[: _MAX_LENGTHS[name]]
    payload_b64 = b64encode(compact_json(fields).encode("utf-8"))
    return "\n".join(
        [
            BEGIN_REQUEST,
            f"Version: {REQUEST_VERSION}",
            f"App-Id: {_armor.header_value(app_id)}",
            f"Checksum: {request_checksum(payload_b64)}",
            "",
            _armor.wrap(payload_b64),
            END_REQUEST,
            "",
        ]
    )


class ActivationRequestError(ValueError):
    """An activation request that cannot be read; ``.code`` says why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def parse_activation_request(text: Any) -> dict[str, Any]:
    """The JSON fields of an activation request, checked; ``ActivationRequestError`` otherwise.

    Codes: ``bad_armor``, ``bad_checksum``, ``malformed_payload``, ``unsupported_version``.
    """
    if not isinstance(text, str):
        raise ActivationRequestError("bad_armor")
    lines = _armor.split_lines(text)
    begin = _armor.find_marker(lines, BEGIN_REQUEST, 0)
    end = _armor.find_marker(lines, END_REQUEST, begin + 1) if begin >= 0 else -1
    parsed = _armor.parse_headers_and_body(lines[begin + 1 : end]) if end >= 0 else None
    if parsed is None:
        raise ActivationRequestError("bad_armor")
    headers, payload_b64 = parsed
    if headers.get("Checksum", "").lower() != request_checksum(payload_b64):
        raise ActivationRequestError("bad_checksum")
    try:
        fields = json.loads(b64decode(payload_b64).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ActivationRequestError("malformed_payload") from None
    if not isinstance(fields, dict):
        raise ActivationRequestError("malformed_payload")
    version = fields.get("v")
    if isinstance(version, bool) or version != REQUEST_VERSION:
        raise ActivationRequestError("unsupported_version")
    if fields.get("typ") != REQUEST_TYP:
        raise ActivationRequestError("malformed_payload")
    for name in ("appId", "hwid", "createdAt"):
        if not isinstance(fields.get(name), str) or not fields[name]:
            raise ActivationRequestError("malformed_payload")
    return fields
