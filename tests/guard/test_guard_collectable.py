"""A Guard is its parts' owner, never their prisoner: none of them (the login flow, the
session table, the loss path, the checks) holds the Guard strongly, so a Guard the program
drops is freed by its reference count alone, with no reference cycle left for the cycle
collector (which may run late, or be disabled by the program)."""

import asyncio
import gc
import weakref

import pytest

from tests.support.waiting import wait_for


@pytest.fixture
def no_cycle_collector():
    """Only reference counts free objects during the test: a cycle would keep its Guard."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _guard(af, key):
    return af.guard(
        license_key=key, hwid_override="collectable", heartbeat="online", heartbeat_interval=30.0
    )


def test_a_guard_logged_in_then_out_is_freed_without_the_cycle_collector(af, no_cycle_collector):
    key, other, third = (af.create_license({"tier": "pro"}) for _ in range(3))
    guard = _guard(af, key)
    assert guard.ensure().active  # the default license: sets the hot path's session
    assert guard.ensure(other, hwid_override="user-1").active  # a per-user session
    # A coroutine's login runs on the Guard's login threads, which keep no Guard.
    session = asyncio.run(guard.aensure(third, hwid_override="user-2"))
    assert session.active
    assert guard._fast_session is guard.session is not None
    guard.logout()
    assert guard._fast_session is None and not session.active
    ref = weakref.ref(guard)
    del guard
    assert ref() is None


def test_a_dropped_guard_with_live_sessions_is_freed_and_its_sessions_end(af, no_cycle_collector):
    key = af.create_license({"tier": "pro"})
    guard = _guard(af, key)
    session = guard.ensure()
    ref = weakref.ref(guard)
    del guard
    assert ref() is None
    assert not session.active and session.lost_code == "logout"


def test_a_login_thread_keeps_nothing_of_a_guard_after_its_login(af, no_cycle_collector):
    key = af.create_license({"tier": "pro"})
    guard = _guard(af, key)
    session = asyncio.run(guard.aensure(key, hwid_override="user-1"))
    assert session.active
    # The login thread stays for the next login (it ends after 30 s idle); between jobs
    # it holds no job, so the login flow and its table go with their Guard.
    flow, table = weakref.ref(guard._login_flow), weakref.ref(guard._table)
    del guard
    assert wait_for(lambda: flow() is None and table() is None)
    assert not session.active
