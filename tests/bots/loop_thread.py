"""A bot's event loop on a thread of its own, as ``start_polling`` runs it in production."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Iterator
from typing import Callable

Serve = Callable[[Callable[[], None], asyncio.Event], Awaitable[None]]


@contextlib.contextmanager
def serving_on_a_thread(serve: Serve) -> Iterator[asyncio.AbstractEventLoop]:
    """Run ``serve(ready, stop)`` on a new loop in a daemon thread: it calls ``ready()`` once
    it polls, and returns after ``stop`` is set. Yields the loop; at the end sets ``stop``
    and checks that the thread ended."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stops: list[asyncio.Event] = []

    async def main() -> None:
        stop = asyncio.Event()  # made on its loop (Python 3.9 binds it at creation)
        stops.append(stop)
        await serve(ready.set, stop)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(30)
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(stops[0].set)
        thread.join(30)
        assert not thread.is_alive()
        loop.close()
