"""Issue 22: the two packages whose imports the library defers (borrowed internals, see
CONTRIBUTING) stay deferred in a program frozen with PyInstaller. A file of its own (not in
``test_frozen.py``): each build then runs on another xdist worker, at the start of the run."""

from __future__ import annotations

import subprocess

import pytest

from tests.shipping.frozen.build import pyinstaller

# A build takes one to two minutes on two busy cores: more than the suite's per-test limit.
pytestmark = [pytest.mark.build, pytest.mark.timeout(900)]

PROBE = """
import sys
from authforge_guard import requires_license
from authforge_guard._transport._http import Transport

@requires_license
def job():
    return 1

print("asyncio" in sys.modules)  # wrapt's whole package (and asyncio) not loaded yet
Transport("http://127.0.0.1:9")._opener()  # urllib3 loaded, a pool built
print("importlib.metadata" in sys.modules)  # urllib3.http2's __init__ not run
import wrapt

print(isinstance(job, wrapt.FunctionWrapper))
"""


def test_a_pyinstaller_build_still_defers_wrapt_and_urllib3_http2(tmp_path):
    # The two deferred packages (borrowed internals, see CONTRIBUTING) in a frozen program:
    # decorating loads only wrapt's wrapper type, and the whole wrapt still works; urllib3
    # loads without urllib3.http2's __init__ (issue 22: its submodules were looked for as
    # files, not in the archive, and importlib.metadata, zipfile, email... ran every time).
    source = tmp_path / "probe.py"
    source.write_text(PROBE)
    binary = pyinstaller(source, tmp_path / "build", "--onedir")
    result = subprocess.run([str(binary)], capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["False", "False", "True"], result.stdout + result.stderr
