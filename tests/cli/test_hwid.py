"""``authforge-guard hwid``: what a licensed program on this machine sends."""

import hashlib
import os
import sys
from pathlib import Path

import pytest

from authforge_guard import normalize_machine_id

from .conftest import run_module


def documented_hwid(app_id, machine_id):
    # The formula the README and docs/protocol.md give, written out independently.
    return hashlib.sha256(f"authforge-hwid-v2|{app_id}|{machine_id}".encode()).hexdigest()


def this_machine_id():
    try:
        raw = Path("/etc/machine-id").read_text()
    except OSError:
        pytest.skip("no /etc/machine-id on this machine")
    machine_id = normalize_machine_id(raw)
    if machine_id is None:
        pytest.skip("/etc/machine-id is not a usable machine id")
    return machine_id


def test_hwid_is_the_documented_formula_on_etc_machine_id():
    expected = documented_hwid("my-app-id", this_machine_id())
    result = run_module("hwid", "--app-id", "my-app-id")
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected + "\n"
    assert run_module("hwid", env={"AUTHFORGE_APP_ID": "my-app-id"}).stdout == expected + "\n"


def test_the_console_script_says_the_same():
    script = Path(sys.executable).with_name("authforge-guard")
    if not script.exists():
        pytest.skip("the authforge-guard script is not installed next to this python")
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHFORGE_")}
    out = subprocess.run(
        [str(script), "hwid", "--app-id", "my-app-id"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0
    assert out.stdout.strip() == documented_hwid("my-app-id", this_machine_id())


def test_an_override_is_sent_unchanged(cli):
    assert cli("hwid", "--override", "  tg:123 ") == (0, "tg:123\n", "")
    assert cli("hwid", env={"AUTHFORGE_HWID_OVERRIDE": "discord:456"})[1] == "discord:456\n"


def test_no_app_id_is_one_line_and_exit_2(cli):
    code, out, err = cli("hwid")
    assert code == 2 and out == ""
    assert (
        err == "error: app_id: missing (flag --app-id or environment variable AUTHFORGE_APP_ID)\n"
    )
