"""Issue 12, item 1: blocks on one session are counted; the last one out logs out, and a
loss reaches every block that is still open (threads and asyncio tasks)."""

import asyncio
import threading

import pytest

from authforge_guard import LicenseLost, licensed


def validates(af, key):
    return af.stats()["licenses"][key]["validates"]


def test_two_threads_overlapping_blocks_share_one_session(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key)
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with licensed(guard=guard) as session:
            seen["first"] = session
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        first_in.wait(5)
        with licensed(guard=guard) as session:
            seen["second"] = session
            second_in.set()
            first_out.wait(5)
            # The block that logged in has left: this one still holds the session.
            seen["alive_after_first_left"] = session.active and guard.session is session

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen["first"] is seen["second"]
    assert seen["alive_after_first_left"] is True
    assert not seen["first"].active and guard.session is None  # the last block out logged out
    assert validates(af, key) == 1


def test_a_loss_reaches_every_overlapping_thread_block_after_the_hooks(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key)
    order = []
    guard.add_cleanup(order.append, "cleanup")
    both_in = threading.Barrier(3)
    outcome = {}

    def worker(n):
        try:
            with licensed(guard=guard) as session:
                both_in.wait(5)
                while session.active:  # work until the license goes
                    threading.Event().wait(0.01)
        except LicenseLost as exc:
            outcome[n] = (exc.code, list(order))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    both_in.wait(5)
    af.revoke(key)
    for t in threads:
        t.join(10)
    # Each block raised, and only after the cleanup had run.
    assert outcome == {0: ("revoked", ["cleanup"]), 1: ("revoked", ["cleanup"])}
    assert validates(af, key) == 1


def test_two_asyncio_tasks_overlapping_blocks(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key)

    async def main():
        first_in, first_out = asyncio.Event(), asyncio.Event()
        results = {}

        async def first():
            async with licensed(guard=guard) as session:
                results["first"] = session
                first_in.set()
                await asyncio.sleep(0.05)
            first_out.set()

        async def second():
            await first_in.wait()
            try:
                async with licensed(guard=guard) as session:
                    results["second"] = session
                    await first_out.wait()
                    results["alive_after_first_left"] = session.active
                    af.revoke(key)
                    await asyncio.sleep(30)  # cancelled by the loss
            except LicenseLost as exc:
                results["lost"] = exc.code

        await asyncio.wait_for(asyncio.gather(first(), second()), 20)
        return results

    results = asyncio.run(main())
    assert results["first"] is results["second"]
    assert results["alive_after_first_left"] is True
    assert results["lost"] == "revoked"
    assert validates(af, key) == 1


def test_a_thread_pool_of_blocks_keeps_its_session_while_any_block_runs(af, make_guard):
    from concurrent.futures import ThreadPoolExecutor

    key = af.create_license()
    guard = make_guard(license_key=key)
    holding = threading.Event()
    release = threading.Event()

    def holder():
        with licensed(guard=guard):
            holding.set()
            release.wait(10)

    def task(n):
        with licensed(guard=guard) as session:
            return session

    keeper = threading.Thread(target=holder)
    keeper.start()
    holding.wait(5)
    with ThreadPoolExecutor(4) as pool:
        sessions = set(pool.map(task, range(86)))
    release.set()
    keeper.join(5)
    assert len(sessions) == 1 and validates(af, key) == 1


@pytest.mark.parametrize("swallow", [True, False])
def test_a_block_that_swallows_the_loss_still_ends_with_it(af, make_guard, swallow):
    """Item 4: a retry loop that catches Exception cannot make the program licensed."""
    key = af.create_license()
    guard = make_guard(license_key=key)
    work = guard.requires_license(lambda: "done")
    caught = []
    with pytest.raises(LicenseLost):
        with licensed(guard=guard) as session:
            af.revoke(key)
            while session.active or len(caught) < 3:
                try:
                    work()
                    threading.Event().wait(0.01)
                except Exception as exc:  # an ordinary retry loop
                    caught.append(type(exc).__name__)
                    if not swallow:
                        raise
    assert caught and set(caught) == {"LicenseLost"}
