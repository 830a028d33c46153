"""Fixtures of the desktop tests: a real X server (Xvfb) for Tk and Qt windows, and the
test apps run in child processes as their users run them."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

APPS = Path(__file__).resolve().parent / "apps"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def display():
    """``:N`` of an Xvfb started for this session (skips where Xvfb is not installed)."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (.ci/apt/desktop.txt lists it)")
    read_fd, write_fd = os.pipe()
    # -displayfd: Xvfb picks a free display and writes its number when it is ready.
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-nolisten", "tcp", "-screen", "0", "1024x768x24"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as ready:
        number = ready.readline().strip()
    if not number:
        server.kill()
        server.wait()
        pytest.skip("Xvfb did not start")
    try:
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


class App:
    """A test app in a child process: its JSON event lines, read as they come."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.started = time.time()
        self.process = subprocess.Popen(
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=str(ROOT),
        )
        self.events: list[dict] = []
        self.stderr = ""
        self._new = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._err_reader = threading.Thread(target=self._read_err, daemon=True)
        self._err_reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "output", "line": line.rstrip("\n"), "t": time.time()}
            with self._new:
                self.events.append(event)
                self._new.notify_all()
        with self._new:
            self._new.notify_all()

    def _read_err(self) -> None:
        assert self.process.stderr is not None
        self.stderr = self.process.stderr.read()

    def wait_event(self, name: str, timeout: float = 60.0) -> dict:
        """The first event called ``name`` (waiting for it); fails if the app ends first."""
        deadline = time.monotonic() + timeout
        with self._new:
            while True:
                for event in self.events:
                    if event["event"] == name:
                        return event
                if not self._reader.is_alive():
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._new.wait(min(left, 1.0))
        self.kill()
        raise AssertionError(f"no {name!r} event: {self.names()} stderr: {self.stderr}")

    def names(self) -> list[str]:
        return [e["event"] for e in self.events]

    def finish(self, timeout: float = 60.0) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the app did not end: {self.names()}") from None
        self._reader.join(10)
        self._err_reader.join(10)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def close(self) -> None:
        self.kill()
        self._reader.join(10)
        self._err_reader.join(10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def run_app(af, display, tmp_path):
    """``run_app(script, key, **APP_vars)``: start ``apps/<script>`` (or an example) with
    the AUTHFORGE_* variables of ``af``, its own config folder, on the test's X server."""
    started: list[App] = []

    def run(
        script: str | Path, license_key: str | None, *, environ=None, args=(), **app_vars
    ) -> App:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTHFORGE_", "APP_"))}
        env.update(af.environ(license_key))
        env.update(
            DISPLAY=display,
            XDG_CONFIG_HOME=str(tmp_path / "config"),
            HOME=str(tmp_path),
            APP_SAVE_PATH=str(tmp_path / "saved.txt"),
            AUTHFORGE_HEARTBEAT="online",
            # DESKTOP_HEARTBEAT: the interval for a measurement run (the report's figures).
            AUTHFORGE_HEARTBEAT_INTERVAL=os.environ.get("DESKTOP_HEARTBEAT", "0.5"),
            AUTHFORGE_HWID_OVERRIDE="desktop-test",
            PYTHONUNBUFFERED="1",
        )
        env.update({f"APP_{k.upper()}": str(v) for k, v in app_vars.items()})
        if environ:
            env.update(environ)
        if isinstance(script, str) and ":" in script:  # "qt_app.py:PyQt6": the binding
            script, env["APP_QT"] = script.split(":", 1)
        path = Path(script) if Path(script).is_absolute() else APPS / script
        app = App([sys.executable, str(path), *args], env)
        started.append(app)
        return app

    yield run
    for app in started:
        app.close()


@pytest.fixture
def silent_server():
    """An https URL whose server accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for conn in accepted:
            conn.close()
        listener.close()
