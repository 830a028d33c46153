"""``UserLicenses(store="redis://...")``: two bot replicas share the users' keys and sessions."""

from __future__ import annotations

import asyncio

import pytest

from authforge_guard import LicenseError, UserLicenses

from ..support.redis_server import missing_reason


def validates(af, key):
    return af.stats()["licenses"].get(key, {}).get("validates", 0)


def test_a_key_activated_on_one_replica_serves_on_another(af, make_guard, redis_url):
    key = af.create_license({"tier": "pro"})
    first = UserLicenses(make_guard(), store=redis_url)
    second = UserLicenses(make_guard(), store=redis_url)

    async def main():
        activated = await first.activate(31, key)
        served = await second.session(31)  # the other replica: the stored session
        return activated, served

    activated, served = asyncio.run(main())
    assert served.hwid == "tg:31" and served.tier == "pro"
    assert served is not activated  # another process's session object
    assert validates(af, key) == 1
    # A new key on one replica: the other serves it once its own session of the old ends.
    newer = af.create_license({"tier": "enterprise"})
    asyncio.run(second.activate(31, newer))
    first.guard.logout(key, hwid_override="tg:31")  # as its idle sweep would
    assert asyncio.run(first.session(31)).tier == "enterprise"
    assert asyncio.run(second.deactivate(31)) is True
    first.guard.logout(newer, hwid_override="tg:31")
    with pytest.raises(LicenseError) as gone:
        asyncio.run(first.session(31))
    assert gone.value.code == "missing_license_key"
    with pytest.raises(LicenseError) as caught:
        asyncio.run(first.session(32))
    assert caught.value.code == "missing_license_key"
    first.close()
    second.close()


def test_a_redis_that_is_down_is_unreachable_not_a_missing_key(af, make_guard):
    from tests.support.redis_server import free_port

    if missing_reason():
        pytest.skip(missing_reason())
    users = UserLicenses(make_guard(), store=f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(LicenseError) as caught:
        asyncio.run(users.session(1))
    assert caught.value.kind == "unreachable"
    users.close()
