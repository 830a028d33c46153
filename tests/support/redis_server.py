"""A real ``redis-server`` for tests: a free loopback port, its data in a temporary folder.

``RedisServer`` starts one process and can stop and start it again on the same
port (an outage in the middle of a test). Tests that need it get the
session-scoped ``redis_server`` fixture (``tests/stores/conftest.py``), which
skips with the reason when ``redis-server`` or the ``redis`` package is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def missing_reason() -> str | None:
    """Why a real Redis cannot be used here, or ``None``."""
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (apt-get install redis-server)"
    try:
        import redis  # noqa: F401
    except ImportError:
        return 'the redis package is not installed (pip install "authforge-guard[redis]")'
    return None


def _end_with_this_process() -> None:
    """In the child, before ``exec``: on Linux, ask for SIGTERM when the test process dies.

    A test process that ends without its fixtures' teardown (an xdist worker killed, a
    crash) must not leave its ``redis-server`` running. Elsewhere nothing is asked.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)


class RedisServer:
    """One ``redis-server`` on ``127.0.0.1:<port>``, no persistence, data in ``directory``."""

    def __init__(self, directory: str | None = None) -> None:
        self._own_directory = directory is None
        self.directory = directory or tempfile.mkdtemp(prefix="authforge-redis-")
        os.makedirs(self.directory, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        args = [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            self.directory,
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ]
        log = open(os.path.join(self.directory, "redis.log"), "ab")
        try:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_end_with_this_process
            )
        finally:
            log.close()
        self._wait_until_answering()
        return self

    def _wait_until_answering(self, timeout: float = 10.0) -> None:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while True:
                assert self.process is not None and self.process.poll() is None, (
                    "redis-server exited; see " + os.path.join(self.directory, "redis.log")
                )
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, OSError):
                    if time.monotonic() > deadline:
                        raise
                time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def flush(self) -> None:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)
        try:
            client.flushall()
        finally:
            client.close()

    def close(self) -> None:
        self.stop()
        if self._own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)
