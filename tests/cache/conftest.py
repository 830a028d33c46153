"""Helpers for the session-cache tests: a guarded CLI run as a real process, cache entries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from authforge_guard._protocol._encoding import b64decode, b64encode, compact_json

from ..security.conftest import fake_clock, with_pythonpath

# A user's licensed command-line tool: configured by AUTHFORGE_* variables (trusted, as in
# development), the cache
# directory on its command line, the license's tier on stdout, the refusal code on failure.
CLI_SCRIPT = """\
import logging, sys
from authforge_guard import Guard, LicenseError, requires_license

logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(message)s")
logging.getLogger("authforge_guard").setLevel(logging.DEBUG)
guard = Guard(session_cache=sys.argv[1], trust_environment=True)

@requires_license(guard=guard)
def main():
    print("tier", guard.session.tier)

try:
    main()
except LicenseError as exc:
    print("error", exc.code)
    sys.exit(3)
"""


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def cli(af, tmp_path, cache_dir):
    """``cli(key, heartbeat="grace", hwid="machine-a", cache=cache_dir) -> Run``: one start
    of the guarded tool in a new Python process, against ``af``."""
    script = tmp_path / "licensed_cli.py"
    script.write_text(CLI_SCRIPT)

    def run(key, *, heartbeat="grace", hwid="machine-a", cache=None, clock_shift=0.0):
        env = dict(os.environ)
        env.update(
            **af.environ(key),
            AUTHFORGE_HWID_OVERRIDE=hwid,
            AUTHFORGE_HEARTBEAT=heartbeat,
        )
        if clock_shift:  # the child's wall clock moved, as ``date -s`` would move it
            env = with_pythonpath(env, fake_clock(tmp_path, clock_shift))
        done = subprocess.run(
            [sys.executable, str(script), str(cache if cache is not None else cache_dir)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return Run(done.returncode, done.stdout.strip(), done.stderr)

    return run


def the_entry(directory) -> Path:
    """The one cache entry in ``directory``."""
    entries = sorted(Path(directory).glob("*.session"))
    assert len(entries) == 1, entries
    return entries[0]


def read_entry(path) -> dict:
    return json.loads(Path(path).read_text())


def payload_of(entry: dict) -> dict:
    return json.loads(b64decode(entry["payload"]))


def forge(path, *, license_variables=None, signing_key=None) -> None:
    """Rewrite the entry at ``path`` by hand: new variables inside the payload, re-encoded;
    the old signature kept, or a new one by ``signing_key``."""
    entry = read_entry(path)
    payload = payload_of(entry)
    if license_variables is not None:
        payload["licenseVariables"] = license_variables
    entry["payload"] = b64encode(compact_json(payload).encode("utf-8"))
    if signing_key is not None:
        entry["signature"] = signing_key.sign(entry["payload"])
        entry["keyId"] = signing_key.key_id
    Path(path).write_text(json.dumps(entry))


def counts(af, key):
    stats = af.stats()["licenses"][key]
    return stats["validates"], stats["heartbeats"]
