"""``authforge-guard demo`` in a real process: the story, in order, fast, with no noise."""

import re
import time

from .conftest import run_module


def test_the_demo_tells_the_whole_story():
    started = time.monotonic()
    result = run_module("demo", timeout=60)
    elapsed = time.monotonic() - started
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert result.stderr == ""  # no traceback, no log lines
    assert elapsed < 30
    titles = re.findall(r"^\d+\. (.*)$", out, flags=re.M)
    assert [t.split()[1] if t.startswith("The") else t for t in titles][:2] == [
        "Start a local AuthForge server",
        "vendor",
    ]
    assert len(titles) == 8
    for expected in [
        '@feature("pro")         export_pdf()  -> exported chapter-1.pdf',
        '@feature("enterprise")  audit_log()   -> fallback ran',
        "heartbeat 3 accepted",
        "The vendor revokes the license on the dashboard",
        "The next heartbeat is refused (revoked): the hooks run",
        "LicenseLost(code='revoked') left the licensed() block",
        "every line the user typed is there",
    ]:
        assert expected in out, expected
    saved = re.search(r"cleanup hook saved (\d+) lines \((\d+) bytes\)", out)
    on_disk = re.search(r"novel.txt on disk: (\d+) lines, (\d+) bytes", out)
    assert saved and on_disk and saved.groups() == on_disk.groups() and int(saved[1]) > 0
    # the order of the story: revocation, then the saved work, then LicenseLost
    assert out.index("revokes") < out.index("cleanup hook saved") < out.index("LicenseLost(")
    assert "Traceback" not in out
