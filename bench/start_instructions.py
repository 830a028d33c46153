"""Start-up in instructions: ``python bench/start_instructions.py [--quick]``.

``bench/run.py`` times start-up in wall-clock milliseconds, which move by 5-10%
from run to run on a shared machine. This script counts the instructions the
same programs execute, under ``valgrind --tool=callgrind``: the count does not
depend on what else the machine is doing, so a change to start-up can be
judged from one run, before and after (issue 15's changes were measured so).

Each program runs from a regular install this script makes (``pip install .``
into a throwaway virtual environment, with bytecode, no ``-S``), against the
local server in a child process, as in ``bench/run.py``:

- ours: a fresh process that logs in and makes its first licensed call;
- ours, cached: the same program resuming its cached session (grace mode);
- the floor: a minimal urllib3 + cryptography login (``programs/start_floor.py``);
- the official SDK's login (``programs/start_sdk.py``).

Each is counted twice and the lower count kept (hash randomisation moves a
count by well under 1%). ``--quick`` counts the floor and ours once: it checks
that the script works. Needs ``valgrind``; without it the script says so and
exits 2.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence

from _harness import (
    PROGRAMS,
    Row,
    compare,
    installed_env,
    local_server,
    regular_install,
    render,
)

_COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(cmd: Sequence[str], env: Mapping[str, str]) -> int:
    """The instructions ``cmd`` executes, all its threads together, as callgrind counts them."""
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    found = _COLLECTED.search(result.stderr)
    if result.returncode != 0 or found is None:
        raise RuntimeError(f"{cmd[-1]} failed under callgrind:\n{result.stderr[-2000:]}")
    return int(found.group(1))


def millions(count: float) -> str:
    return f"{count / 1e6:.1f} M"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="count each program once")
    quick = parser.parse_args().quick
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: nothing to count", file=sys.stderr)
        return 2
    with local_server() as server, regular_install() as exe:
        env = installed_env(server)
        cache_dir = tempfile.mkdtemp(prefix="authforge-bench-cache-")
        try:
            cached_env = dict(env, BENCH_SESSION_CACHE=cache_dir)
            programs = {
                "ours": ([exe, os.path.join(PROGRAMS, "start_ours.py")], env),
                "floor": ([exe, os.path.join(PROGRAMS, "start_floor.py")], env),
            }
            if not quick:
                programs["cached"] = programs["ours"][0], cached_env
                programs["sdk"] = [exe, os.path.join(PROGRAMS, "start_sdk.py")], env
            for cmd, run_env in programs.values():
                # Bytecode compiled, the session cache's entry written: not counted.
                subprocess.run(cmd, env=run_env, check=True)
            runs = 1 if quick else 2
            counts = {
                name: float(min(instructions(cmd, run_env) for _ in range(runs)))
                for name, (cmd, run_env) in programs.items()
            }
        finally:
            shutil.rmtree(cache_dir, ignore_errors=True)

    def row(what: str, name: str, against: str, ref: str) -> Row:
        return compare(
            "start-up", what, [counts[name]], against, [counts[ref]], millions, target=None
        )

    login, floor = "fresh process: login + first call", "minimal urllib3 + cryptography login"
    rows = [row(login, "ours", floor, "floor")]
    if not quick:
        rows += [
            row(login, "ours", "official SDK", "sdk"),
            row(floor, "floor", "official SDK", "sdk"),
            row("restart resuming a cached session", "cached", "official SDK login", "sdk"),
        ]
    print("Start-up, instructions executed (valgrind --tool=callgrind), lower of the runs\n")
    print(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
