"""mypy --strict on a user-style file: the decorators keep parameter and return types."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_mypy(path):
    pytest.importorskip("mypy")
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--follow-imports=silent",
         "--python-version", "3.10", str(path)],
        capture_output=True, text=True, cwd=ROOT, timeout=240,
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
