import os
import subprocess
import sys

import pytest


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run ``authforge-guard ARGS`` in this process with exactly ``env``'s AUTHFORGE_*
    settings: (exit code, stdout, stderr)."""
    from authforge_guard.cli import main

    def run(*args, env=None):
        for name in [n for n in os.environ if n.startswith("AUTHFORGE_")]:
            monkeypatch.delenv(name)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def run_module(*args, env=None, timeout=60):
    """``python -m authforge_guard ARGS`` in a child process, with only ``env``'s settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AUTHFORGE_")}
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "authforge_guard", *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
