"""A refused login keeps its cause for every caller, not only the first (issue 26: causes kept).

A Guard remembers a refusal (and shares a transient failure) so a burst of calls does
not send a login each; every later caller, and every thread that waited on the same
login, gets a copy of the error. A person debugging "license refused: revoked" or
"license refused: network_error" on the second call must still see what was behind it
(the server's verdict, the refused connection), and the copy must still carry no secret.
"""

from __future__ import annotations

import asyncio
import threading
import traceback

import pytest

from authforge_guard import AuthForgeError, LicenseError, licensed

from ..bots.support import closed_port
from ..conftest import FAST_RETRY


def _chain(error: BaseException) -> list[BaseException]:
    chain = []
    while error is not None:
        chain.append(error)
        error = error.__cause__ if error.__cause__ is not None else error.__context__
    return chain


def _printed(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


def _refusals(call, times: int) -> list[LicenseError]:
    errors = []
    for _ in range(times):
        with pytest.raises(LicenseError) as info:
            call()
        errors.append(info.value)
    return errors


def test_the_second_call_after_a_revocation_still_shows_the_servers_verdict(af, make_guard):
    key = af.create_license({"tier": "pro"})
    af.revoke(key)
    guard = make_guard(license_key=key)

    def run():
        with licensed(guard=guard):
            pass

    first, second, third = _refusals(run, 3)
    for error in (second, third):
        assert error is not first and error.code == "revoked"
        assert isinstance(error.__cause__, AuthForgeError) and error.__cause__.code == "revoked"
        assert error.__suppress_context__
        printed = _printed(error)
        assert "The above exception was the direct cause" in printed
        assert key not in printed and key not in repr(error)


def test_a_refused_connection_stays_visible_to_the_callers_that_shared_the_failure(af):
    key = af.create_license()
    guard = af.guard(
        api_base_url=f"http://127.0.0.1:{closed_port()}",
        license_key=key,
        hwid_override="m",
        retry_policy=FAST_RETRY,
    )
    try:
        errors = _refusals(guard.ensure, 2)
    finally:
        guard.logout()
    first, second = errors
    assert first.code == second.code == "network_error"
    assert [type(e) for e in _chain(second)] == [type(e) for e in _chain(first)]
    assert len(_chain(second)) >= 3  # LicenseError <- AuthForgeError <- the socket's error
    assert any(isinstance(e, ConnectionRefusedError) for e in _chain(second)), _chain(second)
    for error in errors:
        assert key not in _printed(error)


def test_threads_and_coroutines_sharing_one_refused_login_each_get_the_cause(af, make_guard):
    """Racing threads share one login (or its remembered refusal); each gets its own copy."""
    key = af.create_license()
    af.revoke(key)
    guard = make_guard(license_key=key)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def race():
        barrier.wait()
        try:
            guard.ensure()
        except LicenseError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    async def from_a_coroutine():
        results = await asyncio.gather(*(guard.aensure() for _ in range(4)), return_exceptions=True)
        return results

    errors += asyncio.run(from_a_coroutine())
    assert len(errors) == 12 and len({id(e) for e in errors}) == 12
    for error in errors:
        assert isinstance(error, LicenseError) and error.code == "revoked"
        assert isinstance(error.__cause__, AuthForgeError), _printed(error)
        assert key not in _printed(error)


def test_a_bot_users_refusal_keeps_its_words_and_its_cause(af, make_guard):
    """A per-user session's copy is still a person's refusal (no "this computer")."""
    key = af.create_license()
    af.revoke(key)
    guard = make_guard()
    first, second = _refusals(lambda: guard.ensure(key, hwid_override="tg:42"), 2)
    assert first.per_user and second.per_user
    assert second.user_message == first.user_message
    assert isinstance(second.__cause__, AuthForgeError)
