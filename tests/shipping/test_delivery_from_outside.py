"""Issue 25, item 5: delivery of a loss cannot be switched off from outside the program.

The program pins its trust settings in code (the README's quick start) and sleeps 60 s in
a licensed block; each way the end user could stop the signal reaching it (an environment
variable naming SIGKILL, a launcher that blocks SIGURG before ``exec``) still ends it soon
after the revocation. The hang guard (45 s) is under the program's own 60 s sleep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.shipping.programs import PINNED_BLOCK, finish
from tests.support.waiting import wait_for

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "pthread_sigmask"), reason="signal masks are POSIX"
)


def _block_sigurg() -> None:  # a launcher's doing, before exec: the mask is inherited
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGURG})


def run_revoked(af, tmp_path, *, env=(), on_lost="raise", grace=10, shape="plain", **popen):
    key = af.create_license()
    pinned = {"app_id": af.app_id, "public_key": af.public_key, "api_base_url": af.url}
    environ = {
        **os.environ,
        "AUTHFORGE_APP_SECRET": af.app_secret,
        "AUTHFORGE_LICENSE_KEY": key,
        **dict(env),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PINNED_BLOCK,
            json.dumps(pinned),
            str(tmp_path),
            on_lost,
            str(grace),
            shape,
        ],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )
    assert wait_for(lambda: (tmp_path / "ready").exists() or process.poll() is not None, 30)
    af.revoke(key)
    _, err = finish(process)
    assert not (tmp_path / "end").exists()
    return process.returncode, err


def test_an_environment_signal_is_ignored_with_one_warning(af, tmp_path):
    code, err = run_revoked(af, tmp_path, env={"AUTHFORGE_INTERRUPT_SIGNAL": "SIGKILL"})
    assert code == 1, err[-2000:]
    assert "LicenseLost" in err
    assert err.count("AUTHFORGE_INTERRUPT_SIGNAL is ignored") == 1
    assert (tmp_path / "finally").exists()


def test_an_environment_signal_under_trust_environment_must_be_catchable(af):
    from authforge_guard import ConfigurationError, Guard

    environ = {**af.environ(), "AUTHFORGE_INTERRUPT_SIGNAL": "SIGKILL"}
    with pytest.raises(ConfigurationError, match="SIGKILL cannot be caught"):
        Guard(trust_environment=True, environ=environ)


@pytest.mark.parametrize("on_lost", ["raise", "exit"])
def test_a_launcher_that_blocks_the_signal_does_not_stop_delivery(af, tmp_path, on_lost):
    code, err = run_revoked(af, tmp_path, on_lost=on_lost, preexec_fn=_block_sigurg)
    assert code == (1 if on_lost == "raise" else 9), err[-2000:]
    assert "was blocked in the main thread" in err
    assert (tmp_path / "finally").exists()


def test_a_main_thread_that_never_takes_the_loss_ends_with_the_exit_code(af, tmp_path):
    # Blocked again inside the block: the signal stays pending; after exit_grace the loss
    # is sent again, after another the process ends with exit_code.
    code, err = run_revoked(af, tmp_path, grace=1, shape="blocks-inside")
    assert code == 9, err[-2000:]
    assert "delivering it again" in err
    assert "did not stop; exiting with code 9" in err
    # The log names where the main thread was held: the program's own code (run by -c).
    assert 'the main thread was at:\n  File "<string>", line' in err, err[-2000:]
