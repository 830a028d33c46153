"""What a bot needs from the core: whose session it is, when the subscription ends, and
refusals told in a chat user's words (issue 24, parts 1, 3 and 4)."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from authforge_guard import (
    ConfigurationError,
    FeatureNotLicensed,
    LicenseError,
    is_transient_error,
)


def test_session_names_its_hwid_and_the_subscription_end(af, make_guard):
    ends = datetime(2031, 5, 17, 12, 0, tzinfo=timezone.utc)
    key = af.create_license({"tier": "pro"}, expires_at=ends)
    guard = make_guard()
    session = guard.ensure(key, hwid_override="tg:42")
    assert session.hwid == "tg:42"
    assert session.license_expires_at == ends
    assert session.license_expires_at.tzinfo is not None
    # The session's own end is another thing: the signed session, about a day away.
    assert session.expires_at is not None and session.expires_at < ends


def test_a_lifetime_license_has_no_end(af, make_guard):
    key = af.create_license({"tier": "pro"})
    session = make_guard().ensure(key, hwid_override="tg:7")
    assert session.license_expires_at is None


def test_the_subscription_end_survives_a_heartbeat(af, make_guard):
    ends = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    key = af.create_license({"tier": "free"}, expires_at=ends)
    guard = make_guard()
    session = guard.ensure(key, hwid_override="tg:1")
    af.set_variables(key, {"tier": "pro"})
    from tests.support.waiting import wait_for

    assert wait_for(lambda: session.tier == "pro")  # a heartbeat swapped the state
    assert session.license_expires_at == ends


def test_a_loss_event_names_the_user_it_happened_to(af, make_guard):
    keys = {uid: af.create_license({"tier": "pro"}) for uid in ("tg:1", "tg:2")}
    guard = make_guard()
    seen: list[str | None] = []
    done = threading.Event()

    @guard.on_lost
    def lost(event):
        seen.append(event.hwid)
        done.set()

    for hwid, key in keys.items():
        guard.ensure(key, hwid_override=hwid)
    af.revoke(keys["tg:2"])
    assert done.wait(30)
    assert seen == ["tg:2"]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (LicenseError("revoked"), "refused"),
        (LicenseError("invalid_key"), "refused"),
        (LicenseError("network_error"), "unreachable"),
        (LicenseError("timeout"), "unreachable"),
        (LicenseError("missing_license_key"), "not_set_up"),
        (ConfigurationError("no app secret", argument="app_secret"), "not_set_up"),
        (FeatureNotLicensed("enterprise", "pro"), "feature"),
    ],
)
def test_every_refusal_has_a_public_kind(error, kind):
    assert error.kind == kind


def test_is_transient_error_keeps_its_protocol_meaning_and_says_so():
    assert is_transient_error("invalid_key") is True
    assert is_transient_error("revoked") is False
    doc = is_transient_error.__doc__ or ""
    assert "protocol" in doc and "kind" in doc


CHAT_CODES = [
    "revoked",
    "expired",
    "invalid_key",
    "hwid_mismatch",
    "blocked",
    "session_expired",
    "app_disabled",
    "invalid_app",
    "offline_file_rejected",
    "network_error",
    "timeout",
    "rate_limited",
    "missing_license_key",
]


@pytest.mark.parametrize("code", CHAT_CODES)
def test_a_users_license_is_never_told_about_a_computer_or_a_variable(code):
    error = LicenseError(code)
    error.per_user = True
    text = error.user_message
    assert "computer" not in text.lower()
    assert "AUTHFORGE_" not in text
    assert code not in ("network_error", "timeout") or "internet connection" not in text
    config = ConfigurationError("missing", argument="app_secret", env_var="AUTHFORGE_APP_SECRET")
    config.per_user = True
    assert "AUTHFORGE_" not in config.user_message


def test_a_machines_license_keeps_its_words():
    error = LicenseError("hwid_mismatch")
    assert "computer" in error.user_message


def test_a_per_user_login_refusal_is_told_in_a_users_words(af, make_guard):
    key = af.create_license({"tier": "pro"}, slots=1)
    guard = make_guard()
    guard.ensure(key, hwid_override="tg:1")
    with pytest.raises(LicenseError) as caught:
        guard.ensure(key, hwid_override="tg:2")  # the one seat is taken by tg:1
    assert caught.value.code == "hwid_mismatch"
    assert caught.value.kind == "refused"
    assert "computer" not in caught.value.user_message
    # A second caller inside the failure memory gets a copy with the same words.
    with pytest.raises(LicenseError) as again:
        guard.ensure(key, hwid_override="tg:2")
    assert "computer" not in again.value.user_message


def test_an_adapter_refuses_a_feature_it_cannot_read(tmp_path):
    pytest.importorskip("telegram")
    pytest.importorskip("discord")
    from authforge_guard import UserLicenses
    from authforge_guard.discord import license_check
    from authforge_guard.telegram import license_required

    users = UserLicenses(store=str(tmp_path / "users.sqlite3"), subject=lambda u: f"discord:{u}")
    for bad in ("", ["pro"], 3):
        with pytest.raises(ConfigurationError):
            license_required(users, feature=bad)
        with pytest.raises(ConfigurationError):
            license_check(users, feature=bad)
