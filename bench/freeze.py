"""Freeze a licensed program and check it as a customer would: build time, cases, start-up, size.

Too slow for the suite (a Nuitka build takes minutes); ``tests/shipping/test_frozen.py``
runs the PyInstaller case there. Here, one freezer per run:

    .venv/bin/python bench/freeze.py --freezer nuitka-onefile
    .venv/bin/python bench/freeze.py --freezer nuitka-standalone --with-sdk
    .venv/bin/python bench/freeze.py --freezer pyinstaller-onefile --with-sdk

Builds ``tests/shipping/frozen/wordcount.py`` with the freezer's plain command (no
``--include-package``, no hidden imports), pinned to a local server started here, runs the
customer cases of ``tests/shipping/frozen/customer.py`` under ``env -i``, then measures the
start-up of a licensed run (``count`` with a good key: process start to exit, a login
included) and of ``--help``, as medians of interleaved rounds. With ``--with-sdk``, the
same program written on the official ``authforge-sdk`` is frozen the same way and
measured beside it (its login only: it has no ``activate`` and no refusal words).
Prints one table. Needs a C compiler and ``patchelf`` for Nuitka on Linux.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from _harness import interleaved, median  # noqa: E402

from authforge_guard.testing import LocalAuthForge  # noqa: E402
from tests.shipping.frozen.customer import (  # noqa: E402
    CASES,
    Customer,
    run_cases,
    run_unreachable,
    write_source,
)

SDK_PROGRAM = """
import sys
import authforge
from vendor_settings import SETTINGS

def main():
    if sys.argv[1:] == ["--help"]:
        print("usage: wordcount count FILE...")
        return 0
    import os
    s = SETTINGS
    client = authforge.AuthForgeClient(s["app_id"], s["app_secret"], s["public_key"],
                                       api_base_url=s["api_base_url"])
    if not client.login(os.environ.get("AUTHFORGE_LICENSE_KEY", "")):
        print("no license", file=sys.stderr)
        return 1
    for path in sys.argv[2:]:
        with open(path, encoding="utf-8") as handle:
            print(f"{path}: {len(handle.read().split())} words")
    return 0

sys.exit(main())
"""


def build(freezer: str, source: Path, out: Path) -> tuple[Path, float]:
    """The freezer's plain command on ``source``; ``(binary, seconds)``."""
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # as a regular install would be found
    name = source.stem
    if freezer.startswith("pyinstaller"):
        mode = "--onefile" if freezer.endswith("onefile") else "--onedir"
        command = [sys.executable, "-m", "PyInstaller", mode, "--noconfirm", "--log-level=WARN",
                   "--distpath", str(out / "dist"), "--workpath", str(out / "work"),
                   "--specpath", str(out), str(source)]  # fmt: skip
        binary = out / "dist" / name if mode == "--onefile" else out / "dist" / name / name
    else:
        mode = "--onefile" if freezer.endswith("onefile") else "--standalone"
        command = [sys.executable, "-m", "nuitka", mode, "--assume-yes-for-downloads",
                   "--quiet", f"--output-dir={out}", str(source)]  # fmt: skip
        binary = (
            out / f"{name}.bin" if mode == "--onefile" else out / f"{name}.dist" / f"{name}.bin"
        )
    started = time.monotonic()
    result = subprocess.run(command, cwd=source.parent, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if result.returncode != 0 or not binary.exists():
        sys.exit(f"{freezer} build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return binary, seconds


def size_of(binary: Path, freezer: str) -> int:
    if freezer.endswith("onefile"):
        return binary.stat().st_size
    return sum(p.stat().st_size for p in binary.parent.rglob("*") if p.is_file())


def start_up(customer: Customer, key: str, rounds: int) -> dict[str, float]:
    """Medians (seconds) of a licensed ``count`` run and of ``--help``."""

    def timed(*args: str, key: str | None = None) -> float:
        started = time.perf_counter()
        result = customer.run(*args, key=key)
        spent = time.perf_counter() - started
        if result.returncode != 0:
            sys.exit(f"{customer.binary} {args}: exit {result.returncode}\n{result.stderr}")
        return spent

    runs = interleaved(
        {"licensed": lambda: timed("count", "notes.txt", key=key), "help": lambda: timed("--help")},
        rounds,
    )
    return {name: median(values) for name, values in runs.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--freezer",
        choices=[
            "nuitka-onefile",
            "nuitka-standalone",
            "pyinstaller-onefile",
            "pyinstaller-onedir",
        ],
        default="nuitka-onefile",
    )
    parser.add_argument("--with-sdk", action="store_true", help="freeze the official SDK's too")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if shutil.which("env") is None:
        sys.exit("needs env -i")
    with tempfile.TemporaryDirectory(prefix="authforge-freeze-") as tmp:
        work = Path(tmp)
        with LocalAuthForge(heartbeat_rate_limit=None) as af:
            ours, ours_seconds = build(args.freezer, write_source(work / "ours", af), work / "b1")
            customer = Customer(ours, work / "home")
            run_cases(customer, af)
            key = af.create_license({"tier": "pro"})
            figures = {"ours": start_up(customer, key, args.rounds)}
            rows = [("authforge_guard", ours_seconds, size_of(ours, args.freezer))]
            # Printed now: a slow second build must not lose the first one's figures.
            print(f"authforge_guard: built in {ours_seconds:.0f} s, "
                  f"{customer.passed}/{CASES - 1} cases before 'unreachable', "
                  f"start-up {figures['ours']}", flush=True)  # fmt: skip
            if args.with_sdk:
                sdk_source = write_source(work / "sdk", af)
                sdk_source.write_text(SDK_PROGRAM)
                sdk, sdk_seconds = build(args.freezer, sdk_source, work / "b2")
                figures["sdk"] = start_up(Customer(sdk, work / "home2"), key, args.rounds)
                rows.append(("authforge-sdk", sdk_seconds, size_of(sdk, args.freezer)))
        run_unreachable(customer)
    print(f"freezer: {args.freezer} (Python {sys.version.split()[0]}, {os.cpu_count()} cores)")
    print(f"customer cases: {customer.passed}/{CASES} passed")
    for problem in customer.problems:
        print("  FAILED " + problem.replace("\n", "\n    "))
    print("| program | build | size | licensed run | --help |")
    print("|---|---|---|---|---|")
    for (name, seconds, size), figure in zip(rows, figures.values()):
        print(f"| {name} | {seconds:.0f} s | {size / 2**20:.1f} MiB | "
              f"{figure['licensed'] * 1e3:.0f} ms | {figure['help'] * 1e3:.0f} ms |")  # fmt: skip
    if "sdk" in figures:
        for what in ("licensed", "help"):
            print(f"start-up ({what}) ours / sdk: "
                  f"{figures['ours'][what] / figures['sdk'][what]:.2f}x")  # fmt: skip
    return 0 if not customer.problems else 1


if __name__ == "__main__":
    sys.exit(main())
