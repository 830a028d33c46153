"""Issue 22: a licensed program frozen with a plain ``pyinstaller --onefile`` works on a
customer's machine: no extra flags at build time, and at run time no Python, no venv and
no ``AUTHFORGE_*`` settings but the license key (``env -i``).

The program (``frozen/wordcount.py``) pins its settings in code, as a shipped program
does; the build writes them for this test's local server. The cases are the customer's:
help without a license, no key yet, a good key, a revoked key, a bad key, ``activate``
(bad, then good, then running on the stored key), and the server unreachable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from authforge_guard.testing import LocalAuthForge

pytestmark = pytest.mark.build

HERE = Path(__file__).parent / "frozen"
SUPPORT = "support@wordcount.example"


def freeze(build: Path, settings: dict) -> Path:
    """``pyinstaller --onefile wordcount.py`` (only where its files go), in ``build``."""
    pytest.importorskip("PyInstaller", reason="the test extra installs pyinstaller")
    source = build / "src"
    source.mkdir(parents=True)
    shutil.copy(HERE / "wordcount.py", source)
    (source / "vendor_settings.py").write_text(f"SETTINGS = {settings!r}\n")
    # The suite runs on an editable install, whose import hook PyInstaller cannot read;
    # a vendor's build environment has the package installed normally, as this path does.
    import authforge_guard

    package_root = str(Path(authforge_guard.__file__).parent.parent)
    env = {**os.environ, "PYTHONPATH": package_root}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--onefile",
            "--noconfirm",
            "--log-level=WARN",
            "--distpath",
            str(build / "dist"),
            "--workpath",
            str(build / "work"),
            "--specpath",
            str(build),
            str(source / "wordcount.py"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=build,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    binary = build / "dist" / ("wordcount.exe" if os.name == "nt" else "wordcount")
    assert binary.exists()
    return binary


class Customer:
    """Runs the frozen program with an empty environment but a home and, maybe, a key."""

    def __init__(self, binary: Path, home: Path) -> None:
        self.binary, self.home = binary, home
        self.problems: list[str] = []
        (home / "notes.txt").write_text("one two three\n")

    def run(self, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {"HOME": str(self.home), "XDG_CONFIG_HOME": str(self.home / ".config")}
        if key is not None:
            env["AUTHFORGE_LICENSE_KEY"] = key
        return subprocess.run(
            ["env", "-i", *(f"{k}={v}" for k, v in env.items()), str(self.binary), *args],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=self.home,
        )

    def expect(self, case: str, args: tuple[str, ...], code: int, *words: str, key=None):
        result = self.run(*args, key=key)
        said = result.stdout + result.stderr
        missing = [w for w in words if w not in said]
        if result.returncode != code or missing or "Traceback" in said:
            self.problems.append(
                f"{case}: exit {result.returncode} (expected {code}), missing {missing}:\n{said}"
            )


@pytest.mark.skipif(shutil.which("env") is None, reason="needs env -i")
def test_a_plain_pyinstaller_onefile_build_serves_every_customer_case(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with LocalAuthForge(heartbeat_rate_limit=None) as af:
        settings = {
            "app_id": af.app_id,
            "app_secret": af.app_secret,
            "public_key": af.public_key,
            "api_base_url": af.url,
        }
        customer = Customer(freeze(tmp_path / "build", settings), home)
        good, revoked, other = (af.create_license({"tier": "pro"}) for _ in range(3))
        af.revoke(revoked)
        count = ("count", "notes.txt")
        customer.expect("help", ("--help",), 0, "Count words, licensed.")
        customer.expect("no key yet", count, 2, "No license key is set up", SUPPORT)
        customer.expect("a good key", count, 0, "notes.txt: 3 words", key=good)
        customer.expect("revoked", count, 1, "This license was revoked.", SUPPORT, key=revoked)
        customer.expect("bad key", count, 1, "not valid", SUPPORT, key="AAAA-BBBB-CCCC-DDDD")
        customer.expect("activate a revoked key", ("activate", revoked), 1, "revoked", SUPPORT)
        customer.expect("activate", ("activate", other), 0, "Activated (pro license)")
        customer.expect("on the stored key", count, 0, "notes.txt: 3 words")
    # The server is gone: the stored key cannot be checked.
    customer.expect("unreachable", count, 3, "Could not reach the license server", SUPPORT)
    assert not customer.problems, "\n\n".join(customer.problems)
