"""Issue 22: no console (``sys.stderr is None``, ``pythonw``, a windowed build, closed
streams) never keeps a revoked program running, and a refusal still ends with its code.

Each program runs in its own process started the way a customer's machine starts it; it
reports through files (see ``programs``). The hang guard (45 s) is well under the
program's own 60 s sleep, so a program that only ended when its sleep did fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.shipping.programs import COMMAND, LOST_IN_A_BLOCK, finish
from tests.support.waiting import wait_for


def _close_standard_streams() -> None:  # in the child, before exec: pythonw-like
    os.close(1)
    os.close(2)


def start(program, tmp_path, env, *args, streams="none", closed_fds=False, **popen):
    if closed_fds:
        popen["preexec_fn"] = _close_standard_streams
    else:
        popen.setdefault("stdout", subprocess.PIPE)
        popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(
        [sys.executable, "-c", program, streams, str(tmp_path), *map(str, args)],
        env={**os.environ, **env},
        text=True,
        **popen,
    )


@pytest.mark.parametrize(
    ("streams", "closed_fds"),
    [("none", False), ("both-none", False), ("closed", False), ("inherited", True)],
)
def test_exit_policy_ends_a_program_without_a_console(af, tmp_path, streams, closed_fds):
    key = af.create_license()
    process = start(
        LOST_IN_A_BLOCK,
        tmp_path,
        af.environ(key),
        "exit",
        10,
        streams=streams,
        closed_fds=closed_fds,
    )
    assert wait_for(lambda: (tmp_path / "ready").exists() or process.poll() is not None, 30)
    assert process.poll() is None, finish(process)
    af.revoke(key)
    out, err = finish(process)
    assert process.returncode == 7, err[-2000:]
    assert (tmp_path / "finally").exists()  # SystemExit in the main thread, not os._exit
    assert not (tmp_path / "end").exists()
    # No console: the customer is told through the GUI's notifier instead.
    assert "license lost (revoked); exiting with code 7" in (tmp_path / "notified").read_text()


def test_raise_policy_without_a_console_raises_in_the_block(af, tmp_path):
    key = af.create_license()
    process = start(LOST_IN_A_BLOCK, tmp_path, af.environ(key), "raise", 10, streams="both-none")
    assert wait_for(lambda: (tmp_path / "ready").exists() or process.poll() is not None, 30)
    af.revoke(key)
    finish(process)
    assert process.returncode == 1  # LicenseLost, uncaught
    assert (tmp_path / "finally").exists()
    assert not (tmp_path / "end").exists()


@pytest.mark.parametrize("closed_fds", [False, True])
@pytest.mark.parametrize(
    ("case", "code", "words"),
    [
        ("revoked", 1, "This license was revoked."),
        ("missing", 2, "No license key is set up on this computer."),
        ("unreachable", 3, "Could not reach the license server"),
    ],
)
def test_on_refused_exit_without_a_console_keeps_its_code(
    af, tmp_path, case, code, words, closed_fds
):
    key = af.create_license()
    env = af.environ(key)
    if case == "revoked":
        af.revoke(key)
    elif case == "missing":
        del env["AUTHFORGE_LICENSE_KEY"]
    else:
        env["AUTHFORGE_API_URL"] = "http://127.0.0.1:9"  # discard: nothing listens
    env["AUTHFORGE_HWID_OVERRIDE"] = "no-console"
    process = start(COMMAND, tmp_path, env, streams="both-none", closed_fds=closed_fds)
    out, err = finish(process)
    assert process.returncode == code, err[-2000:]
    told = (tmp_path / "notified").read_text()
    assert words in told
    if case != "unreachable":  # (its advice names the hint too, on its second line)
        assert "help@vendor.example" in told
    assert "Traceback" not in err + told
    assert not (tmp_path / "end").exists()


def test_a_console_still_gets_the_lines_and_the_notifier_nothing(af, tmp_path):
    key = af.create_license()
    af.revoke(key)
    process = start(COMMAND, tmp_path, af.environ(key), streams="inherited")
    out, err = finish(process)
    assert process.returncode == 1
    assert "This license was revoked." in err
    assert not (tmp_path / "notified").exists()
