"""mypy --strict on a user-style file: the decorators keep parameter and return types."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_mypy(path):
    pytest.importorskip("mypy")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            # No cache written either: the checkout's .mypy_cache is .ci/run's `mypy --strict`,
            # which runs beside the suites, and the 3.9 suite's mypy is another release.
            "--cache-dir",
            os.devnull,
            "--follow-imports=silent",
            "--python-version",
            "3.10",
            str(path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
    )


def test_user_style_file_passes_strict(tmp_path):
    result = run_mypy(ROOT / "examples" / "typed_usage.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_argument_type_is_caught(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from authforge_guard import requires_license\n"
        "@requires_license\n"
        "def area(width: int) -> int:\n"
        "    return width\n"
        "result: str = area('wide')\n"
    )
    result = run_mypy(bad)
    assert result.returncode == 1
    assert 'incompatible type "str"' in result.stdout
    assert 'Incompatible types in assignment (expression has type "int"' in result.stdout


def test_guard_bound_shortcuts_keep_signatures(tmp_path):
    bad = tmp_path / "bad_bound.py"
    bad.write_text(
        "from authforge_guard import Guard\n"
        "guard = Guard(app_id='a', public_key='0wRcYWn44wk9tHOisXgso1wbtUqpFdy0IeMk4HXDiNc=')\n"
        "@guard.requires_license\n"
        "def area(width: int) -> int:\n"
        "    return width\n"
        "@guard.feature('pro')\n"
        "def name(first: str) -> str:\n"
        "    return first\n"
        "result: str = area('wide')\n"
        "other: int = name(3)\n"
    )
    result = run_mypy(bad)
    assert result.returncode == 1
    assert 'Argument 1 to "area" has incompatible type "str"' in result.stdout
    assert 'Argument 1 to "name" has incompatible type "int"' in result.stdout
    assert "Untyped decorator" not in result.stdout
