"""Guards sharing a session store, as replicas of a service do (issue 17): one login per
tenant, one heartbeat per session, a revocation seen by one ending it on all, an outage
that never stops serving."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from authforge_guard import LicenseLost, licensed

from ..support.redis_server import RedisServer, missing_reason
from ..support.waiting import wait_for
from .test_fleet import Worker, validates

REPLICAS = 4


@pytest.fixture
def replicas(make_guard, backend):
    """``replicas(**options)``: four Guards on one store (each its own instance of it)."""

    def make(n=REPLICAS, **options):
        return [make_guard(session_store=backend.setting, **options) for _ in range(n)]

    return make


def serve(guard, key, hwid):
    with licensed(key, hwid_override=hwid, guard=guard) as session:
        return session.tier


def test_replicas_log_each_tenant_in_once(af, replicas):
    guards = replicas(heartbeat="grace")
    tenants = [(af.create_license({"tier": "pro"}), f"tg:{n}") for n in range(50)]
    jobs = [(guard, key, hwid) for key, hwid in tenants for guard in guards]

    with ThreadPoolExecutor(16) as pool:
        tiers = list(pool.map(lambda job: serve(*job), jobs))

    assert tiers == ["pro"] * len(jobs)
    assert {validates(af, [[key, hwid]]) for key, hwid in tenants} == {1}


def test_worker_processes_log_each_tenant_in_once(af, backend):
    tenants = [[af.create_license(), f"tg:{n}"] for n in range(40)]
    workers = [Worker(af, backend.setting, tenants, mode="guard") for _ in range(REPLICAS)]
    try:
        for worker in workers:
            worker.go()
        results = [worker.result() for worker in workers]
    finally:
        for worker in workers:
            worker.close()

    assert validates(af, tenants) == len(tenants)
    assert sum(logins for logins, _waited in results) == len(tenants)


def test_one_replica_checks_each_session_in(af, replicas):
    guards = replicas(heartbeat="online", heartbeat_interval=0.5)
    key = af.create_license({"tier": "free"})
    sessions = [guard.ensure(key, hwid_override="tg:1") for guard in guards]
    fleets = [guard._fleet for guard in guards]

    af.set_variables(key, {"tier": "pro"})
    assert wait_for(lambda: sum(f.check_ins for f in fleets) >= 6 * REPLICAS, timeout=60)
    assert wait_for(lambda: all(s.tier == "pro" for s in sessions))  # the holder's answer, read
    for guard in guards:
        guard.logout()

    checks, heartbeats = sum(f.check_ins for f in fleets), sum(f.heartbeats for f in fleets)
    # Without a store every check is a heartbeat; here about one in four is.
    assert heartbeats * 2 <= checks
    assert af.stats()["licenses"][key]["heartbeats"] < checks


def test_a_revocation_seen_by_one_replica_ends_the_session_on_every_replica(af, replicas):
    guards = replicas(heartbeat="online", heartbeat_interval=0.5, interrupt=False)
    key = af.create_license()
    codes, all_ended = [], threading.Event()

    def on_lost(event):
        codes.append(event.code)
        if len(codes) == REPLICAS:
            all_ended.set()

    for guard in guards:
        guard.on_lost(on_lost)
    sessions = [guard.ensure(key, hwid_override="tg:2") for guard in guards]

    af.revoke(key)

    assert all_ended.wait(15)
    assert codes == ["revoked"] * REPLICAS
    assert not any(session.active for session in sessions)


@pytest.fixture
def own_redis(tmp_path):
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    server = RedisServer(str(tmp_path / "redis")).start()
    yield server
    server.close()


def test_redis_stopped_mid_run_every_replica_keeps_serving(af, make_guard, own_redis):
    guards = [
        make_guard(session_store=own_redis.url, heartbeat="online", heartbeat_interval=0.3)
        for _ in range(3)
    ]
    before = [(af.create_license({"tier": "pro"}), f"tg:{n}") for n in range(5)]
    assert [serve(g, k, h) for k, h in before for g in guards] == ["pro"] * 15

    own_redis.stop()
    fleets = [guard._fleet for guard in guards]
    checked = sum(f.check_ins for f in fleets)
    after = [(af.create_license({"tier": "pro"}), f"tg:new-{n}") for n in range(5)]
    served = [serve(g, k, h) for k, h in before + after for g in guards]
    assert wait_for(lambda: sum(f.check_ins for f in fleets) >= checked + 30, timeout=60)

    assert served == ["pro"] * 30
    assert all(len(guard.sessions) == 10 for guard in guards)  # no session lost to the outage
    # Without the store each replica logs a new tenant in by itself.
    assert {validates(af, [[k, h]]) for k, h in after} == {3}


def test_a_revocation_fanned_out_raises_license_lost_in_the_other_replicas_block(
    af, make_guard, backend
):
    key = af.create_license()
    seer = make_guard(session_store=backend.setting, heartbeat_interval=0.3, interrupt=False)
    # This replica's own check would come only in an hour: it can learn of the loss only
    # from the seer, through the store.
    other = make_guard(session_store=backend.setting, heartbeat_interval=3600, interrupt=False)
    seer.ensure(key, hwid_override="tg:3")
    lost = threading.Event()
    other.on_lost(lambda event: lost.set())

    with pytest.raises(LicenseLost) as raised:
        with licensed(key, hwid_override="tg:3", guard=other):
            af.revoke(key)
            assert lost.wait(15)

    assert raised.value.code == "revoked"
    assert other._fleet.heartbeats == 0  # it never checked in itself after the revocation
