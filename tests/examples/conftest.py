"""Run the examples as their users do: a child process configured by AUTHFORGE_* variables
that point at a local AuthForge server."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example_env(af, license_key=None, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHFORGE_")}
    env.update(af.environ(license_key))
    env.update(extra)
    return env


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
        out, err = self.process.communicate(timeout=timeout)
        self.lines.extend(out.splitlines())
        return self.process.returncode, err

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
