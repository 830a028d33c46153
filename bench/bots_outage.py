"""A bot during an AuthForge outage (issues 24 and 26): ``python bench/bots_outage.py [--quick]``.

New users keep activating (``UserLicenses.activate``) while the license server
accepts connections and never answers, for ``--hang`` seconds (30 by default).
Side by side in the same run: the application's own job on the loop's default
executor, and a 10 ms sleep of the loop, first with nothing happening (the
baseline), then during the hang. Prints the medians and maxima, and the ratio of
the maxima to the baseline's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))

from authforge_guard import LicenseError, UserLicenses
from authforge_guard.testing import LocalAuthForge

TICK = 0.01


class Hanging:
    """Accepts connections and holds them unanswered until ``release()``."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(conn)

    def release(self) -> None:
        self._listener.close()
        for conn in self._held:
            conn.close()


async def measure(seconds: float, during: asyncio.Future[object] | None = None) -> tuple:
    """Default-executor waits and loop stalls for ``seconds`` (or until ``during`` ends)."""
    loop = asyncio.get_running_loop()
    waits: list[float] = []
    stalls: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        await asyncio.sleep(TICK)
        stalls.append(time.perf_counter() - start - TICK)
        start = time.perf_counter()
        await loop.run_in_executor(None, lambda: None)
        waits.append(time.perf_counter() - start)
    return waits, stalls


async def run(hang: float, users_count: int) -> None:
    with LocalAuthForge(heartbeat_rate_limit=None) as af:
        keys = [af.create_license({"tier": "pro"}) for _ in range(users_count)]
        server = Hanging()
        guard = af.guard(
            api_base_url=server.url,
            hwid_override="bot",
            heartbeat="online",
            request_timeout=hang + 5,
        )
        users = UserLicenses(guard, store=os.path.join(tempfile.mkdtemp(), "users.sqlite3"))
        base_waits, base_stalls = await measure(min(hang, 3.0))

        async def arrive() -> list[asyncio.Task[object]]:
            tasks = []
            for uid, key in enumerate(keys):
                tasks.append(asyncio.ensure_future(users.activate(uid, key)))
                await asyncio.sleep(hang / len(keys))
            return tasks

        arrivals = asyncio.ensure_future(arrive())
        waits, stalls = await measure(hang)
        tasks = await arrivals
        server.release()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        guard.logout()
    kinds = sorted({r.kind if isinstance(r, LicenseError) else type(r).__name__ for r in results})
    ms = 1000.0
    print(f"{users_count} users activating during a {hang:g} s hang; they were told: {kinds}")
    print(f"{'':28}{'median ms':>10}{'p99 ms':>10}{'max ms':>10}{'max / baseline':>16}")
    for name, base, now in (
        ("default executor job", base_waits, waits),
        ("loop stall (10 ms sleep)", base_stalls, stalls),
    ):
        ratio = max(now) / max(max(base), 1e-6)
        p99 = sorted(now)[int(len(now) * 0.99)]
        print(
            f"{name:28}{statistics.median(now) * ms:>10.1f}{p99 * ms:>10.1f}"
            f"{max(now) * ms:>10.1f}{ratio:>16.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hang", type=float, default=30.0)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="a 2 s hang, 8 users")
    args = parser.parse_args()
    if args.quick:
        args.hang, args.users = 2.0, 8
    asyncio.run(run(args.hang, args.users))


if __name__ == "__main__":
    main()
