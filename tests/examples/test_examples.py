"""Every example runs against a local AuthForge server and does what its docstring says."""

import hashlib
import json
import socket
import sys

import pytest

from authforge_guard._protocol import resolve_hwid

from .conftest import EXAMPLES, example_env, run_example

ONLINE_FAST = {"AUTHFORGE_HEARTBEAT": "online", "AUTHFORGE_HEARTBEAT_INTERVAL": "0.2"}


# --- cli_tool.py --------------------------------------------------------------------


def test_cli_tool_counts_and_gates_top_on_pro(af, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("the cat and the hat\nthe end\n")
    pro = example_env(af, af.create_license({"tier": "pro"}))
    result = run_example("cli_tool.py", "--top", 1, text, env=pro)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{text}: 2 lines, 7 words\nthe 3\n"

    free = example_env(af, af.create_license({"tier": "free"}))
    result = run_example("cli_tool.py", "--top", 1, text, env=free)
    assert result.returncode == 1
    assert result.stderr == "wordstat: --top needs a pro license (yours: free)\n"
    assert run_example("cli_tool.py", text, env=free).returncode == 0


def test_cli_tool_refusals_and_help(af, tmp_path):
    key = af.create_license()
    af.revoke(key)
    result = run_example("cli_tool.py", tmp_path, env=example_env(af, key))
    assert (result.returncode, result.stderr) == (1, "wordstat: no license (revoked)\n")
    no_settings = example_env(af, key, app={"PUBLIC_KEY": ""})  # a broken build
    result = run_example("cli_tool.py", tmp_path, env=no_settings)
    assert result.returncode == 2 and "AUTHFORGE_PUBLIC_KEY" in result.stderr
    assert run_example("cli_tool.py", "--help", env=no_settings).returncode == 0


# --- worker.py ------------------------------------------------------------------------


def chain(items):
    digest = ""
    for item in range(items):
        digest = hashlib.sha256(f"{digest}{item}".encode()).hexdigest()
    return digest


def test_worker_saves_progress_on_revocation_and_resumes(af, tmp_path, start_example):
    checkpoint = tmp_path / "progress.json"
    key = af.create_license()
    worker = start_example(
        "worker.py",
        checkpoint,
        "--items",
        5000,  # 50 s of work: the loss ends it (finish() waits 20 s at most)
        "--delay",
        0.01,
        env=example_env(af, key, **ONLINE_FAST),
    )
    worker.read_until(lambda line: line == "item 20 done")
    af.revoke(key)
    code, err = worker.finish()
    assert code == 1, err
    stopped = worker.lines[-1]
    assert stopped.startswith("license lost (revoked): stopped at item ")
    saved = json.loads(checkpoint.read_text())
    assert f"progress saved: {saved['done']} items done" in worker.lines
    stopped_at = int(stopped.rsplit(" ", 1)[1])
    assert 20 < saved["done"] < 5000
    # The item in flight when the hook ran is either cut short or counted after the save.
    assert saved["done"] <= stopped_at <= saved["done"] + 1
    assert saved["digest"] == chain(saved["done"])  # a consistent checkpoint, not a torn one

    result = run_example(
        "worker.py",
        checkpoint,
        "--items",
        saved["done"] + 5,
        "--delay",
        0,
        env=example_env(af, af.create_license()),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"working from item {saved['done']}\n")
    assert json.loads(checkpoint.read_text()) == {
        "done": saved["done"] + 5,
        "digest": chain(saved["done"] + 5),
    }


# --- async_service.py -------------------------------------------------------------------


def ask(port, line):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(line.encode() + b"\n")
        return conn.makefile().readline()


@pytest.mark.parametrize(("tier", "answer"), [("pro", "HELLO\n"), ("free", "hello\n")])
def test_async_service_serves_then_stops_on_revocation(af, start_example, tier, answer):
    key = af.create_license({"tier": tier})
    service = start_example(
        "async_service.py", "--port", 0, env=example_env(af, key, **ONLINE_FAST)
    )
    ready = service.read_until(lambda line: line.startswith("serving on"))
    assert ready.endswith(f"(tier {tier})")
    port = int(ready.split(":")[1].split()[0])
    assert ask(port, "hello") == answer
    af.revoke(key)
    code, err = service.finish()
    assert (code, service.lines[-1]) == (1, "license lost (revoked): stopped serving"), err
    assert "Traceback" not in err


# --- click_app.py -----------------------------------------------------------------------


def test_click_app_gates_its_export_command(af):
    pytest.importorskip("click")
    pro = example_env(af, af.create_license({"tier": "pro"}))
    result = run_example("click_app.py", "export", "notes.txt", "--title", "Q3", env=pro)
    assert (result.returncode, result.stdout) == (0, "<h1>Q3</h1><p>exported notes.txt</p>\n")
    status = run_example("click_app.py", "status", env=pro)
    assert status.returncode == 0 and status.stdout.startswith("licensed: tier pro, key ")
    assert pro["AUTHFORGE_LICENSE_KEY"] not in status.stdout  # masked

    free = example_env(af, af.create_license({"tier": "free"}))
    result = run_example("click_app.py", "export", "notes.txt", env=free)
    assert result.returncode == 1
    assert result.stderr == "this command needs a pro license (yours: free)\n"
    assert run_example("click_app.py", "status", env=free).returncode == 0
    assert run_example("click_app.py", "export", env=free).returncode == 2  # click usage error


# --- offline_app.py ---------------------------------------------------------------------


def offline_env(af, license_file):
    # No secret, and an API URL where nothing listens: the file alone must do.
    return example_env(
        af,
        app={"API_URL": "http://127.0.0.1:9"},
        AUTHFORGE_APP_SECRET="",
        AUTHFORGE_LICENSE_FILE=str(license_file),
    )


def test_offline_app_runs_from_a_file_bound_to_this_machine(af, tmp_path):
    key = af.create_license({"tier": "pro"})
    path = tmp_path / "app.authforge"
    path.write_text(af.mint_offline_file(key, hwids=[resolve_hwid(af.app_id, None)]))
    result = run_example("offline_app.py", env=offline_env(af, path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "licensed offline: tier pro, expires never\nfull report with charts\n"

    path.write_text(af.mint_offline_file(key, hwids=["another-machine"]))
    result = run_example("offline_app.py", env=offline_env(af, path))
    assert (result.returncode, result.stderr) == (1, "license file refused (hwid_mismatch)\n")


def test_every_example_says_how_to_run_it():
    for path in EXAMPLES.glob("*.py"):
        if path.name == "typed_usage.py":
            continue
        source = path.read_text()
        assert source.startswith('"""') and "examples/README.md" in source, path.name
        assert f"python examples/{path.name}" in source, path.name
        assert 'if __name__ == "__main__":' in source and sys.version_info >= (3, 9)
