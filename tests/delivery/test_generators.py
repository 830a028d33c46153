"""Issue 12, item 8: a licensed generator checks its license at every resume, and an async
generator never logs in on the event loop."""

import asyncio
import threading

import pytest

from authforge_guard import LicenseLost, licensed
from authforge_guard._delivery._blocks import current_block
from tests.support.fault_proxy import Fault


def test_a_licensed_generator_stops_at_the_first_resume_after_a_loss(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key)

    @guard.requires_license
    def rows():
        n = 0
        while True:
            yield n
            n += 1

    got = []
    with pytest.raises(LicenseLost):
        with licensed(guard=guard) as session:
            for row in rows():
                got.append(row)
                if row == 3:
                    af.revoke(key)
                    while session.active:
                        try:
                            threading.Event().wait(0.01)
                        except LicenseLost:
                            pass  # swallowed here: the generator's next resume raises again
    assert got == [0, 1, 2, 3]


def test_a_generator_passes_send_throw_and_return_through(af, make_guard):
    guard = make_guard(license_key=af.create_license())

    @guard.requires_license
    def echo():
        received = yield "ready"
        try:
            while True:
                received = yield received * 2
        except KeyError:
            yield "handled"
        return "finished"

    gen = echo()
    assert next(gen) == "ready"
    assert gen.send(2) == 4
    assert gen.throw(KeyError("x")) == "handled"
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == "finished"


def test_an_async_generator_logs_in_off_the_event_loop(af, proxy, make_guard):
    # The proxy holds the login until the loop itself lets it go, once it has seen it
    # arrive: a login on the loop's thread would block the loop, which could then not
    # release it (only the hang guard, a timer thread, would). No timing is measured.
    guard = make_guard(license_key=af.create_license(), api_base_url=proxy.url, request_timeout=60)
    release = threading.Event()
    proxy.arm(Fault.hold(release), path="/auth/validate")
    hang_guard = threading.Timer(60, release.set)
    hang_guard.start()

    @guard.requires_license
    async def ticks():
        for n in range(3):
            yield n

    async def main():
        async def consume():
            return [n async for n in ticks()]

        task = asyncio.ensure_future(consume())
        released_by_the_loop = False
        try:
            while not proxy.requests and not release.is_set():
                await asyncio.sleep(0.01)  # the loop runs while the login waits
            released_by_the_loop = not release.is_set()
        finally:
            release.set()
        return await task, released_by_the_loop

    try:
        values, released_by_the_loop = asyncio.run(main())
    finally:
        hang_guard.cancel()
    assert values == [0, 1, 2]
    assert released_by_the_loop, "the login blocked the event loop"


def test_an_async_generator_stops_after_a_loss(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key)

    @guard.requires_license
    async def ticks():
        n = 0
        while True:
            yield n
            n += 1

    async def main():
        got = []
        try:
            async with licensed(guard=guard) as session:
                async for n in ticks():
                    got.append(n)
                    if n == 2:
                        af.revoke(key)
                        while session.active:
                            try:
                                await asyncio.sleep(0.01)
                            except asyncio.CancelledError:
                                pass  # swallowed: the next resume raises anyway
        except LicenseLost as exc:
            got.append(exc.code)
        return got

    assert asyncio.run(asyncio.wait_for(main(), 20)) == [0, 1, 2, "revoked"]


def test_a_generator_suspended_in_its_block_keeps_it_after_the_block_around_it(af, make_guard):
    # A generator advanced inside a block opens its own block and yields from inside it
    # (generators run in their caller's context, so that block is the current one). The
    # block around it then ends normally: the generator's block is still open, and a loss
    # of its session must still reach it; it ends when the generator goes on.
    guard = make_guard(license_key=af.create_license())
    own = af.create_license()

    def gen():
        with licensed(own, guard=guard):
            yield current_block()
            yield "resumed"

    with licensed(guard=guard):
        stream = gen()
        inner = next(stream)
    assert inner.active, "the generator's own block was ended under it"
    assert next(stream) == "resumed"
    stream.close()
    assert not inner.active
    # Closed after the block around it: what is current is what was before that block,
    # not that block, which has left (a later guarded call would use its guard and key).
    assert current_block() is None
