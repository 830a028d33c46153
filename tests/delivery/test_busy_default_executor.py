"""A loss reaches async code however busy the event loop's default executor is.

An async program meets a loss while its hooks still run (a block that ends while a
cleanup saves the user's work) and waits for them without blocking the loop. That
wait used to be a job on ``loop.run_in_executor(None, ...)``: the application's own
pool. A bot whose default executor is full of its own slow jobs (file uploads, a
blocking SDK) then got the loss only when one of those finished, and a program that
had shut its default executor down got a ``RuntimeError`` instead of ``LicenseLost``.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from authforge_guard import LicenseLost, licensed

HANG_GUARD = 30.0  # seconds: a hang fails the test instead of stalling the run


async def _lose_during_a_slow_cleanup(af, guard, key) -> list[str]:
    """Revoke, let the loss's cleanup start, leave the block while the cleanup still
    runs, and let it finish only once the block is waiting for it."""
    seen: list[str] = []
    cleanup_started, cleanup_may_finish = threading.Event(), threading.Event()

    @guard.on_lost
    def save_progress(event):
        cleanup_started.set()
        cleanup_may_finish.wait(HANG_GUARD)
        seen.append("saved")

    with pytest.raises(LicenseLost) as info:
        async with licensed(guard=guard):
            af.revoke(key)
            while not cleanup_started.is_set():  # the next check finds the revocation
                await asyncio.sleep(0.01)
            # Runs once this task waits at the block's exit.
            asyncio.get_running_loop().call_soon(cleanup_may_finish.set)
    seen.append(info.value.code)
    return seen


def test_a_loss_is_not_queued_behind_the_applications_busy_executor(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key)
    app_jobs_may_end = threading.Event()

    async def bot():
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=2))
        # The application's own slow jobs: any later job of the default executor
        # queues behind them.
        busy = [loop.run_in_executor(None, app_jobs_may_end.wait, 60) for _ in range(2)]
        try:
            return await asyncio.wait_for(_lose_during_a_slow_cleanup(af, guard, key), HANG_GUARD)
        finally:
            app_jobs_may_end.set()
            await asyncio.gather(*busy)

    assert asyncio.run(bot()) == ["saved", "revoked"]


def test_a_loss_reaches_a_program_whose_default_executor_is_shut_down(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key)

    async def bot():
        await asyncio.get_running_loop().shutdown_default_executor()
        return await asyncio.wait_for(_lose_during_a_slow_cleanup(af, guard, key), HANG_GUARD)

    assert asyncio.run(bot()) == ["saved", "revoked"]
