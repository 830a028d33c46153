"""Run a scenario of the suite against another release of a package we borrow internals
from (CONTRIBUTING, "Borrowed internals"): the oldest release ``setup.cfg`` accepts and the
newest one the registry has.

``installed(...)`` puts exactly the requirements given in a folder of their own with
``pip install --target --no-deps`` (their own dependencies come from the test environment);
``run_tests(folder, ...)`` runs some of the suite's tests in a fresh pytest process with that
folder first on ``sys.path``, so the release in it is the one every import sees, in that
process and in the subprocesses its tests start. Installed folders are kept in
``~/.cache/authforge-guard/versions`` (``AUTHFORGE_VERSIONS_CACHE`` to move it): a pinned
release for good, the newest release for a day.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(
    os.environ.get("AUTHFORGE_VERSIONS_CACHE")
    or Path.home() / ".cache" / "authforge-guard" / "versions"
)


def installed(*requirements: str) -> Path:
    """A folder holding ``requirements`` (and nothing else), installed for this Python."""
    pinned = all("==" in requirement for requirement in requirements)
    key = " ".join(sorted(requirements)) + f" py{sys.version_info[0]}.{sys.version_info[1]}"
    if not pinned:  # "the newest release": looked up again the next day
        key += " " + datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    slug = re.sub(r"[^A-Za-z0-9.=-]+", "_", " ".join(requirements))[:60]
    folder = CACHE / f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    if (folder / ".complete").exists():
        return folder
    CACHE.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=CACHE))
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--no-compile", "--target", str(building), *requirements],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if result.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        pytest.fail(f"pip could not install {requirements}:\n{result.stderr[-2000:]}")
    (building / ".complete").write_text(key)
    try:
        building.rename(folder)
    except OSError:  # another run finished the same folder first: use that one
        shutil.rmtree(building, ignore_errors=True)
    return folder


def release(*requirements: str) -> Path:
    """``installed(*requirements)``, checked: a process with that folder first on its path
    imports the release the first requirement names (its pin, or one within its range).

    The newest releases (no pin) skip the test when they are the very releases this
    environment runs: the suite's own run of the scenario's files is then that check, and
    repeating it in a fresh pytest process only costs CI time (a fresh CI venv holds the
    newest releases). Another release, newer or older, runs."""
    folder = installed(*requirements)
    name = _name(requirements[0])
    version = version_in(folder, name)
    if "==" in requirements[0]:
        assert version == requirements[0].split("==", 1)[1], (requirements, version)
    else:
        assert version[:1].isdigit(), (requirements, version)
        _skip_if_this_environment_runs(folder, requirements)
    return folder


def _name(requirement: str) -> str:
    return re.split(r"[=<>!~\[]", requirement, maxsplit=1)[0].strip()


def _skip_if_this_environment_runs(folder: Path, requirements: tuple[str, ...]) -> None:
    import importlib.metadata

    names = [_name(requirement) for requirement in requirements]
    try:
        here = {name: importlib.metadata.version(name) for name in names}
    except importlib.metadata.PackageNotFoundError:
        return
    if {name: version_in(folder, name) for name in names} == here:
        releases = ", ".join(f"{name} {version}" for name, version in here.items())
        pytest.skip(f"the newest ({releases}) is what this suite runs on: its own run checks it")


def version_in(folder: Path, distribution: str) -> str:
    """The version of ``distribution`` as a process with ``folder`` first on its path sees it."""
    code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    return subprocess.run(
        [sys.executable, "-c", code], env=_env(folder), capture_output=True, text=True,
        check=True, timeout=60,
    ).stdout.strip()  # fmt: skip


def run_tests(folder: Path, *args: str) -> str:
    """Run ``pytest args`` (paths under the repository, ``-k``...) with ``folder`` first on
    ``sys.path``; every selected test must pass. Returns pytest's summary line."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "0", "-q", "-p", "no:randomly", *args],
        env=_env(folder), cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\d+ passed", summary) and "skipped" not in summary, summary
    return summary


def _env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), str(ROOT)]))
    return env
