"""Issue 12, item 2, as users run it: gunicorn with --preload forks four workers after the
master logged in; a burst of requests is served without one protocol error."""

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import urllib3

pytestmark = pytest.mark.skipif(
    shutil.which("gunicorn", path=os.path.dirname(sys.executable)) is None,
    reason="gunicorn is not installed",
)

APP = textwrap.dedent("""
    from flask import Flask
    from authforge_guard import configure, requires_license

    guard = configure(trust_environment=True, heartbeat="online", heartbeat_interval=0.5,
                      hwid_override="prefork")
    guard.ensure()  # --preload: the master logs in, then forks its workers

    app = Flask(__name__)

    @app.get("/")
    @requires_license
    def index():
        return {"tier": guard.session.tier if guard.session else None}
""")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_gunicorn_preload_workers_serve_a_burst_cleanly(af, tmp_path):
    key = af.create_license({"tier": "pro"}, slots=None)
    (tmp_path / "prefork_app.py").write_text(APP)
    port = free_port()
    env = {**os.environ, **af.environ(key)}
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    server = subprocess.Popen(
        [gunicorn, "-w", "4", "--preload", "-b", f"127.0.0.1:{port}", "prefork_app:app"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    http = urllib3.PoolManager(maxsize=16)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if http.request("GET", f"http://127.0.0.1:{port}/", retries=False).status:
                    break
            except urllib3.exceptions.HTTPError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.1)

        def get(_):
            answer = http.request("GET", f"http://127.0.0.1:{port}/", retries=False)
            return answer.status, answer.json()

        with ThreadPoolExecutor(16) as pool:
            for _ in range(2):  # two bursts: the second after the workers' heartbeats began
                results = list(pool.map(get, range(64)))
                assert results == [(200, {"tier": "pro"})] * 64
                time.sleep(0.6)
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
        http.clear()
    for protocol_error in ("malformed_request", "nonce_mismatch", "method_not_allowed"):
        assert protocol_error not in err
