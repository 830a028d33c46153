"""The local server under hostile clients: ``python bench/slow_clients.py [--root DIR]``.

Starts ``authforge-guard server`` (the code under ``--root``, default this
checkout) in a child process and prints, as JSON:

1. its threads and RSS when idle, and with ``--slow`` connections (default
   2,000) open that drip one header byte now and then and never finish;
2. the latency of legitimate validates (a pooled urllib3 POST, a fresh
   connection each) while those connections are open;
3. how much the database (file + WAL) grows over ``--invalid`` (default 5,000)
   validates with an unknown license key.

``--root`` lets the same script measure another checkout (before/after).
Loopback only; the child and every socket are closed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))


def proc_status(pid: int) -> dict[str, float]:
    """Threads and RSS (MiB) of process ``pid``, from /proc."""
    figures: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name == "Threads":
                figures["threads"] = int(value)
            elif name == "VmRSS":
                figures["rss_mib"] = round(int(value.split()[0]) / 1024, 1)
    return figures


def db_bytes(path: str) -> int:
    return sum(
        os.path.getsize(path + suffix)
        for suffix in ("", "-wal", "-shm")
        if os.path.exists(path + suffix)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default=os.path.dirname(HERE))
    parser.add_argument("--slow", type=int, default=2000)
    parser.add_argument("--invalid", type=int, default=5000)
    args = parser.parse_args()

    import urllib3

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.slow + 256
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    folder = tempfile.mkdtemp(prefix="af-slow-")
    db = os.path.join(folder, "bench.sqlite3")
    env = dict(os.environ, PYTHONPATH=args.root)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "authforge_guard",
            "server",
            "--db",
            db,
            "--port",
            "0",
            "--show-credentials",
        ],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard)),
    )
    result: dict[str, Any] = {"root": args.root}
    slow: list[socket.socket] = []
    try:
        assert server.stdout is not None
        lines = [server.stdout.readline().strip() for _ in range(5)]
        url = lines[0].rsplit(" ", 1)[1]
        app_id = lines[2].split(": ", 1)[1]
        secret = lines[3].split(": ", 1)[1]
        port = int(url.rsplit(":", 1)[1])
        made = subprocess.run(
            [
                sys.executable,
                "-m",
                "authforge_guard",
                "admin",
                "--db",
                db,
                "--json",
                "license",
                "create",
                "--slots",
                "0",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        key = json.loads(made.stdout)["license_keys"][0]
        pool = urllib3.PoolManager(
            maxsize=4, retries=False, timeout=urllib3.Timeout(connect=30, read=30)
        )

        def validate(license_key: str, fresh: bool) -> int:
            body = {
                "appId": app_id,
                "appSecret": secret,
                "licenseKey": license_key,
                "hwid": "bench-machine",
                "nonce": os.urandom(16).hex(),
            }
            headers = {"Content-Type": "application/json"}
            if fresh:
                headers["Connection"] = "close"
            answer = pool.request(
                "POST", url + "/auth/validate", body=json.dumps(body), headers=headers
            )
            return int(answer.status)

        assert validate(key, True) == 200
        result["idle"] = proc_status(server.pid)

        started = time.monotonic()
        for _ in range(args.slow):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(b"POST /auth/validate HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            slow.append(sock)
        result["slow_opened_seconds"] = round(time.monotonic() - started, 2)
        for sock in slow:  # one more byte each: they are "alive"
            with contextlib.suppress(OSError):
                sock.sendall(b"X")
        time.sleep(1.0)
        result["with_slow"] = proc_status(server.pid)
        latencies = []
        statuses = []
        for _ in range(10):
            began = time.perf_counter()
            try:
                statuses.append(validate(key, True))
            except Exception as exc:  # a timeout is the "before" figure
                statuses.append(type(exc).__name__)
            latencies.append(time.perf_counter() - began)
        result["legit_validate_with_slow"] = {
            "statuses": sorted(set(map(str, statuses))),
            "median_ms": round(statistics.median(latencies) * 1000, 1),
            "max_ms": round(max(latencies) * 1000, 1),
        }
        result["slow_still_open_seconds_after_open"] = round(time.monotonic() - started, 1)
        for sock in slow:
            sock.close()
        slow.clear()

        before = db_bytes(db)
        file_before = os.path.getsize(db)
        for _ in range(args.invalid):
            validate("NOPE-NOPE-NOPE-NOPE", False)
        result["invalid_key_validates"] = args.invalid
        result["db_growth_bytes"] = db_bytes(db) - before
        result["db_file_growth_bytes"] = os.path.getsize(db) - file_before
        result["db_bytes_after"] = {
            suffix or "db": os.path.getsize(db + suffix)
            for suffix in ("", "-wal", "-shm")
            if os.path.exists(db + suffix)
        }
    finally:
        for sock in slow:
            sock.close()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
