"""Every entry point imports first, in a fresh interpreter, whatever was imported before.

A circular import between ``_exceptions`` and ``_protocol`` once made
``from authforge_guard import AuthForgeError`` fail in a new process while the
test suite, which happened to import ``_protocol`` first, stayed green.
"""

import subprocess
import sys

import pytest

FIRST_IMPORTS = [
    "from authforge_guard import AuthForgeError; AuthForgeError('revoked').fatal",
    "from authforge_guard import LicenseError, ConfigurationError",
    "import authforge_guard._exceptions",
    "from authforge_guard._protocol import judge_signed_response",
    "from authforge_guard import verify_license_file, is_transient_error",
]


@pytest.mark.parametrize("statement", FIRST_IMPORTS)
def test_imports_first_in_a_fresh_interpreter(statement):
    result = subprocess.run(
        [sys.executable, "-c", statement], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
