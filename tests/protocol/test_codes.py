"""Classification: exactly the definitive codes are fatal."""

import pytest

from authforge_guard import DEFINITIVE_ERROR_CODES, AuthForgeError, is_transient_error
from authforge_guard._protocol import SERVER_ERROR_CODES, server_verdict_code

FATAL = {
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


def test_definitive_set_is_exactly_the_documented_one():
    assert DEFINITIVE_ERROR_CODES == FATAL


@pytest.mark.parametrize(
    "code",
    sorted(SERVER_ERROR_CODES - FATAL)
    + [
        "network_error",
        "timeout",
        "http_error_502",
        "unexpected_response",
        "nonce_mismatch",
        "brand_new_code",
        "invalid_json_response",
    ],
)
def test_everything_else_is_transient(code):
    assert is_transient_error(code)
    error = AuthForgeError(code)
    assert error.transient and not error.fatal and isinstance(error, ValueError)


def test_non_codes_are_transient():
    assert is_transient_error(None)
    assert is_transient_error(RuntimeError("revoked"))
    assert not is_transient_error(AuthForgeError("revoked"))


def test_only_failed_with_error_is_a_verdict():
    assert server_verdict_code({"status": "failed", "error": " REVOKED "}) == "revoked"
    assert server_verdict_code({"status": "revoked"}) is None
    assert server_verdict_code({"status": "failed", "error": ""}) is None
    assert server_verdict_code({"status": "failed", "error": 3}) is None
    assert server_verdict_code({"status": "failed", "error": "x" * 65}) is None
