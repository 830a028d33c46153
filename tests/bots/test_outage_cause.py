"""A login that fails fast during an outage says why the server is believed unreachable:
its cause is (a copy of) the failure the probing login met, never a secret."""

from __future__ import annotations

import asyncio

from authforge_guard import LicenseError

from .support import closed_port

TENANTS = 20


def _chain(error: BaseException) -> list[BaseException]:
    found = []
    while error is not None and error not in found:
        found.append(error)
        error = error.__cause__ or error.__context__
    return found


def test_tenants_failing_fast_in_an_outage_see_the_connection_failure(af):
    guard = af.guard(
        api_base_url=f"http://127.0.0.1:{closed_port()}",
        hwid_override="bot-host",
        heartbeat="online",
    )
    keys = [af.create_license({"tier": "pro"}) for _ in range(TENANTS)]

    async def main():
        return await asyncio.wait_for(  # a hang guard, not a timing goal
            asyncio.gather(
                *(guard.aensure(k, hwid_override=f"tg:{i}") for i, k in enumerate(keys)),
                return_exceptions=True,
            ),
            60,
        )

    try:
        results = asyncio.run(main())
    finally:
        guard.logout()
    assert all(isinstance(r, LicenseError) and r.kind == "unreachable" for r in results), results
    fast = [r for r in results if "another login is trying it again" in str(r)]
    # The default retry policy pauses 2 s before the probe's retry: the tenants queued
    # behind the first logins fail fast meanwhile.
    assert fast, [str(r) for r in results]
    for error in results:
        chain = _chain(error)
        assert any(isinstance(e, ConnectionRefusedError) for e in chain), (str(error), chain)
        told = " ".join(f"{e!s} {e!r}" for e in chain)
        assert not any(key in told for key in keys)
        assert af.app_secret not in told
    # Each caller has a cause of its own (a copy: threads and tasks never share one).
    causes = [r.__cause__ for r in fast]
    assert len({id(c) for c in causes}) == len(causes)
