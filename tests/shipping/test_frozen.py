"""Issue 22: a licensed program frozen with a plain ``pyinstaller --onefile`` works on a
customer's machine: no extra flags at build time, and at run time no Python, no venv and
no ``AUTHFORGE_*`` settings but the license key (``env -i``).

The program (``frozen/wordcount.py``) pins its settings in code, as a shipped program
does; the build writes them for this test's local server. The cases (``frozen/customer``)
are the customer's: help without a license, no key yet, a good key, a revoked key, a bad
key, ``activate`` (refused, then good, then running on the stored key), and the server
unreachable. ``bench/freeze.py`` runs the same cases on a Nuitka build. The other
PyInstaller build (deferred imports) is ``test_frozen_deferred.py``: a file of its own, so
the two builds run side by side on two xdist workers.
"""

from __future__ import annotations

import shutil

import pytest

from authforge_guard.testing import LocalAuthForge
from tests.shipping.frozen.build import pyinstaller
from tests.shipping.frozen.customer import Customer, run_cases, run_unreachable, write_source

# A build takes one to two minutes on two busy cores: more than the suite's per-test limit.
pytestmark = [pytest.mark.build, pytest.mark.timeout(900)]


@pytest.mark.skipif(shutil.which("env") is None, reason="needs env -i")
def test_a_plain_pyinstaller_onefile_build_serves_every_customer_case(tmp_path):
    with LocalAuthForge(heartbeat_rate_limit=None) as af:
        source = write_source(tmp_path / "src", af)
        customer = Customer(pyinstaller(source, tmp_path / "build"), tmp_path / "home")
        run_cases(customer, af)
    run_unreachable(customer)  # the server is gone: the stored key cannot be checked
    assert not customer.problems, "\n\n".join(customer.problems)
