"""Replicas sharing licenses (issue 17): ``python bench/fleet.py [--quick]``.

Prints one table, for 1, 2 and 4 replicas (each a Guard with its own store
connection, as each worker process has), without a store, with the file store and
with Redis (when ``redis-server`` and the ``redis`` package are here):

1. validations per tenant when every replica serves every tenant (grace mode);
2. heartbeats per tenant per interval in online mode, after start-up;
3. revocation fan-out: from the first replica that loses the session to the last.

Counts come from the local server's own statistics; the fan-out is a time (median
of a few rounds). The local server runs in this process on loopback.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))

from authforge_guard import Guard, licensed
from authforge_guard.testing import LocalAuthForge

Row = tuple[str, str, str]


def _replicas(af: LocalAuthForge, n: int, store: str | None, **options: Any) -> list[Guard]:
    if store is not None:
        options["session_store"] = store
    return [af.guard(**options) for _ in range(n)]


def _count(af: LocalAuthForge, keys: list[str], field: str) -> int:
    licenses = af.stats()["licenses"]
    return sum(licenses[key][field] for key in keys)


def _serve(guard: Guard, key: str, hwid: str) -> bool:
    with licensed(key, hwid_override=hwid, guard=guard) as session:
        return session.active


def validations(af: LocalAuthForge, store: str | None, n: int, tenants: int) -> float:
    pairs = [(af.create_license(), f"tg:{i}") for i in range(tenants)]
    guards = _replicas(af, n, store, heartbeat="grace")
    jobs = [(g, key, hwid) for key, hwid in pairs for g in guards]
    with ThreadPoolExecutor(16) as pool:
        assert all(pool.map(lambda job: _serve(*job), jobs))
    for guard in guards:
        guard.logout()
    return _count(af, [key for key, _ in pairs], "validates") / tenants


def heartbeats(
    af: LocalAuthForge, store: str | None, n: int, tenants: int, intervals: int
) -> float:
    interval = 0.5
    pairs = [(af.create_license(), f"tg:{i}") for i in range(tenants)]
    guards = _replicas(af, n, store, heartbeat="online", heartbeat_interval=interval)
    for key, hwid in pairs:
        for guard in guards:
            guard.ensure(key, hwid_override=hwid)
    keys = [key for key, _ in pairs]
    before = _count(af, keys, "heartbeats")
    time.sleep(interval * intervals)
    sent = _count(af, keys, "heartbeats") - before
    for guard in guards:
        guard.logout()
    return sent / tenants / intervals


def _fan_out_once(af: LocalAuthForge, store: str, interval: float) -> float:
    key = af.create_license()
    guards = _replicas(
        af, 4, store, heartbeat="online", heartbeat_interval=interval, interrupt=False
    )
    ended: list[float] = []
    done = threading.Event()

    def on_lost(_event: Any) -> None:
        ended.append(time.perf_counter())
        if len(ended) == len(guards):
            done.set()

    for guard in guards:
        guard.on_lost(on_lost)
        guard.ensure(key, hwid_override="tg:revoked")
    af.revoke(key)
    assert done.wait(30), "the revocation did not reach every replica"
    for guard in guards:
        guard.logout()
    return (max(ended) - min(ended)) * 1000.0


def fan_out(af: LocalAuthForge, store: str, rounds: int, interval: float) -> float:
    return statistics.median(_fan_out_once(af, store, interval) for _ in range(rounds))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: figures mean little")
    args = parser.parse_args(argv)
    tenants, online_tenants = (20, 5) if args.quick else (200, 20)
    # A quick run (the test suite's) waits one heartbeat interval per row, not ten.
    intervals, rounds, fan_out_interval = (1, 1, 0.5) if args.quick else (10, 5, 2.0)
    rows: list[Row] = []
    folder = tempfile.mkdtemp(prefix="authforge-fleet-")
    redis_server = _start_redis()
    stores: list[tuple[str, str | None]] = [("no store", None), ("file store", folder)]
    if redis_server is not None:
        stores.append(("Redis", redis_server.url))
    try:
        with LocalAuthForge(heartbeat_rate_limit=None) as af:
            for name, store in stores:
                for n in (1, 2, 4):
                    v = validations(af, store, n, tenants)
                    rows.append((f"{name}, {n} replica(s)", f"{v:.2f}", "validations per tenant"))
                for n in (1, 2, 4):
                    h = heartbeats(af, store, n, online_tenants, intervals)
                    label = f"{name}, {n} replica(s)"
                    rows.append((label, f"{h:.2f}", "heartbeats per tenant per interval"))
            for name, store in stores[1:]:
                assert store is not None
                ms = fan_out(af, store, rounds, fan_out_interval)
                rows.append((f"{name}, 4 replicas", f"{ms:.1f} ms", "revocation fan-out (median)"))
    finally:
        if redis_server is not None:
            redis_server.close()
        shutil.rmtree(folder, ignore_errors=True)
    width = max(len(r[0]) for r in rows)
    for label, value, note in rows:
        print(f"{label:<{width}}  {value:>10}  {note}")
    if redis_server is None:
        print("(no Redis rows: redis-server or the redis package is missing)")
    return 0


def _start_redis() -> Any:
    from tests.support.redis_server import RedisServer, missing_reason

    if missing_reason():
        return None
    return RedisServer().start()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
