"""Issue 13: one Guard serves any number of (license key, hwid) sessions: a bot or a SaaS
API licensing each of its users."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from authforge_guard import LicenseError, LicenseLost, current_session, has_feature, licensed
from tests.support.fault_proxy import Fault
from tests.tenants.conftest import validates

TENANTS = 200


def ours():
    # The client's threads, all of them (the local server's own are not the client's cost):
    # the request deadlines are a job on the timer thread, not a thread of their own.
    return [
        t.name
        for t in threading.enumerate()
        if t.name.startswith("authforge") and not t.name.startswith("authforge-server")
    ]


def test_200_tenants_over_16_threads_one_validate_each(af, make_guard):
    guard = make_guard(heartbeat="grace")
    keys = [af.create_license({"tier": "pro" if n % 2 else "free"}) for n in range(TENANTS)]
    threads_before = ours()

    def serve(n):
        key = keys[n % TENANTS]
        with licensed(key, hwid_override=f"tg:{n % TENANTS}", guard=guard) as session:
            assert current_session() is session
            return session.license_key, has_feature("pro", guard=guard) == bool(n % 2)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(serve, range(TENANTS * 3)))  # every tenant three times
    assert all(granted for _, granted in results)
    assert {validates(af, key) for key in keys} == {1}
    assert len(guard.sessions) == TENANTS
    threads_after = ours()
    # One timer thread for every tenant's checks and every request's deadline, not one per
    # tenant and no deadline thread besides it (grace checks use no worker pool).
    assert len(threads_after) <= len(threads_before) + 1
    assert threads_after.count("authforge-timers") == 1
    assert "authforge-io-deadline" not in threads_after


def test_200_tenants_over_asyncio_one_validate_each(af, make_guard):
    guard = make_guard(heartbeat="grace")
    keys = [af.create_license({"tier": "pro"}) for _ in range(TENANTS)]

    async def handle(n):
        async with licensed(keys[n], hwid_override=f"tg:{n}", guard=guard) as session:
            await asyncio.sleep(0)
            assert current_session() is session and has_feature("pro", guard=guard)
            return session

    async def main():
        first = await asyncio.gather(*(handle(n) for n in range(TENANTS)))
        second = await asyncio.gather(*(handle(n) for n in range(TENANTS)))
        return first, second

    first, second = asyncio.run(main())
    assert [a is b for a, b in zip(first, second)] == [True] * TENANTS  # reused, no login
    assert {validates(af, key) for key in keys} == {1}


def test_revoking_one_tenant_mid_block_touches_no_other(af, make_guard):
    guard = make_guard()
    key_a, key_b = af.create_license(), af.create_license()
    events = []
    guard.on_lost(lambda event: events.append((event.code, event.session.license_key)))
    in_blocks = threading.Barrier(3)
    outcome = {}

    def tenant(name, key):
        try:
            with licensed(key, hwid_override=f"tg:{name}", guard=guard) as session:
                in_blocks.wait(5)
                deadline = time.monotonic() + 3
                while time.monotonic() < deadline and session.active:
                    threading.Event().wait(0.02)
                outcome[name] = "still licensed" if session.active else "ended quietly"
        except LicenseLost as exc:
            outcome[name] = exc.code

    threads = [threading.Thread(target=tenant, args=args) for args in (("a", key_a), ("b", key_b))]
    for t in threads:
        t.start()
    in_blocks.wait(5)
    session_a = guard.ensure(key_a, hwid_override="tg:a")
    af.revoke(key_a)
    for t in threads:
        t.join(10)
    assert outcome == {"a": "revoked", "b": "still licensed"}
    assert events == [("revoked", session_a.license_key)]


def test_errors_never_show_one_tenant_another_tenants_key(af, make_guard):
    guard = make_guard()
    key_a = af.create_license()
    with licensed(key_a, hwid_override="tg:a", guard=guard):
        with pytest.raises(LicenseError) as refused:
            with licensed("NOT-A-REAL-KEY-123", hwid_override="tg:b", guard=guard):
                pass
    text = str(refused.value) + repr(refused.value) + repr(guard)
    assert key_a not in text and key_a[:6] not in text


def test_idle_sessions_are_logged_out_and_the_next_block_logs_in_again(af, make_guard):
    guard = make_guard(heartbeat="grace", session_idle_timeout=0.3)
    key = af.create_license()
    with licensed(key, hwid_override="tg:idle", guard=guard) as first:
        pass
    assert first.active  # outlives its block, for reuse
    with licensed(key, hwid_override="tg:idle", guard=guard) as again:
        assert again is first and validates(af, key) == 1
    deadline = time.monotonic() + 5
    while first.active and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.lost_code == "idle"
    with licensed(key, hwid_override="tg:idle", guard=guard) as later:
        assert later is not first and later.active
    assert validates(af, key) == 2


def test_max_sessions_logs_out_the_least_recently_used_idle_one(af, make_guard):
    guard = make_guard(heartbeat="grace", max_sessions=3)
    keys = [af.create_license() for _ in range(4)]
    sessions = []
    for n, key in enumerate(keys[:3]):
        with licensed(key, hwid_override=f"tg:{n}", guard=guard) as session:
            sessions.append(session)
    with licensed(keys[0], hwid_override="tg:0", guard=guard):  # tenant 0 used again
        pass
    with licensed(keys[3], hwid_override="tg:3", guard=guard):
        pass
    assert [s.active for s in sessions] == [True, False, True]  # tenant 1 was the oldest
    assert sessions[1].lost_code == "evicted"
    with licensed(keys[1], hwid_override="tg:1", guard=guard) as back:
        assert back.active
    assert validates(af, keys[1]) == 2


def test_single_flight_under_a_slow_server(af, proxy, make_guard):
    guard = make_guard(api_base_url=proxy.url)
    key = af.create_license()
    proxy.arm(Fault.delay(0.5), path="/auth/validate")
    start = threading.Barrier(20)

    def first_call(_):
        start.wait(5)
        return guard.ensure(key, hwid_override="tg:flight")

    with ThreadPoolExecutor(20) as pool:
        sessions = set(pool.map(first_call, range(20)))
    assert len(sessions) == 1 and validates(af, key) == 1


def test_an_outage_fails_fast_for_everyone_in_one_retry_cycle(af, proxy, make_guard):
    guard = make_guard(api_base_url=proxy.url, request_timeout=2)
    key = af.create_license()
    proxy.arm(Fault.drop(), always=True, path="/auth/validate")

    async def main():
        async def request():
            try:
                await guard.aensure(key, hwid_override="tg:outage")
            except LicenseError as exc:
                return exc.code
            return "ok"

        return await asyncio.gather(*(request() for _ in range(100)))

    codes = asyncio.run(main())
    assert set(codes) == {"network_error"}
    attempts = sum(1 for path, _ in proxy.requests if path == "/auth/validate")
    assert attempts <= 3  # one login and its retries, not 100 of them


def test_the_async_path_never_blocks_the_event_loop(af, proxy, make_guard):
    # The proxy holds every validate until the loop itself lets them go, once it has seen
    # as many logins in flight at once as the guard has login workers. A login run on the
    # loop's thread would block it at the first one: the loop could not see the others nor
    # release them, and only the hang guard (a timer thread) would. No timing is measured:
    # a loaded machine cannot fail it (a tick-gap bound of 0.4 s once did, at load 10).
    guard = make_guard(api_base_url=proxy.url, request_timeout=60)
    keys = [af.create_license({"tier": "pro"}) for _ in range(5)]
    release = threading.Event()
    proxy.arm(Fault.hold(release), times=5, path="/auth/validate")
    hang_guard = threading.Timer(60, release.set)
    hang_guard.start()

    def in_flight():
        return sum(1 for path, _ in proxy.requests if path == "/auth/validate")

    async def main():
        async def handler(n):
            async with licensed(keys[n], hwid_override=f"tg:{n}", guard=guard):
                return has_feature("pro", guard=guard)

        tasks = [asyncio.ensure_future(handler(n)) for n in range(5)]
        released_by_the_loop = False
        try:
            while in_flight() < guard.settings.login_workers and not release.is_set():
                await asyncio.sleep(0.01)  # the loop runs while the logins wait
            released_by_the_loop = not release.is_set()
        finally:
            release.set()
        return await asyncio.gather(*tasks), released_by_the_loop

    try:
        granted, released_by_the_loop = asyncio.run(main())
    finally:
        hang_guard.cancel()
    assert granted == [True] * 5
    assert released_by_the_loop, "the logins blocked the event loop"


def test_has_feature_on_the_event_loop_never_logs_in(af, make_guard):
    guard = make_guard(license_key=af.create_license())

    async def main():
        return has_feature("pro", guard=guard)

    with pytest.raises(RuntimeError, match="event loop"):
        asyncio.run(main())


def test_a_blocks_session_is_current_in_tasks_it_starts(af, make_guard):
    guard = make_guard(heartbeat="grace")
    key = af.create_license({"tier": "enterprise"})

    async def main():
        async with licensed(key, hwid_override="tg:ctx", guard=guard) as session:

            async def child():
                return current_session()

            seen = await asyncio.ensure_future(child())
        return seen is session, current_session()

    assert asyncio.run(main()) == (True, None)


def test_prefork_workers_share_one_login_per_tenant_through_the_session_cache(
    af, make_guard, tmp_path
):
    import os

    if not hasattr(os, "fork"):
        pytest.skip("no os.fork here")
    cache = tmp_path / "cache"
    guard = make_guard(heartbeat="grace", session_cache=str(cache))
    keys = [af.create_license() for _ in range(10)]
    for n, key in enumerate(keys):  # the master logs every tenant in before forking
        guard.ensure(key, hwid_override=f"tg:{n}")
    pids = []
    for _ in range(4):
        pid = os.fork()
        if pid == 0:
            ok = True
            try:
                for n, key in enumerate(keys):  # each worker serves every tenant
                    with licensed(key, hwid_override=f"tg:{n}", guard=guard) as session:
                        ok = ok and session.active
            except BaseException:
                ok = False
            os._exit(0 if ok else 1)
        pids.append(pid)
    statuses = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    assert statuses == [0, 0, 0, 0]
    assert [validates(af, key) for key in keys] == [1] * len(keys)
