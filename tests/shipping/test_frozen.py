"""Issue 22: a licensed program frozen with a plain ``pyinstaller --onefile`` works on a
customer's machine: no extra flags at build time, and at run time no Python, no venv and
no ``AUTHFORGE_*`` settings but the license key (``env -i``).

The program (``frozen/wordcount.py``) pins its settings in code, as a shipped program
does; the build writes them for this test's local server. The cases (``frozen/customer``)
are the customer's: help without a license, no key yet, a good key, a revoked key, a bad
key, ``activate`` (refused, then good, then running on the stored key), and the server
unreachable. ``bench/freeze.py`` runs the same cases on a Nuitka build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from authforge_guard.testing import LocalAuthForge
from tests.shipping.frozen.customer import Customer, run_cases, run_unreachable, write_source

# A build takes one to two minutes on two busy cores: more than the suite's per-test limit.
pytestmark = [pytest.mark.build, pytest.mark.timeout(900)]


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


@pytest.mark.skipif(shutil.which("env") is None, reason="needs env -i")
def test_a_plain_pyinstaller_onefile_build_serves_every_customer_case(tmp_path):
    with LocalAuthForge(heartbeat_rate_limit=None) as af:
        source = write_source(tmp_path / "src", af)
        customer = Customer(pyinstaller(source, tmp_path / "build"), tmp_path / "home")
        run_cases(customer, af)
    run_unreachable(customer)  # the server is gone: the stored key cannot be checked
    assert not customer.problems, "\n\n".join(customer.problems)


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
