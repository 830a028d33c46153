"""An outage must not make tenants queue, nor take the application's thread pool (issue 26
defect 6, issue 24 part 2): logins from coroutines run on the Guard's own bounded pool,
and a server unreachable for one tenant fails the others fast while one login probes it."""

from __future__ import annotations

import asyncio
import time

import pytest

from authforge_guard import LicenseError

from .support import SilentServer, closed_port

TENANTS = 60


def _guard(af, url, **overrides):
    overrides.setdefault("heartbeat", "online")
    # The default retry policy (a 2 s pause before the one network retry): what users run.
    return af.guard(api_base_url=url, hwid_override="bot-host", **overrides)


async def _default_executor_wait(loop) -> float:
    """How long the application's own job waits on the loop's default executor."""
    start = time.perf_counter()
    await loop.run_in_executor(None, lambda: None)
    return time.perf_counter() - start


async def _stall_meter(stop: asyncio.Event, stalls: list[float], tick: float = 0.01) -> None:
    """Record how late the loop runs a 10 ms sleep: a blocked loop shows up here."""
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(tick)
        stalls.append(time.perf_counter() - start - tick)


def test_sixty_tenants_against_a_closed_port_do_not_queue(af, capsys):
    guard = _guard(af, f"http://127.0.0.1:{closed_port()}")
    keys = [af.create_license({"tier": "pro"}) for _ in range(TENANTS)]

    async def main():
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        logins = asyncio.gather(
            *(guard.aensure(k, hwid_override=f"tg:{i}") for i, k in enumerate(keys)),
            return_exceptions=True,
        )
        await asyncio.sleep(0)  # the logins are queued on the login pool
        waited = await _default_executor_wait(loop)
        results = await asyncio.wait_for(logins, 60)  # a hang guard, not a timing goal
        return results, waited, time.perf_counter() - started

    try:
        results, waited, total = asyncio.run(main())
    finally:
        guard.logout()
    assert all(isinstance(r, LicenseError) for r in results), results
    assert {r.kind for r in results} == {"unreachable"}
    assert {r.code for r in results} <= {"network_error", "timeout"}
    with capsys.disabled():
        print(
            f"\n[outage] {TENANTS} tenants, closed port: default executor job waited "
            f"{waited * 1000:.1f} ms; all {TENANTS} answered in {total:.2f} s"
        )


def test_an_outage_is_probed_by_one_login_at_a_time(af):
    with SilentServer(hang=False) as dead:  # accepts and closes: counts every attempt
        guard = _guard(af, dead.url)
        keys = [af.create_license({"tier": "pro"}) for _ in range(TENANTS)]

        async def main():
            return await asyncio.gather(
                *(guard.aensure(k, hwid_override=f"tg:{i}") for i, k in enumerate(keys)),
                return_exceptions=True,
            )

        try:
            results = asyncio.run(main())
        finally:
            guard.logout()
        assert all(isinstance(r, LicenseError) and r.kind == "unreachable" for r in results)
        # Without sharing the outage every tenant tries twice (a retry): 120 connections.
        # With it: the logins already running when the first failed, then one probe.
        assert dead.connections <= 2 * guard.settings.login_workers + 2, dead.connections


def test_the_server_coming_back_ends_the_outage(af, make_guard):
    key = af.create_license({"tier": "pro"})
    dead_guard = _guard(af, f"http://127.0.0.1:{closed_port()}")
    try:
        with pytest.raises(LicenseError):
            dead_guard.ensure(key, hwid_override="tg:1")
        assert dead_guard._login_flow.reach.down == "network_error"
    finally:
        dead_guard.logout()
    # A guard whose server answers: the one probe gets through and the outage ends.
    guard = make_guard()
    guard._login_flow.reach.leave(False, "network_error")  # as if a login had just failed
    session = guard.ensure(key, hwid_override="tg:1")  # the probe
    assert session.active and guard._login_flow.reach.down is None


def test_a_hanging_server_leaves_the_default_executor_and_the_loop_free(af, capsys):
    with SilentServer(hang=True) as hung:
        guard = _guard(af, hung.url, request_timeout=30.0)
        keys = [af.create_license({"tier": "pro"}) for _ in range(20)]

        async def main():
            loop = asyncio.get_running_loop()
            stop = asyncio.Event()
            stalls: list[float] = []
            meter = asyncio.ensure_future(_stall_meter(stop, stalls))
            logins = asyncio.gather(
                *(guard.aensure(k, hwid_override=f"tg:{i}") for i, k in enumerate(keys)),
                return_exceptions=True,
            )
            while not hung.first_connection.is_set():
                await asyncio.sleep(0.01)
            waits = [await _default_executor_wait(loop) for _ in range(10)]
            during_hang = not hung.released.is_set()
            login_threads = guard._login_flow.pool._threads
            await asyncio.sleep(0.5)  # the loop keeps running while the logins hang
            hung.release()
            results = await asyncio.wait_for(logins, 60)
            stop.set()
            await meter
            return results, waits, during_hang, login_threads, max(stalls)

        try:
            results, waits, during_hang, login_threads, stall = asyncio.run(main())
        finally:
            guard.logout()
        assert during_hang  # the application's jobs ran while every login hung
        assert login_threads == guard.settings.login_workers  # bounded, and all busy
        assert all(isinstance(r, LicenseError) and r.kind == "unreachable" for r in results)
        with capsys.disabled():
            print(
                f"\n[hang] 20 new users on a hanging server: default executor job waited "
                f"max {max(waits) * 1000:.1f} ms; longest loop stall {stall * 1000:.1f} ms"
            )


def test_the_outage_benchmark_runs():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "bench" / "bots_outage.py"
    result = subprocess.run(
        [sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "they were told: ['unreachable']" in result.stdout
    assert "default executor job" in result.stdout and "loop stall" in result.stdout


def test_a_login_no_thread_took_in_time_is_not_started(af):
    # One login thread, a server that hangs, a 1 s request timeout: the first login holds
    # the thread until its deadline; the ones queued behind it are past theirs by then and
    # fail with "timeout" without a connection of their own.
    with SilentServer(hang=True) as hung:
        guard = _guard(af, hung.url, login_workers=1, request_timeout=1.0)
        keys = [af.create_license({"tier": "pro"}) for _ in range(5)]

        async def main():
            return await asyncio.wait_for(
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
        assert all(isinstance(r, LicenseError) and r.kind == "unreachable" for r in results)
        assert {r.code for r in results} == {"timeout"}
        assert hung.connections <= 2  # the first login (and its one retry) only
