"""Our client and the official SDK (``authforge-sdk`` 2.0.0) side by side, under the same faults.

Both clients talk to the same local server through the same ``FaultProxy``,
with the same fault armed for every attempt, and must reach the same
``validate_license`` result, and the same heartbeat verdict (code, session
kept or lost), except for the deliberate differences listed in
``DELIBERATE`` below, each of which docs/protocol.md asks for:

- a network failure always gets a clean code (``network_error``, ``timeout``);
  the official client returns the exception's text (``url_error: timed out``,
  ``Remote end closed connection without response``) as the code, and in a
  heartbeat turns it into ``unknown_error``;
- only ``{"status": "failed", "error": <code>}`` is a verdict, in every path:
  the official ``validate_license`` reads ``{"status": "revoked"}`` as
  ``revoked`` and ``{"status": "failed"}`` with no code as ``unknown_error``,
  where ours says ``unexpected_response`` (its heartbeat already agrees);
- a signature that is not even base64 is ``signature_mismatch`` (fatal) for
  us; the official client says ``invalid_signature_encoding`` (transient, so
  its heartbeat keeps a session whose answer was forged).

The official client sleeps 2 s and 5 s between retries; its delays are
shortened here the same way ``FAST_RETRY`` shortens ours (module constants
it reads at each retry), so the retries still happen, only faster.
"""

import authforge as official
import pytest

from authforge_guard import LicenseError, is_transient_error
from authforge_guard._protocol._codes import is_well_formed_code
from tests.conftest import FAST_RETRY
from tests.support.fault_cases import CASES, REQUEST_TIMEOUT

VALIDATE = "/auth/validate"
HEARTBEAT = "/auth/heartbeat"
HWID = "parity-machine"

NOT_A_CODE = "<exception text as the code>"

# case -> (our code, the official client's code), for validate_license.
DELIBERATE = {
    "drop": ("network_error", NOT_A_CODE),
    "reset": ("network_error", NOT_A_CODE),
    "delay_past_timeout": ("timeout", "url_error: timed out"),
    "status_revoked_no_verdict": ("unexpected_response", "revoked"),
    "failed_without_error": ("unexpected_response", "unknown_error"),
    "bad_signature_encoding": ("signature_mismatch", "invalid_signature_encoding"),
}

# case -> (our code, theirs) in a heartbeat, where the official client maps
# an exception's text to a code and anything unreadable to unknown_error.
DELIBERATE_HEARTBEAT = {
    "drop": ("network_error", "unknown_error"),
    "reset": ("network_error", "unknown_error"),
    "bad_signature_encoding": ("signature_mismatch", "invalid_signature_encoding"),
}


@pytest.fixture(autouse=True)
def _official_retries_made_fast(monkeypatch):
    monkeypatch.setattr(official, "NETWORK_RETRY_DELAY", 0.05)
    monkeypatch.setattr(official, "RATE_LIMIT_RETRY_DELAYS", (0.05, 0.1))


class Failures(list):
    """An ``on_failure`` for either client: records ``(reason, code)``."""

    def __call__(self, reason, exc):
        self.append((reason, getattr(exc, "code", None)))


def both_clients(shared_af, proxy, **kwargs):
    common = dict(
        api_base_url=proxy.url,
        hwid_override=HWID,
        request_timeout=REQUEST_TIMEOUT,
        heartbeat_interval=3600,  # heartbeats are run by hand
        **kwargs,
    )
    ours = shared_af.client(retry_policy=FAST_RETRY, on_failure=Failures(), **common)
    theirs = official.AuthForgeClient(
        shared_af.app_id,
        shared_af.app_secret,
        shared_af.public_key,
        on_failure=Failures(),
        **common,
    )
    return ours, theirs


def expected_codes(case, deliberate):
    return deliberate.get(case.name, (case.code, case.code))


def assert_codes_match(case, ours, theirs, deliberate):
    want_ours, want_theirs = expected_codes(case, deliberate)
    assert ours == want_ours
    if want_theirs == NOT_A_CODE:
        assert not is_well_formed_code(theirs), theirs  # e.g. "[Errno 104] Connection reset"
    else:
        assert theirs == want_theirs


@pytest.mark.parametrize("case", CASES, ids=str)
def test_validate_license_matches_the_official_sdk(shared_af, proxy, case):
    key = shared_af.create_license({"tier": "pro"})
    ours, theirs = both_clients(shared_af, proxy)
    if case.needs_history:
        assert ours.validate_license(key)["valid"]
    proxy.arm(case.make(), always=True, path=VALIDATE)

    mine, official_result = ours.validate_license(key), theirs.validate_license(key)

    assert mine["valid"] is official_result["valid"] is (case.code is None)
    if case.code is None:
        assert set(mine) == set(official_result)
        assert mine["license_variables"] == official_result["license_variables"]
        return
    assert set(mine) == set(official_result) == {"valid", "code", "error"}
    assert_codes_match(case, mine["code"], official_result["code"], DELIBERATE)
    # Where both name a real code, both classify it the same way.
    if is_well_formed_code(official_result["code"]):
        assert (
            is_transient_error(mine["code"]) == official.is_transient_error(official_result["code"])
            or case.name in DELIBERATE
        )


@pytest.mark.parametrize("case", CASES, ids=str)
def test_heartbeat_verdict_matches_the_official_sdk(shared_af, proxy, case):
    key = shared_af.create_license(slots=None)
    ours, theirs = both_clients(shared_af, proxy, online_heartbeat=True)
    try:
        assert ours.login(key) and theirs.login(key)
        # One clean heartbeat each first: the replay fault needs one to replay.
        assert ours._heartbeat_tick(ours._live.generation) is True
        assert theirs._heartbeat_tick() is True
        proxy.arm(case.make(), always=True, path=HEARTBEAT)

        ours_goes_on = ours._heartbeat_tick(ours._live.generation)
        theirs_goes_on = theirs._heartbeat_tick()

        if case.code is None:
            assert ours_goes_on is theirs_goes_on is True
            assert ours.on_failure == theirs.on_failure == []
            return
        [(reason, mine)] = ours.on_failure
        [(their_reason, their_code)] = theirs.on_failure
        assert reason == their_reason == "heartbeat_failed"
        assert_codes_match(case, mine, their_code, DELIBERATE_HEARTBEAT)
        # The session is kept exactly when the failure is transient.
        assert ours.is_authenticated() is ours_goes_on is (not case.fatal)
        if case.name not in DELIBERATE_HEARTBEAT:
            assert theirs.is_authenticated() is theirs_goes_on is (not case.fatal)
    finally:
        ours.logout()
        theirs.logout()


def test_the_deliberate_differences_are_real_cases():
    names = {case.name for case in CASES}
    assert set(DELIBERATE) <= names and set(DELIBERATE_HEARTBEAT) <= names


def test_a_key_utf8_cannot_carry_gets_the_servers_verdict_like_the_official_sdk(
    shared_af, proxy, make_shared_guard
):
    # A lone surrogate: what a license file or an environment variable with
    # bytes that are not UTF-8 decodes to (surrogateescape).
    key = "ABCD-\udcff-EFGH-IJKL"
    ours, theirs = both_clients(shared_af, proxy)
    assert theirs.validate_license(key)["code"] == "malformed_request"
    assert ours.validate_license(key)["code"] == "malformed_request"
    with pytest.raises(LicenseError) as info:
        make_shared_guard(api_base_url=proxy.url).ensure(key)
    assert info.value.code == "malformed_request"
