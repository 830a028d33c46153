"""The AuthForge error taxonomy: which codes exist and which of them end a session.

Classification is a pure function of the code. Exactly the codes in
``DEFINITIVE_ERROR_CODES`` are fatal; every other code (known, unknown, future,
``http_error_<status>``) is transient, so a new server code can never end a
session by accident.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Verdicts the AuthForge server sends as ``{"status": "failed", "error": <code>}``.
SERVER_ERROR_CODES = frozenset(
    {
        "invalid_app",
        "invalid_key",
        "expired",
        "revoked",
        "hwid_mismatch",
        "no_credits",
        "app_burn_cap_reached",
        "blocked",
        "rate_limited",
        "replay_detected",
        "app_disabled",
        "session_expired",
        "revoke_requires_session",
        "bad_request",
        "malformed_request",
        "demo_quota_exceeded",
        "system_error",
        "offline_activation_disabled",
        "offline_activation_requires_perpetual",
        "offline_activation_requires_seats",
        "offline_activation_limit_reached",
    }
)

# Codes a client produces itself, without a server verdict.
CLIENT_ERROR_CODES = frozenset(
    {
        "network_error",
        "tls_error",  # transient: no server said anything; a network or a clock can fix it
        "timeout",
        "invalid_json_response",
        "response_not_json_object",
        "unexpected_response",
        "signature_mismatch",
        "nonce_mismatch",
        "session_mismatch",
        "server_unreachable",
        "offline_file_rejected",
        "file_write_failed",
    }
)

# The only codes that end a session at once. Everything else is transient.
DEFINITIVE_ERROR_CODES = frozenset(
    {
        "revoked",
        "expired",
        "hwid_mismatch",
        "blocked",
        "session_expired",
        "malformed_request",
        "app_disabled",
        "invalid_app",
        "signature_mismatch",
        "session_mismatch",
        "server_unreachable",
        "offline_activation_disabled",
        "offline_activation_requires_perpetual",
        "offline_activation_requires_seats",
        "offline_activation_limit_reached",
        "offline_file_rejected",
    }
)

# 429 answers that mean "stop asking", not "ask again later".
NON_RETRYABLE_429_CODES = frozenset({"no_credits", "app_burn_cap_reached", "demo_quota_exceeded"})

_SERVER_CODE_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")


def is_transient_error(error: Any) -> bool:
    """True unless ``error`` (a code string or an exception with ``.code``) is definitive.

    This is the protocol's meaning, as in the official SDK: whether a *session*
    must end now (definitive) or may live on and try again (transient). It is
    not what to tell a person: ``invalid_key`` is transient here (the server may
    learn of the key later, and a retry cannot hurt), yet for someone who typed
    a key it is a verdict. For words and for "refused or unreachable?", read
    ``LicenseError.kind`` (``"refused"``, ``"unreachable"``, ``"not_set_up"``,
    ``"feature"``) and ``LicenseError.user_message``.

    ``None``, non-strings and exceptions without an AuthForge code carry no
    verdict, so they are transient: retrying can only help.
    """
    code = getattr(error, "code", error) if isinstance(error, BaseException) else error
    if not isinstance(code, str):
        return True
    return code not in DEFINITIVE_ERROR_CODES


def is_success_status(status: Any) -> bool:
    """AuthForge success spellings: ``ok``/``success``/``valid``/``true``/``1`` or JSON true."""
    if isinstance(status, bool):
        return status
    if isinstance(status, int):
        # Not str(status): past 4300 digits int-to-str conversion raises ValueError.
        return status == 1
    if isinstance(status, str):
        return status.strip().lower() in {"ok", "success", "valid", "true", "1"}
    return False


def server_verdict_code(body: Mapping[str, Any]) -> str | None:
    """The server's error code if ``body`` is a real AuthForge verdict, else ``None``.

    Only ``{"status": "failed", "error": "<code>"}`` counts: a proxy's JSON or
    ``{"status": "revoked"}`` must never be able to end a session. A code that
    is not of the documented shape becomes ``unexpected_response`` too.
    """
    status = body.get("status")
    error = body.get("error")
    if not (isinstance(status, str) and status.strip().lower() == "failed"):
        return None
    if not isinstance(error, str) or not error.strip():
        return None
    code = error.strip().lower()
    if code in SERVER_ERROR_CODES or _SERVER_CODE_RE.fullmatch(code):
        return code
    return None


def is_well_formed_code(code: str) -> bool:
    """True for codes of the documented shape ``[a-z][a-z0-9_]{0,63}``."""
    return bool(_SERVER_CODE_RE.fullmatch(code))
