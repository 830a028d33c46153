"""Issue 12, item 11: on_lost="exit" says why on stderr (no logging configured) and ends
the process with exit_code, under asyncio.run and when the main thread is busy computing."""

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import asyncio, sys, time
    from authforge_guard.testing import LocalAuthForge

    shape = sys.argv[1]
    with LocalAuthForge(heartbeat_rate_limit=None) as af:
        key = af.create_license()
        guard = af.guard(license_key=key, heartbeat="online", heartbeat_interval=0.1,
                         on_lost="exit", exit_code=5, hwid_override="exit-visible")
        guard.ensure()
        af.revoke(key)
        if shape == "asyncio":
            async def serve():
                while True:
                    await asyncio.sleep(0.05)
            asyncio.run(serve())
        elif shape == "computing":
            n = 0
            while True:
                n += 1
        elif shape == "swallowing":  # a program that turns the interrupt into a clean stop
            try:
                while True:
                    time.sleep(0.05)
            except BaseException:
                pass
        print("should not get here")
""")


@pytest.mark.parametrize("shape", ["asyncio", "computing", "swallowing"])
def test_exit_policy_is_visible_and_keeps_its_status(shape):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, shape], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 5, result.stderr[-2000:]
    assert "license lost (revoked); exiting with code 5" in result.stderr
    if shape != "swallowing":  # a program that swallows SystemExit goes on, but not for long
        assert "should not get here" not in result.stdout
