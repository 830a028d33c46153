"""How the benchmark measures on a noisy machine, and how it reports.

Every comparison runs its variants in the same rounds, one after the other in
an order that rotates each round, so a burst of load elsewhere hits them all.
A figure is the median over the rounds; a ratio is the median of the
per-round ratios (ours / theirs), which cancels slow drifts as well.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import venv
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROGRAMS = os.path.join(HERE, "programs")


# --------------------------------------------------------------- measuring


def interleaved(variants: Mapping[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Run every variant once per round, rotating the order; each returns one figure."""
    names = list(variants)
    results: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(variants[name]())
    return results


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def ratio(ours: Sequence[float], theirs: Sequence[float]) -> float:
    """The median of the per-round ratios ``ours / theirs``."""
    return statistics.median(a / b for a, b in zip(ours, theirs))


def cpu_seconds_of_children() -> float:
    """User + system CPU seconds of the finished child processes (0.0 where unknown)."""
    try:
        import resource
    except ImportError:  # not on Windows
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_batch(call: Callable[[], object], count: int) -> float:
    """Seconds per call over ``count`` back-to-back calls."""
    started = time.perf_counter()
    for _ in range(count):
        call()
    return (time.perf_counter() - started) / count


# --------------------------------------------------------------- reporting


@dataclass
class Row:
    """One line of the table: ours against a reference, and the goal if there is one."""

    section: str
    what: str
    ours: str
    against: str
    theirs: str
    ratio: str
    target: str = "info"
    met: str = ""


def verdict(ok: bool) -> str:
    return "yes" if ok else "**NO**"


def compare(
    section: str,
    what: str,
    ours: Sequence[float],
    against: str,
    theirs: Sequence[float],
    unit: Callable[[float], str],
    target: float | None = None,
) -> Row:
    """A row for figures measured in the same rounds; ``target`` caps the ratio."""
    if not any(theirs):
        return Row(section, what, "n/a", against, "n/a", "n/a")
    r = ratio(ours, theirs)
    return Row(
        section,
        what,
        unit(median(ours)),
        against,
        unit(median(theirs)),
        f"{r:.2f}x",
        f"<= {target:.2f}x" if target is not None else "info",
        verdict(r <= target) if target is not None else "",
    )


def nanoseconds(value: float) -> str:
    return f"{value:.0f} ns"


def microseconds(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} µs"


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1e3:.0f} ms"


def mebibytes(size: float) -> str:
    return f"{size / 2**20:.2f} MiB"


def render(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table (it pastes into the README unchanged)."""
    head = ["#", "measurement", "ours", "compared with", "theirs", "ratio", "target", "met"]
    cells = [
        [r.section, r.what, r.ours, r.against, r.theirs, r.ratio, r.target, r.met] for r in rows
    ]
    widths = [max(len(line[i]) for line in [head, *cells]) for i in range(len(head))]

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), rule, *(line(c) for c in cells)])


# ------------------------------------------------------- child processes


def child_env(server: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every child process.

    Children start with ``-S`` and this ``PYTHONPATH`` (the checkout, then the
    running interpreter's site-packages), so a development-only editable-install
    hook is loaded by neither side. Bytecode caching is on, as on a user's
    machine: a warm-up run compiles the checkout once.
    """
    paths = [ROOT, sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    for name in list(env):
        if name.startswith("AUTHFORGE_"):
            del env[name]
    if server is not None:
        env.update({f"BENCH_{key.upper()}": value for key, value in server.items()})
    return env


def python(*args: str) -> list[str]:
    return [sys.executable, "-S", *args]


@contextlib.contextmanager
def regular_install() -> Iterator[str]:
    """A throwaway virtual environment where this checkout is installed as a user gets
    it (``pip install .``: a copy of the package, compiled to bytecode); yields its python.

    What start-up is measured with: no ``-S``, no editable-install hook, no
    ``PYTHONPATH``. The dependencies (urllib3, cryptography, wrapt, the official
    SDK) are not installed again: a ``.pth`` line puts the running
    interpreter's site-packages on the path, as a directory (its own ``.pth``
    files, the development hooks among them, are not run). ``pip`` builds the
    package offline when ``setuptools`` and ``wheel`` are at hand, else from
    its cache or index.
    """
    home = tempfile.mkdtemp(prefix="authforge-bench-venv-")
    try:
        venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(home)
        bindir = "Scripts" if os.name == "nt" else "bin"
        exe = os.path.join(home, bindir, "python.exe" if os.name == "nt" else "python")
        site = subprocess.run(
            [exe, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        build = ["--no-build-isolation"] if _can_build_here() else []
        source = _copy_of_the_sources(os.path.join(home, "source"))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                *build,
                "--target",
                site,
                source,
            ],
            check=True,
            env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"),
        )
        shutil.rmtree(os.path.join(site, "bin"), ignore_errors=True)  # the console script
        deps = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
        with open(os.path.join(site, "bench-dependencies.pth"), "w") as pth:
            pth.write("\n".join(deps) + "\n")
        yield exe
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _copy_of_the_sources(target: str) -> str:
    """A copy of what ``pip install .`` reads (the metadata files and the package), made
    in ``target``; returns ``target``.

    pip builds in the source tree (``build/``, ``*.egg-info``). Built from the checkout
    itself, two runs at once (CI runs the 3.9 and 3.11 suites side by side, and each runs
    the bench's smoke test) wrote the same ``build/lib`` and one of the builds failed.
    """
    os.makedirs(target)
    for name in ("pyproject.toml", "setup.cfg", "README.md", "LICENSE"):
        shutil.copy2(os.path.join(ROOT, name), target)
    shutil.copytree(
        os.path.join(ROOT, "authforge_guard"),
        os.path.join(target, "authforge_guard"),
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return target


def _can_build_here() -> bool:
    try:
        import setuptools  # noqa: F401
        import wheel  # noqa: F401
    except ImportError:
        return False
    return True


def installed_env(server: Mapping[str, str]) -> dict[str, str]:
    """The environment of a program run from ``regular_install``: no ``PYTHONPATH``,
    bytecode on, no ``AUTHFORGE_*``, and the server's ``BENCH_*`` settings."""
    env = child_env(server)
    env.pop("PYTHONPATH", None)
    return env


@contextlib.contextmanager
def local_server() -> Iterator[dict[str, str]]:
    """A LocalAuthForge in its own process (its own GIL and core), stopped on exit.

    Yields ``url``, ``tls_url`` (HTTPS, same database), ``ca_bundle`` (its certificate),
    ``app_id``, ``app_secret``, ``public_key``, ``license_key``.
    """
    proc = subprocess.Popen(
        python(os.path.join(PROGRAMS, "serve.py")),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=child_env(),
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the benchmark's local server did not start")
        yield json.loads(line)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # the server's cue to stop and remove its database
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
