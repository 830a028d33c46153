"""The attacker of issue 18: the end user of a licensed program. They control the
environment, the clock and the files of their machine, and have the shipped CLI; they do
not edit the vendor's code.

``vendor_program(...)`` writes the vendor's program as its README teaches it today: the
trust and enforcement settings pinned in code, no ``trust_environment``. ``before=True``
writes it the old quick-start way instead (every setting from ``AUTHFORGE_*``, which
``trust_environment=True`` still allows): the control that shows each attack is real.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from authforge_guard.testing import LocalAuthForge

PROGRAM = """\
import json, logging, sys
from authforge_guard import Guard, LicenseError, LicenseLost, has_feature, licensed

logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(message)s")
guard = Guard(**{settings})

try:
    with licensed(guard=guard) as session:
        print(json.dumps({{"tier": session.tier, "kind": session.kind,
                          "enterprise": has_feature("enterprise", guard=guard),
                          "online": guard.settings.online}}), flush=True)
        if {wait}:
            sys.stdin.readline()  # cut short by LicenseLost when the license is revoked
except LicenseLost as exc:
    print(json.dumps({{"lost": exc.code}}), flush=True)
except LicenseError as exc:
    print(json.dumps({{"refused": exc.code}}), flush=True)
"""


@pytest.fixture
def vendor():
    """The vendor's AuthForge app (a local server standing in for the hosted one)."""
    with LocalAuthForge(heartbeat_rate_limit=None) as af:
        yield af


def clean_environment(tmp_path, **variables):
    """This process's environment without AUTHFORGE_*, the cache under ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHFORGE_")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg-cache")
    env.update(variables)
    return env


@pytest.fixture
def vendor_program(vendor, tmp_path):
    """``write(before=False, **code) -> Path``: the vendor's licensed program."""

    def write(*, before=False, wait=False, **code):
        if before:
            settings = {"trust_environment": True, **code}
        else:
            settings = {
                "app_id": vendor.app_id,
                "public_key": vendor.public_key,
                "api_base_url": vendor.url,
                **code,
            }
        path = tmp_path / ("before.py" if before else "program.py")
        path.write_text(PROGRAM.format(settings=repr(settings), wait=wait), encoding="utf-8")
        return path

    return write


def run(program, env, *, stdin=None, timeout=60):
    """Run ``program``: ``(its JSON line, stderr)``."""
    done = subprocess.run(
        [sys.executable, str(program)],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def shipped_cli(*args, env=None, cwd=None):
    """``python -m authforge_guard ARGS``, the CLI that ships in the same package."""
    done = subprocess.run(
        [sys.executable, "-m", "authforge_guard", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def fake_clock(tmp_path, shift_seconds):
    """A PYTHONPATH entry whose ``sitecustomize`` sets this process's wall clock
    ``shift_seconds`` off: what a user does with ``date -s``, for one process."""
    folder = tmp_path / "fake-clock"
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        textwrap.dedent(f"""
        import time
        _real = time.time
        time.time = lambda: _real() + ({shift_seconds!r})
    """),
        encoding="utf-8",
    )
    return str(folder)


def with_pythonpath(env, *entries):
    parts = [*entries, *filter(None, [env.get("PYTHONPATH")])]
    return {**env, "PYTHONPATH": os.pathsep.join(parts)}


ROOT = Path(__file__).resolve().parents[2]
