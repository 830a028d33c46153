"""``bench/tenants.py --quick`` and ``bench/fleet.py --quick`` run end to end and print their
rows. No timing is asserted: a quick run's figures mean nothing; the counts do."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(script):
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", script), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_tenants_bench_counts_one_validate_per_tenant():
    out = run("tenants.py")
    lines = {line.split("  ")[0].strip(): line for line in out.splitlines() if line.strip()}
    assert lines["50 tenants, first pass: validates"].split()[5] == "50"
    assert lines["second pass: validates"].split()[3] == "0"
    assert "outage: 100 concurrent requests for one tenant" in lines


def test_fleet_bench_shares_one_login_per_tenant_through_a_store():
    from tests.support.redis_server import missing_reason

    if missing_reason() is not None:
        pytest.skip(missing_reason())
    out = run("fleet.py")
    for store in ("file store", "Redis"):
        for replicas in (1, 2, 4):
            row = f"{store}, {replicas} replica(s)"
            [validations] = [
                line
                for line in out.splitlines()
                if line.startswith(row) and "validations per tenant" in line
            ]
            assert validations.split()[-4] == "1.00", validations
    assert "revocation fan-out" in out


def test_start_instructions_counts_what_a_program_executes():
    # The counting itself, on two tiny programs (the whole script runs pip and four
    # programs under valgrind: minutes, not for the suite).
    import shutil

    if shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed")
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    try:
        from start_instructions import instructions
    finally:
        sys.path.remove(os.path.join(ROOT, "bench"))
    env = dict(os.environ)
    idle = instructions([sys.executable, "-S", "-c", "pass"], env)
    busy = instructions([sys.executable, "-S", "-c", "sum(range(300000))"], env)
    assert 1_000_000 < idle < busy
    with pytest.raises(RuntimeError, match="failed under callgrind"):
        instructions([sys.executable, "-S", "-c", "raise SystemExit(3)"], env)
