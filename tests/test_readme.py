"""The README is executable: every fenced ```python block runs, against a local AuthForge
server, and prints what the ```text block after it says.

Each block runs as its own script in a fresh folder, as a reader who pastes it would run
it, with the AUTHFORGE_* variables of a local server and a new license whose variables
are {"tier": "pro"}. A block that defines ``test_`` functions runs under pytest (with
this package's fixtures); blocks that need a server of their own start a LocalAuthForge.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from authforge_guard._config import ENV_VARS
from authforge_guard.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
FIRST_LINES = """\
# authforge_guard

```bash
python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/authforge-guard demo
python3 -m venv .venv && .venv/bin/pip install -e ".[test]" && .venv/bin/python -m pytest
```
"""


def python_blocks():
    """``(line, code, expected stdout or None)`` for every ```python block."""
    fences = list(FENCE.finditer(TEXT))
    found = []
    for index, fence in enumerate(fences):
        if fence.group(1) != "python":
            continue
        expected = None
        after = fences[index + 1] if index + 1 < len(fences) else None
        if after and after.group(1) == "text" and not TEXT[fence.end() : after.start()].strip():
            expected = after.group(2)
        found.append((TEXT.count("\n", 0, fence.start()) + 1, fence.group(2), expected))
    return found


BLOCKS = python_blocks()


@pytest.fixture(scope="module")
def server():
    from authforge_guard.testing import LocalAuthForge

    with LocalAuthForge(heartbeat_rate_limit=None) as af:
        yield af


def pinned(code, server):
    """The app settings a snippet pins in code, filled in as a reader fills them in from
    their dashboard (here: the local server's app)."""
    for placeholder, value in [
        ('"your-app-id"', server.app_id),
        ('"your-public-key"', server.public_key),
        ('"https://auth.authforge.cc"', server.url),
    ]:
        code = code.replace(placeholder, repr(value))
    return code


@pytest.mark.parametrize(
    ("line", "code", "expected"), BLOCKS, ids=[f"README.md:{line}" for line, _, _ in BLOCKS]
)
def test_the_snippet_runs(server, tmp_path, line, code, expected):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHFORGE_")}
    env.update(server.environ(server.create_license({"tier": "pro"})))
    is_test_module = re.search(r"^def test_", code, flags=re.M) is not None
    script = tmp_path / ("test_snippet.py" if is_test_module else "snippet.py")
    script.write_text(pinned(code, server), encoding="utf-8")
    command = (
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", script.name]
        if is_test_module
        else [sys.executable, script.name]
    )
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"README.md:{line}\n{result.stdout}\n{result.stderr}"
    if is_test_module:
        assert re.search(r"\d+ passed", result.stdout) and "failed" not in result.stdout
    if expected is not None:
        assert result.stdout == expected, f"README.md:{line} printed something else"
    assert result.stderr == "", f"README.md:{line} wrote to stderr:\n{result.stderr}"


def test_every_python_block_is_found():
    assert len(BLOCKS) == TEXT.count("```python\n") >= 10


def test_the_first_lines_are_the_two_commands():
    assert TEXT.startswith(FIRST_LINES)


def test_the_configuration_table_lists_every_variable():
    section = TEXT.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(AUTHFORGE_\w+)` \| `(\w+)` \|", section, flags=re.M)
    assert sorted(rows) == sorted((variable, keyword) for keyword, variable in ENV_VARS.items())


def test_every_command_the_readme_mentions_exists():
    commands = set()
    for action in build_parser()._actions:
        commands.update(getattr(action, "choices", None) or {})
    mentioned = set(re.findall(r"authforge-guard ([a-z][a-z-]*)", TEXT))
    assert mentioned and mentioned <= commands | {"server", "admin", "demo"}, mentioned - commands
    assert commands <= mentioned  # and each command is documented
