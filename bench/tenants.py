"""Many licenses in one process (issue 13): ``python bench/tenants.py [--tenants N] [--quick]``.

Prints one table:
1. N tenants (distinct keys, ``tg:<n>`` hwids) through ``async with licensed(key,
   hwid_override=...)`` on one Guard: validates on the first pass (goal: one each)
   and on a second pass (goal: 0), and the threads added (goal: +1 at most);
2. memory per live session beyond its signed payload, and what a session holds;
3. entering and leaving ``licensed(key)`` for a live tenant, sync and async, against a
   bare ``contextlib`` no-op block in the same rounds (goal: within 3x);
4. an outage: 100 concurrent requests for one tenant against a closed port, in one
   retry cycle (goal), against the time one request alone takes.

The local server runs in this process on loopback (a child process would measure the
same counts; the times here are the client's, with the server sharing the CPU).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import socket
import statistics
import sys
import threading
import time
import tracemalloc
from typing import Any

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))

from authforge_guard import licensed
from authforge_guard.testing import LocalAuthForge


def ours() -> list[str]:
    """The client's threads (the in-process local server's are not the client's cost)."""
    return sorted(
        t.name
        for t in threading.enumerate()
        if t.name.startswith("authforge") and not t.name.startswith("authforge-server")
    )


def tenants_pass(af: LocalAuthForge, n: int) -> list[tuple[str, str, str]]:
    guard = af.guard(heartbeat="grace", hwid_override=None)
    keys = [af.create_license({"tier": "pro"}, slots=None) for _ in range(n)]

    async def handle(i: int) -> None:
        async with licensed(keys[i], hwid_override=f"tg:{i}", guard=guard):
            pass

    async def all_of_them() -> None:
        for start in range(0, n, 200):  # bursts of 200 concurrent requests
            await asyncio.gather(*(handle(i) for i in range(start, min(n, start + 200))))

    def total_validates() -> int:
        stats = af.stats()["licenses"]
        return sum(stats[k]["validates"] for k in keys)

    threads_before = ours()
    started = time.perf_counter()
    asyncio.run(all_of_them())
    first = time.perf_counter() - started
    after_first = total_validates()
    started = time.perf_counter()
    asyncio.run(all_of_them())
    second = time.perf_counter() - started
    after_second = total_validates()
    threads_after = ours()
    rows = [
        (f"{n} tenants, first pass: validates", str(after_first), f"goal {n} ({first:.1f} s)"),
        ("second pass: validates", str(after_second - after_first), f"goal 0 ({second:.2f} s)"),
        (
            "our threads before / after",
            f"{len(threads_before)} / {len(threads_after)}",
            f"goal +1 at most ({', '.join(threads_after) or 'none'})",
        ),
    ]
    rows += memory_rows(guard)
    guard.logout()
    return rows


def memory_rows(guard: Any) -> list[tuple[str, str, str]]:
    """Bytes per live session, beyond the signed payload text it must keep."""
    entries = list(guard._entries.values())
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    # Rebuild the same sessions from their signed answers, as a login would keep them.
    from authforge_guard._base._clock import Deadline
    from authforge_guard._guard._session import license_end
    from authforge_guard._guard._sessions import Entry
    from authforge_guard._protocol import verify_signed_payload

    trust = guard._engine.trust
    kept = []
    payload_bytes = 0
    for e in entries:
        signed = verify_signed_payload(
            e.signed.payload_b64,
            e.signed.signature,
            e.signed.key_id,
            trust=trust,
            expected_nonce=None,
        )
        fresh = guard._login_flow.new_entry(
            e.slot,
            e.key,
            e.hwid,
            "online",
            signed.license_variables,
            signed.app_variables,
            signed.expires_at,
            license_end(signed.payload),
        )
        fresh.signed = signed
        fresh.deadline = Deadline(signed.expires_at)
        kept.append(fresh)
        payload_bytes += len(signed.payload_b64) + len(signed.signature)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    total = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    count = max(1, len(kept))
    assert all(isinstance(k, Entry) for k in kept)
    per_session = total / count
    beyond = (total - payload_bytes) / count
    return [
        ("memory per live session (all of it)", f"{per_session / 1024:.1f} KiB", ""),
        (
            "memory per live session beyond the signed payload",
            f"{beyond / 1024:.1f} KiB",
            "goal < 4 KiB (decoded payload dict, variables, Session, deadline, entry)",
        ),
    ]


def enter_leave(af: LocalAuthForge, rounds: int, inner: int) -> list[tuple[str, str, str]]:
    guard = af.guard(heartbeat="grace", hwid_override=None)
    key = af.create_license({"tier": "pro"})
    guard.ensure(key, hwid_override="tg:bench")

    def sync_ours() -> float:
        started = time.perf_counter()
        for _ in range(inner):
            with licensed(key, hwid_override="tg:bench", guard=guard):
                pass
        return (time.perf_counter() - started) / inner

    def sync_bare() -> float:
        started = time.perf_counter()
        for _ in range(inner):
            with contextlib.nullcontext():
                pass
        return (time.perf_counter() - started) / inner

    @contextlib.contextmanager
    def noop() -> Any:
        yield

    def sync_generator_cm() -> float:
        started = time.perf_counter()
        for _ in range(inner):
            with noop():
                pass
        return (time.perf_counter() - started) / inner

    async def async_ours() -> float:
        started = time.perf_counter()
        for _ in range(inner):
            async with licensed(key, hwid_override="tg:bench", guard=guard):
                pass
        return (time.perf_counter() - started) / inner

    async def async_bare() -> float:
        started = time.perf_counter()
        for _ in range(inner):
            async with _AsyncNoop():
                pass
        return (time.perf_counter() - started) / inner

    figures: dict[str, list[float]] = {"so": [], "sb": [], "sg": [], "ao": [], "ab": []}
    for _ in range(rounds):
        figures["so"].append(sync_ours())
        figures["sb"].append(sync_bare())
        figures["sg"].append(sync_generator_cm())
        figures["ao"].append(asyncio.run(async_ours()))
        figures["ab"].append(asyncio.run(async_bare()))
    med = {k: statistics.median(v) for k, v in figures.items()}
    guard.logout()
    return [
        (
            "enter+leave licensed(key), live tenant, sync",
            f"{med['so'] * 1e6:.2f} us",
            f"{med['so'] / med['sb']:.1f}x contextlib.nullcontext ({med['sb'] * 1e6:.2f} us), "
            f"{med['so'] / med['sg']:.1f}x a @contextmanager no-op ({med['sg'] * 1e6:.2f} us)",
        ),
        (
            "enter+leave licensed(key), live tenant, async",
            f"{med['ao'] * 1e6:.2f} us",
            f"{med['ao'] / med['ab']:.1f}x a bare async contextlib block "
            f"({med['ab'] * 1e6:.2f} us)",
        ),
    ]


class _AsyncNoop:
    """A bare async no-op block (``contextlib.nullcontext`` is async only from Python 3.10)."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc_info: Any) -> None:
        return None


def outage(af: LocalAuthForge) -> list[tuple[str, str, str]]:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def one_guard() -> Any:
        return af.guard(api_base_url=f"http://127.0.0.1:{port}", hwid_override=None)

    async def burst(count: int) -> float:
        guard = one_guard()
        started = time.perf_counter()

        async def request() -> None:
            with contextlib.suppress(Exception):
                await guard.aensure("OUTAGE-KEY", hwid_override="tg:outage")

        await asyncio.gather(*(request() for _ in range(count)))
        return time.perf_counter() - started

    alone = asyncio.run(burst(1))
    hundred = asyncio.run(burst(100))
    return [
        (
            "outage: 100 concurrent requests for one tenant",
            f"{hundred:.2f} s",
            f"{hundred / alone:.2f}x one request alone ({alone:.2f} s): one retry cycle",
        )
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="a smoke run: figures mean little")
    args = parser.parse_args(argv)
    n = 50 if args.quick else args.tenants
    rows: list[tuple[str, str, str]] = []
    with LocalAuthForge(heartbeat_rate_limit=None) as af:
        rows += tenants_pass(af, n)
        rows += enter_leave(af, rounds=3 if args.quick else 15, inner=200 if args.quick else 5000)
        rows += outage(af)
    width = max(len(r[0]) for r in rows)
    for label, value, note in rows:
        print(f"{label:<{width}}  {value:>12}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
