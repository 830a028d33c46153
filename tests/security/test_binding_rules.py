"""The binding rule of ``_protocol/_binding.py`` on its own (no sockets): what a signed
answer must say to be believed for the request it answers."""

from __future__ import annotations

import pytest

from authforge_guard import AuthForgeError
from authforge_guard._protocol import (
    MAX_CLOCK_SKEW_SECONDS,
    check_binding,
    for_heartbeat,
    for_validate,
)

NOW = 1_900_000_000
CLAIMS = {"appId": "app", "licenseKey": "KEY-1", "hwid": "hw-1", "exp": NOW + 86400}


def login(ttl):
    return for_validate(app_id="app", license_key="KEY-1", hwid="hw-1", ttl_seconds=ttl)


def refused(claims, expires_at, payload, asked):
    with pytest.raises(AuthForgeError) as info:
        check_binding(claims, expires_at, payload, asked)
    assert info.value.code == "session_mismatch" and info.value.fatal
    assert "KEY-1" not in str(info.value) and "hw-1" not in str(info.value)  # names, no values
    return str(info.value)


@pytest.mark.parametrize("claim", ["appId", "licenseKey", "hwid"])
def test_each_claim_must_be_the_one_sent(claim):
    claims = {**CLAIMS, claim: "someone-else"}
    assert claim in refused(claims, NOW + 86400, {"timestamp": NOW}, login(86400))
    missing = {k: v for k, v in CLAIMS.items() if k != claim}
    refused(missing, NOW + 86400, {"timestamp": NOW}, login(86400))


def test_an_unreadable_token_is_not_bound_to_anything():
    refused({}, NOW + 86400, {"timestamp": NOW}, login(86400))
    refused(None, NOW + 86400, {"timestamp": NOW}, login(86400))


@pytest.mark.parametrize(
    ("asked", "granted", "ok"),
    [
        (86400, 86400, True),
        (86400, 86400 + MAX_CLOCK_SKEW_SECONDS, True),
        (86400, 86400 + MAX_CLOCK_SKEW_SECONDS + 1, False),
        (86400, 604800, False),  # the rewritten week
        (60, 3600, True),  # the server clamps up to an hour: that is what was asked for
        (10**9, 604800, True),  # and down to a week
    ],
)
def test_a_login_lasts_at_most_what_was_asked(asked, granted, ok):
    payload = {"timestamp": NOW}
    if ok:
        check_binding(CLAIMS, NOW + granted, payload, login(asked))
    else:
        refused(CLAIMS, NOW + granted, payload, login(asked))


def test_the_servers_signed_time_is_the_reference_not_the_local_clock():
    # A local clock a week off changes nothing: the bound is the answer's own timestamp.
    check_binding(CLAIMS, NOW + 86400, {"timestamp": NOW * 1000}, login(86400))  # ms
    refused(CLAIMS, NOW + 604800, {"timestamp": NOW}, login(86400))
    # No timestamp: the token's iat, then the local time of sending.
    check_binding({**CLAIMS, "iat": NOW}, NOW + 86400, {}, login(86400))


def test_a_heartbeat_never_extends_the_session():
    asked = for_heartbeat(app_id="app", hwid="hw-1", token_claims=CLAIMS, ends_by=NOW + 86400)
    check_binding(CLAIMS, NOW + 86400, {"timestamp": NOW + 600}, asked)
    check_binding(CLAIMS, NOW + 3600, {"timestamp": NOW + 600}, asked)  # shorter: fine
    refused(CLAIMS, NOW + 86401, {"timestamp": NOW + 600}, asked)
    other = for_heartbeat(app_id="app", hwid="hw-2", token_claims=CLAIMS, ends_by=NOW + 86400)
    refused(CLAIMS, NOW + 86400, {"timestamp": NOW + 600}, other)
