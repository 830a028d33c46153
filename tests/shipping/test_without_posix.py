"""Issue 22: Windows behaviour, simulated on this machine.

No Windows machine runs the suite, so each program here first removes what Windows
does not have (``SIGURG``, ``signal.pthread_kill``, ``signal.pthread_sigmask``, ``fcntl``)
and only then imports the package. What must still hold there:

- a loss reaches the main thread (``_thread.interrupt_main`` with SIGINT, at its next
  bytecode; on Windows a main thread in ``time.sleep`` also wakes for it);
- ``on_lost="exit"`` ends with ``SystemExit`` in the main thread (``finally`` runs), not
  with the watchdog's ``os._exit`` after ``exit_grace``;
- the total request deadline of a customer's check holds: a hanging server ends the check
  after ``request_timeout``, not after an attempt, a retry wait and a second attempt.
The ``windows`` and ``macos`` markers select tests a contributor runs on those systems.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from tests.shipping.programs import (
    BUSY_BLOCK,
    CHECK_HANGING,
    HELD_IN_LIBRARY_CODE,
    WITHOUT_POSIX,
    finish,
)
from tests.support.waiting import wait_for


def pinned(af):
    return {"app_id": af.app_id, "public_key": af.public_key, "api_base_url": af.url}


def start(af, program, *args, key=None):
    env = {**os.environ, "AUTHFORGE_APP_SECRET": af.app_secret}
    if key is not None:
        env["AUTHFORGE_LICENSE_KEY"] = key
    return subprocess.Popen(
        [sys.executable, "-c", WITHOUT_POSIX + program, *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(("on_lost", "code"), [("raise", 1), ("exit", 6)])
def test_a_loss_reaches_the_main_thread_without_posix_signals(af, tmp_path, on_lost, code):
    key = af.create_license()
    process = start(af, BUSY_BLOCK, json.dumps(pinned(af)), tmp_path, on_lost, key=key)
    assert wait_for(lambda: (tmp_path / "ready").exists() or process.poll() is not None, 30)
    af.revoke(key)
    _, err = finish(process)
    assert process.returncode == code, err[-2000:]
    assert (tmp_path / "signal").read_text() == str(int(signal.SIGINT))
    assert (tmp_path / "finally").exists()  # SystemExit / LicenseLost in the main thread
    assert not (tmp_path / "end").exists()
    if on_lost == "raise":
        assert (tmp_path / "lost").read_text() == "revoked"
    else:
        assert "did not stop within" not in err  # not the watchdog's os._exit


def test_a_real_ctrl_c_still_interrupts_a_block(af, tmp_path):
    # Our SIGINT handler chains to the program's for an interrupt that is not ours.
    key = af.create_license()
    process = start(af, BUSY_BLOCK, json.dumps(pinned(af)), tmp_path, "raise", key=key)
    assert wait_for(lambda: (tmp_path / "ready").exists() or process.poll() is not None, 30)
    process.send_signal(signal.SIGINT)
    _, err = finish(process)
    assert "KeyboardInterrupt" in err
    assert (tmp_path / "finally").exists()


def test_a_loss_held_in_library_code_still_lands_without_posix_signals(af, tmp_path):
    # The POSIX form is tests/delivery/test_signals.py: a loss that arrives while the main
    # thread runs the library's own code is held, and sent again (here through
    # _thread.interrupt_main, the only way without pthread_kill) until it lands.
    process = start(af, HELD_IN_LIBRARY_CODE, json.dumps(pinned(af)), tmp_path,
                    key=af.create_license())  # fmt: skip
    _, err = finish(process)
    assert process.returncode == 0, err[-2000:]
    assert (tmp_path / "signal").read_text() == str(int(signal.SIGINT))
    assert (tmp_path / "pushed").read_text() == "True"
    assert not (tmp_path / "ran-on").exists(), "the loss was dropped: the block ran on"
    assert (tmp_path / "lost").read_text() == "revoked"


@pytest.fixture
def hanging_server():
    """``(url, attempts)``: a loopback port that accepts connections and never answers;
    ``attempts()`` counts the connections made to it (once the client is done)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)

    def attempts():
        listener.setblocking(False)
        count = 0
        while True:
            try:
                connection, _ = listener.accept()
            except BlockingIOError:
                return count
            connection.close()
            count += 1

    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", attempts
    finally:
        listener.close()


@pytest.mark.parametrize("where", ["main", "thread"])
def test_the_request_deadline_holds_without_posix_signals(af, hanging_server, where):
    url, attempts = hanging_server
    settings = json.dumps({**pinned(af), "api_base_url": url})
    process = start(af, CHECK_HANGING, settings, 2, where, key=af.create_license())
    _, err = finish(process)
    assert process.returncode == 3, err[-2000:]
    assert "(timeout)." in err
    # The shape of the bug: the attempt timed out, the retry policy waited and tried again
    # (2 attempts, twice the deadline and more). The deadline covers retries: one attempt.
    assert attempts() == 1


def _a_loss_wakes_a_sleeping_main_thread(af, tmp_path):
    from tests.shipping.programs import PINNED_BLOCK

    key = af.create_license()
    env = {**os.environ, "AUTHFORGE_APP_SECRET": af.app_secret, "AUTHFORGE_LICENSE_KEY": key}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PINNED_BLOCK,
            json.dumps(pinned(af)),
            str(tmp_path),
            "raise",
            "10",
            "plain",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert wait_for(lambda: (tmp_path / "ready").exists() or process.poll() is not None, 30)
    af.revoke(key)
    _, err = finish(process)  # time.sleep(60) in the block: woken, not run out
    assert process.returncode == 1, err[-2000:]
    assert "LicenseLost" in err


@pytest.mark.windows
@pytest.mark.skipif(sys.platform != "win32", reason="runs on Windows")
def test_on_windows_a_loss_wakes_a_sleeping_main_thread(af, tmp_path):
    _a_loss_wakes_a_sleeping_main_thread(af, tmp_path)


@pytest.mark.macos
@pytest.mark.skipif(sys.platform != "darwin", reason="runs on macOS")
def test_on_macos_a_loss_wakes_a_sleeping_main_thread(af, tmp_path):
    _a_loss_wakes_a_sleeping_main_thread(af, tmp_path)
