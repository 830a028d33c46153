"""Layer 1: the AuthForge wire protocol, pure (no sockets), shared by client, server and cache.

Imports here are cheap: each name loads its module on first use (PEP 562), so a
login does not load the offline-file, activation or hardware-id code it never
calls, and ``cryptography`` loads on the first signature check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._activation import (
        ActivationRequestError,
        format_activation_request,
        os_label,
        parse_activation_request,
    )
    from ._binding import (
        MAX_CLOCK_SKEW_SECONDS,
        SESSION_MISMATCH,
        Asked,
        check_binding,
        for_heartbeat,
        for_validate,
    )
    from ._codes import (
        CLIENT_ERROR_CODES,
        DEFINITIVE_ERROR_CODES,
        NON_RETRYABLE_429_CODES,
        SERVER_ERROR_CODES,
        is_success_status,
        is_transient_error,
        server_verdict_code,
    )
    from ._encoding import compact_json, compact_json_bytes, iso_utc, new_nonce, parse_iso_utc
    from ._hwid import hwid_from_machine_id, normalize_machine_id, resolve_hwid
    from ._keys import PublicKeyArg, SigningKey, TrustList, key_id_for
    from ._license_file import (
        OFFLINE_LICENSE_ERRORS,
        format_license_file,
        license_payload,
        parse_license_file,
        verify_license_file,
    )
    from ._redact import mask_key
    from ._requests import (
        HEARTBEAT_PATH,
        OFFLINE_ACTIVATE_PATH,
        SELFBAN_PATH,
        TTL_DEFAULT_SECONDS,
        VALIDATE_PATH,
        clamp_ttl,
        heartbeat_body,
        offline_activate_body,
        selfban_presession_body,
        selfban_session_body,
        validate_body,
    )
    from ._signed_session import (
        SignedSession,
        decode_payload,
        failure_from_body,
        judge_signed_response,
        signed_response,
        verify_signed_payload,
    )
    from ._token import decode_token_body, encode_token, token_expiry, verify_token

__all__ = [
    "CLIENT_ERROR_CODES",
    "DEFINITIVE_ERROR_CODES",
    "HEARTBEAT_PATH",
    "MAX_CLOCK_SKEW_SECONDS",
    "NON_RETRYABLE_429_CODES",
    "OFFLINE_ACTIVATE_PATH",
    "OFFLINE_LICENSE_ERRORS",
    "SELFBAN_PATH",
    "SERVER_ERROR_CODES",
    "SESSION_MISMATCH",
    "TTL_DEFAULT_SECONDS",
    "VALIDATE_PATH",
    "ActivationRequestError",
    "Asked",
    "PublicKeyArg",
    "SignedSession",
    "SigningKey",
    "TrustList",
    "check_binding",
    "clamp_ttl",
    "compact_json",
    "compact_json_bytes",
    "decode_payload",
    "decode_token_body",
    "encode_token",
    "failure_from_body",
    "for_heartbeat",
    "for_validate",
    "format_activation_request",
    "format_license_file",
    "heartbeat_body",
    "hwid_from_machine_id",
    "is_success_status",
    "is_transient_error",
    "iso_utc",
    "judge_signed_response",
    "key_id_for",
    "license_payload",
    "mask_key",
    "new_nonce",
    "normalize_machine_id",
    "offline_activate_body",
    "os_label",
    "parse_activation_request",
    "parse_iso_utc",
    "parse_license_file",
    "resolve_hwid",
    "selfban_presession_body",
    "selfban_session_body",
    "server_verdict_code",
    "signed_response",
    "token_expiry",
    "validate_body",
    "verify_license_file",
    "verify_signed_payload",
    "verify_token",
]

# Which module defines each public name.
_WHERE = {
    "MAX_CLOCK_SKEW_SECONDS": "_binding",
    "SESSION_MISMATCH": "_binding",
    "Asked": "_binding",
    "check_binding": "_binding",
    "for_heartbeat": "_binding",
    "for_validate": "_binding",
    "ActivationRequestError": "_activation",
    "CLIENT_ERROR_CODES": "_codes",
    "DEFINITIVE_ERROR_CODES": "_codes",
    "HEARTBEAT_PATH": "_requests",
    "NON_RETRYABLE_429_CODES": "_codes",
    "OFFLINE_ACTIVATE_PATH": "_requests",
    "OFFLINE_LICENSE_ERRORS": "_license_file",
    "PublicKeyArg": "_keys",
    "SELFBAN_PATH": "_requests",
    "SERVER_ERROR_CODES": "_codes",
    "SignedSession": "_signed_session",
    "TTL_DEFAULT_SECONDS": "_requests",
    "SigningKey": "_keys",
    "TrustList": "_keys",
    "VALIDATE_PATH": "_requests",
    "clamp_ttl": "_requests",
    "compact_json": "_encoding",
    "compact_json_bytes": "_encoding",
    "decode_payload": "_signed_session",
    "decode_token_body": "_token",
    "encode_token": "_token",
    "failure_from_body": "_signed_session",
    "format_activation_request": "_activation",
    "format_license_file": "_license_file",
    "heartbeat_body": "_requests",
    "hwid_from_machine_id": "_hwid",
    "is_success_status": "_codes",
    "is_transient_error": "_codes",
    "iso_utc": "_encoding",
    "judge_signed_response": "_signed_session",
    "key_id_for": "_keys",
    "license_payload": "_license_file",
    "mask_key": "_redact",
    "new_nonce": "_encoding",
    "normalize_machine_id": "_hwid",
    "offline_activate_body": "_requests",
    "os_label": "_activation",
    "parse_activation_request": "_activation",
    "parse_iso_utc": "_encoding",
    "parse_license_file": "_license_file",
    "resolve_hwid": "_hwid",
    "selfban_presession_body": "_requests",
    "selfban_session_body": "_requests",
    "server_verdict_code": "_codes",
    "signed_response": "_signed_session",
    "token_expiry": "_token",
    "validate_body": "_requests",
    "verify_license_file": "_license_file",
    "verify_signed_payload": "_signed_session",
    "verify_token": "_token",
}


def __getattr__(name: str) -> Any:
    """Load the module that defines ``name`` and bind its names here, once."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_load(module), name)
    globals()[name] = value
    return value


def _load(module: str) -> Any:
    """``module``, by an import statement a freezer follows (PyInstaller, Nuitka), run on
    first use only (see ``authforge_guard._load``)."""
    if module == "_activation":
        from . import _activation

        return _activation
    if module == "_binding":
        from . import _binding

        return _binding
    if module == "_codes":
        from . import _codes

        return _codes
    if module == "_encoding":
        from . import _encoding

        return _encoding
    if module == "_hwid":
        from . import _hwid

        return _hwid
    if module == "_keys":
        from . import _keys

        return _keys
    if module == "_license_file":
        from . import _license_file

        return _license_file
    if module == "_redact":
        from . import _redact

        return _redact
    if module == "_requests":
        from . import _requests

        return _requests
    if module == "_signed_session":
        from . import _signed_session

        return _signed_session
    if module == "_token":
        from . import _token

        return _token
    raise ImportError(f"authforge_guard._protocol: no import for {module!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
