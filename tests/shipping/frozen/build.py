"""``pyinstaller()``: a plain PyInstaller build, as a vendor runs it, for the frozen-program
tests (``tests/shipping/test_frozen*.py``; each build is a file of its own, so the builds
run on different xdist workers)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def pyinstaller(source: Path, build: Path, mode: str = "--onefile") -> Path:
    """``pyinstaller --onefile SOURCE`` (only where its files go), in ``build``."""
    pytest.importorskip("PyInstaller", reason="the test extra installs pyinstaller")
    build.mkdir(parents=True, exist_ok=True)
    # The suite runs on an editable install, whose import hook PyInstaller cannot read;
    # a vendor's build environment has the package installed normally, as this path does.
    import authforge_guard

    env = {**os.environ, "PYTHONPATH": str(Path(authforge_guard.__file__).parent.parent)}
    result = subprocess.run(
        [sys.executable, "-m", "PyInstaller", mode, "--noconfirm", "--log-level=WARN",
         "--distpath", str(build / "dist"), "--workpath", str(build / "work"),
         "--specpath", str(build), str(source)],
        capture_output=True, text=True, timeout=600, cwd=build, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    name = source.stem + (".exe" if os.name == "nt" else "")
    binary = build / "dist" / (name if mode == "--onefile" else f"{source.stem}/{name}")
    assert binary.exists()
    return binary
