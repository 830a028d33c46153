"""Run the examples as their users do: a child process configured by AUTHFORGE_* variables
that point at a local AuthForge server."""

import atexit
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example_env(af, license_key=None, *, app=None, **extra):
    """The environment an example runs in: the user's ``AUTHFORGE_*`` settings (key, secret,
    ...), and on ``PYTHONPATH`` the ``authforge_app`` module the examples import their
    pinned trust settings from, generated for ``af`` (``app`` overrides its constants)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHFORGE_")}
    env.update(af.environ(license_key))
    env.update(extra)
    folder = app_module(af, **(app or {}))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [folder, env.get("PYTHONPATH")]))
    return env


_GENERATED = Path(tempfile.mkdtemp(prefix="authforge-app-"))
atexit.register(shutil.rmtree, _GENERATED, True)


def app_module(af, **constants):
    """A folder holding ``authforge_app.py``: the app ``af`` serves, as Python constants
    (what a vendor writes once with their real values; see examples/README.md)."""
    values = {"APP_ID": af.app_id, "PUBLIC_KEY": af.public_key, "API_URL": af.url, **constants}
    text = "".join(f"{name} = {value!r}\n" for name, value in values.items())
    folder = _GENERATED / hashlib.sha256(text.encode()).hexdigest()[:16]
    folder.mkdir(exist_ok=True)
    (folder / "authforge_app.py").write_text(text, encoding="utf-8")
    return str(folder)


def run_example(name, *args, env, timeout=60, cwd=None):
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


class Running:
    """A long-running example: read its output line by line, then wait for it to end."""

    def __init__(self, name, *args, env):
        self.process = subprocess.Popen(
            [sys.executable, str(EXAMPLES / name), *map(str, args)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines = []

    def read_until(self, predicate):
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if predicate(self.lines[-1]):
                return self.lines[-1]
        raise AssertionError(f"the example ended first: {self.lines} {self.process.stderr.read()}")

    def finish(self, timeout=20):
        """Wait for the end; the rest of its output joins ``lines``. Read through the same
        file objects: ``communicate()`` reads the pipes' descriptors and would skip what
        ``read_until`` had already buffered (lines the example printed meanwhile)."""
        rest = {}

        def drain(name):
            rest[name] = getattr(self.process, name).read()

        readers = [threading.Thread(target=drain, args=(n,)) for n in ("stdout", "stderr")]
        for reader in readers:
            reader.start()
        self.process.wait(timeout)
        for reader in readers:
            reader.join(timeout)
        self.process.stdout.close()
        self.process.stderr.close()
        self.lines.extend(rest["stdout"].splitlines())
        return self.process.returncode, rest["stderr"]

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


@pytest.fixture
def start_example():
    started = []

    def start(name, *args, env):
        running = Running(name, *args, env=env)
        started.append(running)
        return running

    yield start
    for running in started:
        running.kill()
