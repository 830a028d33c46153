"""Layer 1: the AuthForge wire protocol, pure (no sockets), shared by client, server and cache.

Imports here are cheap: ``cryptography`` loads on the first signature check.
"""

from ._activation import (
    ActivationRequestError,
    format_activation_request,
    os_label,
    parse_activation_request,
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
    "NON_RETRYABLE_429_CODES",
    "OFFLINE_ACTIVATE_PATH",
    "OFFLINE_LICENSE_ERRORS",
    "SELFBAN_PATH",
    "SERVER_ERROR_CODES",
    "VALIDATE_PATH",
    "ActivationRequestError",
    "PublicKeyArg",
    "SignedSession",
    "SigningKey",
    "TrustList",
    "clamp_ttl",
    "compact_json",
    "compact_json_bytes",
    "decode_payload",
    "decode_token_body",
    "encode_token",
    "failure_from_body",
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
