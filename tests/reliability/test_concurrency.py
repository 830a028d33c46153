"""Threads, hooks and a heartbeat racing each other: losses and logins under load, a logout
during an in-flight heartbeat, a login from inside a hook, a hook that hangs.

(The process-level cases, ``os.fork()`` and interpreter shutdown, are in
``test_processes.py``.)
"""

import threading
import time
from dataclasses import replace

import pytest

from authforge_guard import LicenseLost, licensed, requires_license
from authforge_guard._base._scheduler import shared_timers
from tests.support.fault_proxy import Fault
from tests.support.waiting import HookLog, heartbeat_threads, scheduled_checks, wait_for

HEARTBEAT = "/auth/heartbeat"
WORKERS = 8


def verdict(code, status=403, delay=0.0):
    fault = Fault.json({"status": "failed", "error": code}, status)
    return replace(fault, delay_seconds=delay)


def stats(shared_af, key):
    return shared_af.stats()["licenses"][key]


def run_threads(target, count=WORKERS):
    threads = [threading.Thread(target=target, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    return threads


def join_all(threads, timeout=10.0):
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [thread for thread in threads if thread.is_alive()]


def test_threads_keep_calling_while_sessions_are_lost_and_regained(
    shared_af, proxy, make_shared_guard
):
    key = shared_af.create_license()
    guard = make_shared_guard(api_base_url=proxy.url, license_key=key, heartbeat_interval=0.05)
    hooks = HookLog(guard)

    @requires_license(guard=guard)
    def work(n):
        return n

    stop, errors, calls = threading.Event(), [], [0] * WORKERS

    def worker(n):
        while not stop.is_set():
            try:
                assert work(n) == n
                calls[n] += 1
            except Exception as exc:  # any failure at all is a finding
                errors.append(repr(exc))

    threads = run_threads(worker)
    losses = 5
    for lost in range(1, losses + 1):
        proxy.arm(verdict("session_expired"), path=HEARTBEAT)  # the next check ends it
        assert wait_for(lambda: hooks.kinds().count("lost") == lost)
        assert wait_for(lambda: guard.session is not None)  # a worker logged in again
    stop.set()
    assert join_all(threads) == []
    assert errors == []
    assert all(calls)
    assert hooks.kinds().count("lost") == losses
    # One login per loss, however many threads found the session gone at once.
    assert stats(shared_af, key)["validates"] == 1 + losses
    assert scheduled_checks(guard) <= 1


def test_a_loss_reaches_every_worker_block_once(shared_af, proxy, make_shared_guard):
    key = shared_af.create_license()
    guard = make_shared_guard(api_base_url=proxy.url, license_key=key, heartbeat_interval=0.05)
    hooks = HookLog(guard)
    guard.ensure()  # held by the main thread: the blocks reuse it
    inside = threading.Barrier(WORKERS + 1)
    outcome = {}

    @requires_license(guard=guard)
    def work():
        time.sleep(0.001)

    def worker(n):
        try:
            with licensed(guard=guard):
                inside.wait()
                while True:
                    work()
        except LicenseLost as exc:
            outcome[n] = exc.code
        except Exception as exc:
            outcome[n] = repr(exc)

    threads = run_threads(worker)
    inside.wait()
    proxy.arm(verdict("revoked"), path=HEARTBEAT)
    assert join_all(threads) == []
    assert outcome == {n: "revoked" for n in range(WORKERS)}
    assert wait_for(lambda: "cleanup" in hooks.kinds())
    assert hooks.kinds() == ["code", "lost", "cleanup"]  # hooks once, not once per thread


@pytest.mark.parametrize("late_answer", ["success", "revoked"])
def test_logout_during_an_in_flight_heartbeat(shared_af, proxy, make_shared_guard, late_answer):
    key = shared_af.create_license()
    guard = make_shared_guard(api_base_url=proxy.url, license_key=key, heartbeat_interval=0.1)
    hooks = HookLog(guard)
    guard.ensure()
    delay = 1.0
    fault = Fault.delay(delay) if late_answer == "success" else verdict("revoked", delay=delay)
    proxy.arm(fault, path=HEARTBEAT)
    sent = len(proxy.requests)
    assert wait_for(lambda: len(proxy.requests) > sent)  # the heartbeat is now in flight
    started = time.monotonic()
    guard.logout()
    assert time.monotonic() - started < delay  # logout does not wait for the network
    assert shared_timers().settle(delay + 10)  # the late answer came, and was dealt with
    assert guard.session is None and guard.sessions == [] and scheduled_checks(guard) == 0
    assert hooks.events == []


def test_a_stale_verdict_cannot_end_the_next_session(shared_af, proxy, make_shared_guard):
    key = shared_af.create_license()
    guard = make_shared_guard(api_base_url=proxy.url, license_key=key, heartbeat_interval=0.1)
    hooks = HookLog(guard)
    guard.ensure()
    proxy.arm(verdict("revoked", delay=0.6), path=HEARTBEAT)
    sent = len(proxy.requests)
    assert wait_for(lambda: len(proxy.requests) > sent)
    guard.logout()
    session = guard.ensure()  # a new session while the old check still waits for its answer
    beats = stats(shared_af, key)["heartbeats"]
    assert wait_for(lambda: stats(shared_af, key)["heartbeats"] >= beats + 8)  # well after 0.6 s
    assert session.active and guard.session is session
    assert hooks.events == []


@pytest.mark.parametrize("hook_timeout", [5.0, None], ids=["hook_thread", "heartbeat_thread"])
def test_login_from_inside_a_hook(shared_af, proxy, make_shared_guard, hook_timeout):
    key = shared_af.create_license()
    guard = make_shared_guard(
        api_base_url=proxy.url, license_key=key, heartbeat_interval=0.05, hook_timeout=hook_timeout
    )
    first = guard.ensure()
    again = []

    @guard.on_lost
    def log_in_again(event):
        again.append(guard.ensure())

    proxy.arm(verdict("session_expired"), path=HEARTBEAT)
    assert wait_for(lambda: again)
    [second] = again
    assert not first.active and second.active and guard.session is second
    beats = stats(shared_af, key)["heartbeats"]
    assert wait_for(
        lambda: stats(shared_af, key)["heartbeats"] >= beats + 3
    )  # the new one is checked
    assert guard.session is second
    assert wait_for(lambda: scheduled_checks(guard) == 1)


def test_logout_from_inside_a_hook(shared_af, proxy, make_shared_guard):
    key = shared_af.create_license()
    guard = make_shared_guard(
        api_base_url=proxy.url, license_key=key, heartbeat_interval=0.05, hook_timeout=None
    )  # in the heartbeat thread itself
    hooks = HookLog(guard)
    guard.on_lost(lambda event: guard.logout())
    guard.ensure()
    proxy.arm(verdict("revoked"), path=HEARTBEAT)
    assert wait_for(lambda: "cleanup" in hooks.kinds())
    assert guard.session is None and guard.sessions == []
    assert wait_for(lambda: scheduled_checks(guard) == 0)


def test_client_login_from_inside_on_failure(shared_af, proxy, make_shared_client):
    key = shared_af.create_license()
    seen = []

    def on_failure(reason, exc):
        seen.append(exc.code)
        assert client.login(key)

    client = make_shared_client(
        api_base_url=proxy.url,
        online_heartbeat=True,
        heartbeat_interval=0.05,
        on_failure=on_failure,
    )
    assert client.login(key)
    proxy.arm(verdict("session_expired"), path=HEARTBEAT)
    assert wait_for(lambda: seen)
    beats = stats(shared_af, key)["heartbeats"]
    assert wait_for(lambda: stats(shared_af, key)["heartbeats"] >= beats + 3)
    assert seen == ["session_expired"] and client.is_authenticated()
    assert wait_for(lambda: len(heartbeat_threads()) == 1)


def test_a_hanging_hook_is_left_behind_and_the_loss_still_lands(
    shared_af, proxy, make_shared_guard, caplog
):
    key = shared_af.create_license()
    guard = make_shared_guard(api_base_url=proxy.url, license_key=key, heartbeat_interval=0.05)
    never = threading.Event()
    order = []
    guard.on_lost(timeout=0.3)(lambda event: never.wait())
    guard.on_lost(lambda event: order.append("after the hung hook"))
    guard.add_cleanup(order.append, "cleanup")
    started = time.monotonic()
    with pytest.raises(LicenseLost):
        with licensed(guard=guard):
            proxy.arm(verdict("revoked"), path=HEARTBEAT)
            time.sleep(30)
    assert time.monotonic() - started < 20  # the loss, not the end of the 30 s sleep
    assert order == ["after the hung hook", "cleanup"]
    assert "still running after 0.3s" in caplog.text
    never.set()


def test_a_hanging_transient_hook_does_not_stop_the_checks(shared_af, proxy, make_shared_guard):
    key = shared_af.create_license()
    guard = make_shared_guard(
        api_base_url=proxy.url,
        license_key=key,
        heartbeat_interval=0.05,
        hook_timeout=0.2,
        max_unreachable=60,  # two failures in a row are well inside the silence bound
    )
    never = threading.Event()
    calls = []
    guard.on_transient(lambda event: (calls.append(event.code), never.wait()))
    session = guard.ensure()
    proxy.arm(Fault.status(503), times=2, path=HEARTBEAT)
    assert wait_for(lambda: calls)
    beats = stats(shared_af, key)["heartbeats"]
    assert wait_for(lambda: stats(shared_af, key)["heartbeats"] >= beats + 3)
    assert session.active and calls[0] == "http_error_503"
    never.set()
