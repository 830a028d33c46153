"""What a customer and a web client are told for every kind of failure: one table, tested."""

import pytest

from authforge_guard import ConfigurationError, FeatureNotLicensed, LicenseError, LicenseLost
from authforge_guard._api._refusal import exit_code_for, http_answer, user_message

CASES = [
    # error, exit code, HTTP status, first line a customer sees
    (LicenseError("revoked"), 1, 403, "This license was revoked."),
    (LicenseLost("revoked"), 1, 403, "This license was revoked."),
    (LicenseError("expired"), 1, 403, "This license has expired."),
    (LicenseError("invalid_key"), 1, 403, "This license key is not valid."),
    (LicenseError("hwid_mismatch"), 1, 403, "This license is already in use on another computer."),
    (LicenseError("blocked"), 1, 403, "This license is blocked."),
    (LicenseError("app_disabled"), 1, 403, "Licensing for this program is disabled by its vendor."),
    (FeatureNotLicensed("pro", "free"), 1, 403, "This needs a pro license (yours: free)."),
    (
        LicenseError("network_error"),
        3,
        503,
        "Could not reach the license server to check your license (network_error).",
    ),
    (
        LicenseError("timeout"),
        3,
        503,
        "Could not reach the license server to check your license (timeout).",
    ),
    (
        LicenseError("http_error_502"),
        3,
        503,
        "Could not reach the license server to check your license (http_error_502).",
    ),
    (
        LicenseError("rate_limited"),
        3,
        503,
        "The license server is busy and could not check your license (rate_limited).",
    ),
    (
        LicenseError("no_credits"),
        3,
        503,
        "The license server is not accepting checks for this program right now (no_credits).",
    ),
    (
        ConfigurationError(
            "license_key: missing", argument="license_key", env_var="AUTHFORGE_LICENSE_KEY"
        ),
        2,
        500,
        "No license key is set up on this computer.",
    ),
    (
        ConfigurationError(
            "public_key: missing", argument="public_key", env_var="AUTHFORGE_PUBLIC_KEY"
        ),
        2,
        500,
        "This program's licensing is not set up correctly (AUTHFORGE_PUBLIC_KEY).",
    ),
    (
        LicenseError("missing_license_key", "Send your license key in the X-Key header."),
        2,
        401,
        "No license key is set up on this computer.",
    ),
]


@pytest.mark.parametrize(
    ("error", "exit_code", "status", "first_line"),
    CASES,
    ids=[getattr(c[0], "code", "?") + "-" + type(c[0]).__name__ for c in CASES],
)
def test_what_each_failure_means(error, exit_code, status, first_line):
    assert exit_code_for(error) == exit_code
    assert http_answer(error)[0] == status
    lines = user_message(error).splitlines()
    assert lines[0] == first_line and len(lines) == 2
    assert error.user_message == user_message(error)


def test_the_support_hint_is_what_to_do():
    error = LicenseError("revoked")
    error.support_hint = "support@vendor.example"
    assert error.user_message == "This license was revoked.\nPlease contact support@vendor.example."
    assert (
        user_message(LicenseError("expired"), "https://vendor.example/help").splitlines()[1]
        == "Renew your license, or contact https://vendor.example/help."
    )


def test_web_answers_carry_no_setting_names_and_say_when_to_retry():
    status, body, headers = http_answer(LicenseError("timeout"), retry_after=12)
    assert (status, headers) == (503, {"Retry-After": "12"})
    assert body == {
        "code": "timeout",
        "detail": "The license server could not be reached; try again later.",
    }
    status, body, _ = http_answer(
        ConfigurationError("app_secret: missing (AUTHFORGE_APP_SECRET)", argument="app_secret")
    )
    assert (status, body) == (
        500,
        {"code": "configuration_error", "detail": "Licensing is not set up on this server."},
    )
