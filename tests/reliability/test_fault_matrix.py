"""Every fault of the catalogue between our client (and a Guard) and the local server.

For each fault (``tests/support/fault_cases.py``) the verdict is asserted
where it lands:

- at login, in grace and online mode alike: ``validate_license``'s code,
  ``login()``'s ``on_failure`` and ``Guard.ensure()``'s ``LicenseError``, each
  with the code and its classification; a transient refusal can be retried at
  once, a fatal one is remembered;
- on a live online session: a transient fault runs the ``on_transient``
  hooks and keeps the session, which carries on once the fault is gone; a
  fatal one (a forged signature, a real verdict) ends it with the code hooks,
  ``on_lost`` hooks and cleanups, and stops the background checks;
- on a live grace-mode session: nothing, because a grace check makes no
  network call; the fault is never even reached.
"""

import time

import pytest

import authforge_guard._guard._session_table as session_table
from authforge_guard import LicenseError
from tests.support.fault_cases import CASES
from tests.support.waiting import HookLog, scheduled_checks, wait_for

VALIDATE = "/auth/validate"
HEARTBEAT = "/auth/heartbeat"


def heartbeats(shared_af, key):
    return shared_af.stats()["licenses"][key]["heartbeats"]


@pytest.mark.parametrize("mode", ["grace", "online"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_login_under_fault(
    shared_af, proxy, make_shared_client, make_shared_guard, case, mode, monkeypatch
):
    # The window in which a transient failure is shared, shortened (5 s in production).
    monkeypatch.setattr(session_table, "TRANSIENT_SHARE_SECONDS", 0.3)
    key = shared_af.create_license()
    through_proxy = {"api_base_url": proxy.url, "request_timeout": case.request_timeout}
    if case.needs_history:
        assert make_shared_client(**through_proxy).validate_license(key)["valid"]
    proxy.arm(case.make(), always=True, path=VALIDATE)
    failures = []
    client = make_shared_client(
        heartbeat_mode="SERVER" if mode == "online" else "LOCAL",
        on_failure=lambda reason, exc: failures.append((reason, exc.code, exc.fatal)),
        **through_proxy,
    )
    guard = make_shared_guard(heartbeat=mode, license_key=key, **through_proxy)

    result = client.validate_license(key)
    if case.code is None:
        assert result["valid"] is True
        assert client.login(key) and failures == []
        assert guard.ensure().active
        return

    assert result["valid"] is False
    assert result["code"] == case.code and result["error"].startswith(case.code)
    assert client.login(key) is False
    assert failures == [("login_failed", case.code, case.fatal)]
    assert not client.is_authenticated()
    with pytest.raises(LicenseError) as info:
        guard.ensure()
    assert (info.value.code, info.value.fatal) == (case.code, case.fatal)
    assert guard.session is None

    proxy.disarm()
    if case.fatal:
        # A definitive refusal is remembered: no login storm against a verdict.
        with pytest.raises(LicenseError) as again:
            guard.ensure()
        assert again.value.code == case.code
    else:
        # Shared for a moment with every caller (an outage fails fast, no request sent)...
        sent = len(proxy.requests)
        with pytest.raises(LicenseError) as again:
            guard.ensure()
        assert again.value.code == case.code and len(proxy.requests) == sent
        # ...then the next call tries again.
        assert wait_for(lambda: _logs_in(guard))
        assert client.login(key)


def _logs_in(guard):
    try:
        return guard.ensure().active
    except LicenseError:
        return False


@pytest.mark.parametrize("case", CASES, ids=str)
def test_online_session_under_fault(shared_af, proxy, make_shared_guard, case):
    key = shared_af.create_license()
    guard = make_shared_guard(
        api_base_url=proxy.url,
        request_timeout=case.request_timeout,
        heartbeat_interval=0.05,
        license_key=key,
        max_unreachable=60,  # transient faults keep the session within the silence bound
    )
    hooks = HookLog(guard)
    session = guard.ensure()
    if case.needs_history:
        assert wait_for(lambda: proxy.has_history(HEARTBEAT))
    proxy.arm(case.make(), always=True, path=HEARTBEAT)
    armed_at = len(proxy.requests)

    if case.code is None:
        beats = heartbeats(shared_af, key)
        assert wait_for(lambda: heartbeats(shared_af, key) >= beats + 2)
        assert hooks.events == [] and guard.session is session
        return

    if case.fatal:
        assert wait_for(lambda: "cleanup" in hooks.kinds())
        assert hooks.fatal_events() == [
            ("code", case.code, True),
            ("lost", case.code, True),
            ("cleanup", None, None),
        ]
        assert hooks.sessions_active_in_hook == [False, False]  # ended before the hooks ran
        assert guard.session is None and session.lost_code == case.code
        assert guard.sessions == []
        assert wait_for(lambda: scheduled_checks(guard) == 0)  # the checks stopped with it
        return

    assert wait_for(lambda: len(hooks.transient_codes()) >= 2)
    assert set(hooks.transient_codes()) == {case.code}
    assert hooks.fatal_events() == []
    assert guard.session is session and session.active and guard.sessions == [session]
    assert len(proxy.requests) > armed_at  # the fault was met on the wire
    proxy.disarm()
    beats = heartbeats(shared_af, key)
    assert wait_for(lambda: heartbeats(shared_af, key) >= beats + 1)  # the session carries on
    assert guard.session is session and hooks.fatal_events() == []


@pytest.mark.parametrize("case", CASES, ids=str)
def test_grace_session_never_meets_the_fault(shared_af, proxy, make_shared_guard, case):
    key = shared_af.create_license()
    guard = make_shared_guard(
        api_base_url=proxy.url, heartbeat="grace", heartbeat_interval=0.02, license_key=key
    )
    hooks = HookLog(guard)
    session = guard.ensure()
    token = guard._entries[None].signed.session_token
    seen = len(proxy.requests)
    proxy.arm(case.make(), always=True)
    time.sleep(0.15)  # several grace checks
    ours = [
        body
        for _path, body in proxy.requests[seen:]
        if body and (body.get("licenseKey") == key or body.get("sessionToken") == token)
    ]
    assert ours == []
    assert shared_af.stats()["licenses"][key] == {
        **shared_af.stats()["licenses"][key],
        "validates": 1,
        "heartbeats": 0,
    }
    assert hooks.events == []
    assert guard.session is session and guard.sessions == [session]
