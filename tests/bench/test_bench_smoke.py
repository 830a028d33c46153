"""``bench/run.py --quick`` runs end to end and prints every row of its table.

No timing is asserted here: the figures of a quick run mean nothing, and
timing goals live only in ``bench/``.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# (section, measurement, compared with): one per row, in table order.
ROWS = [
    ("1 hot path", "@requires_license call", "bare wrapt pass-through"),
    ("1 hot path", '@feature("pro") call', "bare wrapt pass-through"),
    ("1 hot path", "@requires_license call", "plain call"),
    ("1 hot path", "bare wrapt pass-through", "plain call"),
    ("2 network", "validate_license round trip (TLS)", "official SDK"),
    ("2 network", "validate_license round trip (TLS)", "bare urllib3 POST"),
    ("2 network", "online heartbeat (TLS)", "official SDK"),
    ("2 network", "validate_license round trip (plain HTTP)", "official SDK"),
    ("2 network", "validate_license round trip (plain HTTP)", "bare POST + its Ed25519 check"),
    ("2 network", "validate_license round trip (plain HTTP)", "bare urllib3 POST"),
    ("2 network", "bare POST + its Ed25519 check (plain HTTP)", "bare urllib3 POST"),
    ("2 network", "online heartbeat (plain HTTP)", "official SDK"),
    ("2 network", "online heartbeat (plain HTTP)", "bare urllib3 POST"),
    ("3 start-up", "fresh process: login + first call", "official SDK"),
    ("3 start-up", "fresh process: login + first call", "minimal urllib3 + cryptography login"),
    ("3 start-up", "minimal urllib3 + cryptography login", "official SDK"),
    ("3 start-up", "restart resuming a cached session (grace)", "official SDK login"),
    ("3 start-up", "its CPU time (user + system)", "official SDK"),
    ("3 start-up", "`import` of the package", "official SDK"),
    ("3 start-up", "all imports of that process", "official SDK"),
    ("3 start-up", "wrapt, as the decorators load it", "`import wrapt`"),
    ("4 server", "validates/s, 1 client thread", "1 client thread"),
    ("4 server", "validates/s, 4 client threads", "1 client thread"),
    ("4 server", "validates/s, 16 client threads", "1 client thread"),
    ("5 memory", "live session + heartbeat thread", "official SDK"),
    ("5 memory", "imports a session needs", "official SDK"),
]


def test_quick_run_prints_every_row():
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "run.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    header, rows = (
        lines[0],
        [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[1:]],
    )
    assert header.split("|")[2].strip() == "measurement"
    assert [tuple(row[i] for i in (0, 1, 3)) for row in rows] == ROWS
    for row in rows:
        ours, theirs, ratio = row[2], row[4], row[5]
        assert ours and theirs and ratio.endswith("x"), row
