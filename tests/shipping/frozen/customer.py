"""The customer's cases of a frozen ``wordcount`` (shared by ``tests/shipping/test_frozen.py``
and ``bench/freeze.py``): each runs the binary under ``env -i`` with only a home directory
and, maybe, a license key, and records what went wrong instead of stopping."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

SUPPORT = "support@wordcount.example"
SOURCE = Path(__file__).parent / "wordcount.py"


def write_source(directory: Path, af: Any) -> Path:
    """``wordcount.py`` and its ``vendor_settings.py`` (pinned to ``af``) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "wordcount.py").write_text(SOURCE.read_text())
    settings = {
        "app_id": af.app_id,
        "app_secret": af.app_secret,
        "public_key": af.public_key,
        "api_base_url": af.url,
    }
    (directory / "vendor_settings.py").write_text(f"SETTINGS = {settings!r}\n")
    return directory / "wordcount.py"


class Customer:
    """Runs the frozen program with an empty environment but a home and, maybe, a key."""

    def __init__(self, binary: Path, home: Path) -> None:
        self.binary, self.home = binary, home
        self.problems: list[str] = []
        self.passed = 0
        home.mkdir(parents=True, exist_ok=True)
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

    def expect(
        self, case: str, args: tuple[str, ...], code: int, *words: str, key: str | None = None
    ) -> None:
        result = self.run(*args, key=key)
        said = result.stdout + result.stderr
        missing = [w for w in words if w not in said]
        if result.returncode != code or missing or "Traceback" in said:
            self.problems.append(
                f"{case}: exit {result.returncode} (expected {code}), missing {missing}:\n{said}"
            )
        else:
            self.passed += 1


def run_cases(customer: Customer, af: Any) -> None:
    """Every case but "unreachable" (run that one once ``af`` has stopped)."""
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


def run_unreachable(customer: Customer) -> None:
    customer.expect(
        "unreachable", ("count", "notes.txt"), 3, "Could not reach the license server", SUPPORT
    )


CASES = 9
