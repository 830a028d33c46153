"""A fleet sharing a store: one login per tenant across worker processes, one check-in per
round across instances, a loss seen by one instance ending the session on the others."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from authforge_guard._client._engine import Answer
from authforge_guard._stores import store_from_setting
from authforge_guard._stores._fleet import Fleet

from .wire import Wire

ROOT = Path(__file__).resolve().parents[2]


class Worker:
    """``tests/stores/fleet_worker.py`` in its own process."""

    def __init__(self, af, setting, tenants, *, lease=10.0, mode="normal"):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *sys.path]))
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.stores.fleet_worker",
                setting,
                af.url,
                af.app_id,
                af.public_key,
                str(lease),
                mode,
            ],
            cwd=str(ROOT),
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.process.stdin.write(af.app_secret + "\n" + json.dumps(tenants) + "\n")
        self.process.stdin.flush()
        assert self.readline() == "ready"

    def readline(self):
        return self.process.stdout.readline().strip()

    def go(self):
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def result(self):
        line = self.readline()
        assert line.startswith("done"), line
        self.process.wait(60)
        _done, logins, waited = line.split()
        return int(logins), int(waited)

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        self.process.stdin.close()
        self.process.stdout.close()


def validates(af, tenants):
    licenses = af.stats()["licenses"]
    return sum(licenses[key]["validates"] for key in {key for key, _hwid in tenants})


@pytest.fixture
def workers():
    started = []
    yield started
    for worker in started:
        worker.close()


def test_four_workers_log_each_tenant_in_once(af, backend, workers):
    tenants = [[af.create_license({"tier": "pro"}), f"tg:{n}"] for n in range(40)]
    workers.extend(Worker(af, backend.setting, tenants) for _ in range(4))

    for worker in workers:
        worker.go()
    results = [worker.result() for worker in workers]

    assert validates(af, tenants) == len(tenants)
    assert sum(logins for logins, _waited in results) == len(tenants)


def test_a_replica_killed_mid_login_costs_at_most_one_extra_validate(af, backend, workers):
    tenant = [af.create_license(), "tg:1"]
    holder = Worker(af, backend.setting, [tenant], lease=1.0, mode="hang")
    workers.append(holder)
    holder.go()
    assert holder.readline() == "validated"  # it holds the login lease, and dies
    holder.kill()

    survivor = Worker(af, backend.setting, [tenant], lease=1.0)
    workers.append(survivor)
    survivor.go()

    assert survivor.result() == (1, 0)
    assert validates(af, [tenant]) == 2


@pytest.fixture
def wire(af):
    wire = Wire(af.url, af.app_id, af.app_secret, af.public_key)
    yield wire
    wire.close()


def validate_with(wire, key, hwid):
    return lambda: Answer(wire.validate(key, hwid), None)


def test_one_instance_checks_in_for_the_fleet(af, backend, wire):
    key, hwid = af.create_license({"tier": "free"}), "tg:5"
    fleets = [Fleet(backend.make(), interval=30) for _ in range(4)]
    first = (
        fleets[0]
        .obtain(key, hwid, wire.trust, validate=validate_with(wire, key, hwid), confirm=None)
        .signed
    )
    held = {id(fleet): first for fleet in fleets}
    checks = []

    def heartbeat_for(fleet):
        def heartbeat():
            checks.append(fleet)
            held[id(fleet)] = wire.heartbeat(held[id(fleet)], hwid)
            return Answer(held[id(fleet)], None)

        return heartbeat

    af.set_variables(key, {"tier": "pro"})
    rounds = [
        [fleet.check_in(key, hwid, wire.trust, heartbeat_for(fleet)) for fleet in fleets]
        for _ in range(5)
    ]

    assert af.stats()["licenses"][key]["heartbeats"] == 5  # one per round, not four
    assert len({id(fleet) for fleet in checks}) == 1  # always the same lease holder
    for answers in rounds:  # the others read the holder's refreshed answer
        assert [a.signed.license_variables for a in answers] == [{"tier": "pro"}] * 4
    for fleet in fleets:
        fleet.close()


class LeaseRefusals:
    """A store that says when it refused a lease (a user-written store, over the real one)."""

    def __init__(self, store, refused):
        self._store, self._refused = store, refused

    def __getattr__(self, name):
        return getattr(self._store, name)

    def try_lease(self, *args):
        taken = self._store.try_lease(*args)
        if not taken:
            self._refused.set()
        return taken


def test_online_a_stored_session_is_confirmed_but_a_shared_login_is_not(af, backend, wire):
    key, hwid = af.create_license(), "tg:8"
    told_to_wait = threading.Event()
    holder, restarted = Fleet(backend.make(), interval=30), Fleet(backend.make(), interval=30)
    waiter = Fleet(LeaseRefusals(backend.make(), told_to_wait), interval=30)
    confirmed = []

    def confirm(signed):
        confirmed.append(signed)
        return Answer(wire.heartbeat(signed, hwid), None)

    def obtain(fleet):
        return fleet.obtain(
            key, hwid, wire.trust, validate=validate_with(wire, key, hwid), confirm=confirm
        )

    assert holder.store.try_lease(key, hwid, "login", 30)  # another instance is logging in
    waited = []
    thread = threading.Thread(target=lambda: waited.append(obtain(waiter)))
    thread.start()
    assert told_to_wait.wait(10)  # the waiter found no entry and the lease taken
    holder.save(key, hwid, wire.validate(key, hwid))  # the login lands in the store
    thread.join(30)
    later = obtain(restarted)  # a start after that finds a stored session: confirmed

    assert waiter.waited == 1 and waited[0].signed.token_body["licenseKey"] == key
    assert len(confirmed) == 1 and later.signed.token_body["licenseKey"] == key
    assert af.stats()["licenses"][key]["validates"] == 1
    assert af.stats()["licenses"][key]["heartbeats"] == 1
    for fleet in (holder, waiter, restarted):
        fleet.close()


def test_a_loss_on_one_instance_ends_the_session_on_the_others(af, backend, wire):
    key, hwid = af.create_license(), "tg:6"
    seer, *others = [Fleet(backend.make(), online=False) for _ in range(3)]
    for fleet in (seer, *others):
        fleet.obtain(key, hwid, wire.trust, validate=validate_with(wire, key, hwid), confirm=None)
    ended = []
    all_ended = threading.Event()

    def on_lost(lost_key, lost_hwid, code):
        ended.append((lost_key == key, lost_hwid, code))
        if len(ended) == len(others):
            all_ended.set()

    for fleet in others:
        fleet.follow(key, hwid, on_lost)

    seer.lost(key, hwid, "revoked")

    assert all_ended.wait(5)
    assert ended == [(True, hwid, "revoked")] * len(others)
    assert seer.store.load(key, hwid, trust=wire.trust).session is None
    for fleet in (seer, *others):
        fleet.close()


def test_a_loss_that_is_not_a_verdict_on_the_license_is_not_fanned_out(af, backend, wire):
    key, hwid = af.create_license(), "tg:3"
    seer, other = Fleet(backend.make(), online=False), Fleet(backend.make(), online=False)
    seer.obtain(key, hwid, wire.trust, validate=validate_with(wire, key, hwid), confirm=None)
    told = []
    other.follow(key, hwid, lambda *fields: told.append(fields))
    arrived = threading.Event()
    other.follow(key + "-marker", hwid, lambda *fields: arrived.set())

    seer.lost(key, hwid, "session_expired")  # this instance's copy ran out: its own business
    seer.lost(key + "-marker", hwid, "revoked")  # published after it: the watcher has passed

    assert arrived.wait(5)
    assert told == []
    assert seer.store.load(key, hwid, trust=wire.trust).missing  # the stale copy is dropped
    for fleet in (seer, other):
        fleet.close()


def test_with_the_store_down_every_instance_logs_in_by_itself(af, wire, tmp_path):
    from ..support.redis_server import RedisServer, missing_reason

    if missing_reason():
        pytest.skip(missing_reason())
    server = RedisServer(str(tmp_path / "redis")).start()
    setting = server.url
    server.stop()
    try:
        key, hwid = af.create_license(), "tg:7"
        fleets = [Fleet(store_from_setting(setting, af.app_id)) for _ in range(3)]
        answers = [
            f.obtain(key, hwid, wire.trust, validate=validate_with(wire, key, hwid), confirm=None)
            for f in fleets
        ]
        assert all(a.signed.token_body["licenseKey"] == key for a in answers)
        assert af.stats()["licenses"][key]["validates"] == 3
        for fleet in fleets:
            fleet.close()
    finally:
        server.close()
