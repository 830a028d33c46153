"""Customer-facing Click and Typer apps, run as their customers run them: exit codes, plain
stderr lines (no traceback), --help without a license, activate then run."""

import pytest

from .conftest import run_example

pytest.importorskip("typer")

NO_TRACEBACK = "Traceback"


def test_typer_help_needs_no_license_nor_settings(customer_env):
    bare = {k: v for k, v in customer_env().items() if not k.startswith("AUTHFORGE_")}
    for args in (["--help"], ["report", "--help"], ["export", "--help"]):
        result = run_example("typer_cli.py", *args, env=bare)
        assert result.returncode == 0, result.stderr
        assert "Usage:" in result.stdout


def test_typer_missing_key_then_activate_then_run(af, customer_env):
    env = customer_env()
    result = run_example("typer_cli.py", "report", env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "No license key is set up on this computer.",
        "Activate this program with your license key, or set AUTHFORGE_LICENSE_KEY. "
        "If you have no key, contact support@notes.example.",
    ]
    key = af.create_license({"tier": "pro"})
    result = run_example("typer_cli.py", "activate", key, env=env)
    assert (result.returncode, result.stdout) == (0, "Activated (pro license). Thank you!\n")
    result = run_example("typer_cli.py", "report", "--days", 3, env=env)
    assert (result.returncode, result.stdout) == (0, "report for 3 days (tier pro)\n")
    assert run_example("typer_cli.py", "export", "a.html", env=env).stdout == "exported to a.html\n"
    assert run_example("typer_cli.py", "deactivate", env=env).returncode == 0
    assert run_example("typer_cli.py", "report", env=env).returncode == 2


def test_typer_refusals_are_plain_lines(af, customer_env):
    free = af.create_license({"tier": "free"})
    result = run_example("typer_cli.py", "export", "a.html", env=customer_env(free))
    assert result.returncode == 1
    assert without_progress(result.stderr) == (
        "This needs a pro license (yours: free).\nTo upgrade, contact support@notes.example.\n"
    )

    revoked = af.create_license()
    af.revoke(revoked)
    result = run_example("typer_cli.py", "report", env=customer_env(revoked))
    assert result.returncode == 1
    assert without_progress(result.stderr) == (
        "This license was revoked.\nPlease contact support@notes.example.\n"
    )
    assert revoked not in result.stderr

    result = run_example("typer_cli.py", "activate", revoked, env=customer_env())
    assert result.returncode == 1
    assert without_progress(result.stderr).startswith("This license was revoked.\n")

    broken = customer_env(free, app={"PUBLIC_KEY": ""})  # a broken build
    result = run_example("typer_cli.py", "report", env=broken)
    assert result.returncode == 2
    assert without_progress(result.stderr) == (
        "This program's licensing is not set up correctly "
        "(AUTHFORGE_PUBLIC_KEY).\nPlease contact support@notes.example.\n"
    )


def test_typer_hung_license_server_ends_within_the_request_timeout(af, customer_env, silent_port):
    key = af.create_license()
    env = customer_env(
        key, app={"API_URL": f"http://127.0.0.1:{silent_port}"}, AUTHFORGE_REQUEST_TIMEOUT="2"
    )
    result = run_example("typer_cli.py", "report", env=env)
    assert result.returncode == 3
    assert result.stderr.splitlines() == [
        "Checking your license...",
        "Could not reach the license server to check your license (timeout).",
        "Check your internet connection and try again; if this keeps happening, "
        "contact support@notes.example.",
    ]


def test_typer_no_server_at_all_exits_3(af, customer_env):
    key = af.create_license()
    env = customer_env(key, app={"API_URL": "http://127.0.0.1:9"})
    result = run_example("typer_cli.py", "report", env=env)
    assert result.returncode == 3
    assert result.stderr.splitlines()[-2] == (
        "Could not reach the license server to check your license (network_error)."
    )
    assert NO_TRACEBACK not in result.stderr


def test_click_group_help_and_subcommand_help_need_no_license(af, customer_env):
    pytest.importorskip("click")
    bare = {
        k: v
        for k, v in customer_env(app={"APP_ID": ""}).items()  # a build with no app set up
        if not k.startswith("AUTHFORGE_")
    }
    for args in (["--help"], ["sync", "--help"], ["sync", "--dry-run", "--help"]):
        result = run_example("click_cli.py", *args, env=bare)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("Usage:")

    result = run_example("click_cli.py", "sync", env=bare)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        "This program's licensing is not set up correctly (AUTHFORGE_APP_ID)."
    )
    assert NO_TRACEBACK not in result.stderr


def test_click_group_licensed_once_for_every_subcommand(af, customer_env):
    pytest.importorskip("click")
    env = customer_env()
    assert run_example("click_cli.py", "sync", env=env).returncode == 2
    key = af.create_license()
    import subprocess
    import sys

    stored = subprocess.run(
        [sys.executable, "-m", "authforge_guard", "activate", key],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stored.returncode == 0, stored.stderr
    result = run_example("click_cli.py", "sync", "--dry-run", env=env)
    assert (result.returncode, result.stdout) == (0, "would sync 3 files\n")
    af.revoke(key)
    result = run_example("click_cli.py", "sync", env=env)
    assert (result.returncode, result.stdout) == (1, "")
    assert without_progress(result.stderr).startswith("This license was revoked.\n")


GUARD_LEVEL = """
from authforge_guard import configure, requires_license

configure(trust_environment=True, on_refused="exit", support_hint="help@vendor.example")

@requires_license
def main():
    print("licensed")

main()
"""


def test_on_refused_as_a_guard_setting(af, customer_env, tmp_path):
    import subprocess
    import sys

    script = tmp_path / "app.py"
    script.write_text(GUARD_LEVEL)
    revoked = af.create_license()
    af.revoke(revoked)
    result = subprocess.run(
        [sys.executable, str(script)],
        env=customer_env(revoked),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert without_progress(result.stderr) == (
        "This license was revoked.\nPlease contact help@vendor.example.\n"
    )
    good = af.create_license()
    result = subprocess.run(
        [sys.executable, str(script)],
        env=customer_env(good),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (0, "licensed\n")
    assert without_progress(result.stderr) == ""


def without_progress(stderr):
    """The customer's lines without the progress line a check slower than 1 s prints first
    (on a loaded machine even a loopback check can be)."""
    return stderr.replace("Checking your license...\n", "", 1)


BLOCK = """
import time
from authforge_guard import configure, licensed

configure(trust_environment=True, support_hint="help@vendor.example")
with licensed(on_refused="exit") as session:
    print("working", session.tier, flush=True)
    time.sleep(120)  # cut short by a loss
"""


def test_licensed_block_with_on_refused_exit(af, customer_env, tmp_path):
    import subprocess
    import sys

    script = tmp_path / "block.py"
    script.write_text(BLOCK)
    revoked = af.create_license()
    af.revoke(revoked)
    result = subprocess.run(
        [sys.executable, str(script)],
        env=customer_env(revoked),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert without_progress(result.stderr) == (
        "This license was revoked.\nPlease contact help@vendor.example.\n"
    )

    key = af.create_license({"tier": "pro"})
    env = customer_env(key, AUTHFORGE_HEARTBEAT="online", AUTHFORGE_HEARTBEAT_INTERVAL="0.2")
    process = subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline() == "working pro\n"
        af.revoke(key)  # lost while working: told the same way, at the block's end
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1
    assert err == "This license was revoked.\nPlease contact help@vendor.example.\n"


TYPER_CALLBACK = """
import contextlib

import typer

from authforge_guard import ConfigurationError, configure, requires_license

app = typer.Typer(add_completion=False)


@requires_license
def helper():
    return "helper"


@app.callback()
@requires_license(on_refused="exit")
def main(ctx: typer.Context, verbose: bool = False):
    \"\"\"Reports, licensed once for every subcommand.\"\"\"
    ctx.obj = {"verbose": verbose, "helper": helper(), "group": ctx.info_name}
    print("group ran")


@app.command()
def report(ctx: typer.Context, days: int = 1):
    \"\"\"Make a report.\"\"\"
    print("report", days, ctx.obj)


@app.command()
def other():
    \"\"\"Something else.\"\"\"


with contextlib.suppress(ConfigurationError):
    configure(trust_environment=True, support_hint="help@vendor.example")
app()
"""


def test_typer_callback_gate_lets_subcommand_help_through(af, customer_env, tmp_path):
    """Issue 26, defect 2: ``@requires_license(on_refused="exit")`` on ``@app.callback()``:
    ``app SUB --help`` shows help without a license (typer carries its own copy of click);
    every subcommand still needs one, and the group's callback runs first, in its context."""
    import subprocess
    import sys

    script = tmp_path / "reports.py"
    script.write_text(TYPER_CALLBACK)

    def run(*args, env):
        return subprocess.run(
            [sys.executable, str(script), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    bare = {k: v for k, v in customer_env().items() if not k.startswith("AUTHFORGE_")}
    for args in (["--help"], ["report", "--help"], ["report", "--days", "3", "--help"]):
        result = run(*args, env=bare)
        assert result.returncode == 0, result.stderr
        assert "Usage:" in result.stdout and "group ran" not in result.stdout
    result = run("report", env=bare)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("This program's licensing is not set up correctly")

    revoked = af.create_license()
    af.revoke(revoked)
    result = run("report", env=customer_env(revoked))
    assert (result.returncode, result.stdout) == (1, "")
    assert without_progress(result.stderr).startswith("This license was revoked.\n")

    result = run("--verbose", "report", "--days", "3", env=customer_env(af.create_license()))
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "group ran\nreport 3 {'verbose': True, 'helper': 'helper', 'group': 'reports.py'}\n"
    )
