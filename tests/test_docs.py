"""The documentation is executable: every fenced ```python block of README.md and of every page
under docs/ runs, against a local AuthForge server, and prints what the ```text block right
after it says.

Each block runs as its own script in a fresh folder, as a reader who pastes it would run it,
with the AUTHFORGE_* variables of a local server and a new license whose variables are
{"tier": "pro"}. A block that defines ``test_`` functions runs under pytest (with this
package's fixtures); blocks that need a server of their own start a LocalAuthForge.

A block that cannot run that way (a GUI, a bot) has the line ``<!-- not run: <why> -->``
directly above its fence; the program it shows is an example under examples/ that a test runs.
The site itself is built by ``mkdocs build --strict`` in .ci/run (broken links fail it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from authforge_guard._guard._config import ENV_VARS
from authforge_guard.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
NOT_RUN = re.compile(r"^<!-- not run: (.+?) -->$")


class Block(NamedTuple):
    """A ```python block of a page: where it is, its code, the stdout it promises, and why it
    is not run (``None``: it is)."""

    page: Path
    line: int
    code: str
    expected: str | None
    skip: str | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def python_blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    fences = list(FENCE.finditer(text))
    found = []
    for index, fence in enumerate(fences):
        if fence.group(1) != "python":
            continue
        expected = None
        after = fences[index + 1] if index + 1 < len(fences) else None
        if after and after.group(1) == "text" and not text[fence.end() : after.start()].strip():
            expected = after.group(2)
        before = text[: fence.start()].rstrip("\n").rsplit("\n", 1)[-1]
        opt_out = NOT_RUN.match(before)
        line = text.count("\n", 0, fence.start()) + 1
        found.append(Block(page, line, fence.group(2), expected, opt_out and opt_out.group(1)))
    return found


BLOCKS = [block for page in PAGES for block in python_blocks(page)]
RUN = [block for block in BLOCKS if block.skip is None]


@pytest.fixture(scope="module")
def server():
    from authforge_guard.testing import LocalAuthForge

    with LocalAuthForge(heartbeat_rate_limit=None) as af:
        yield af


def pinned(code: str, server) -> str:
    """The app settings a snippet pins in code, filled in as a reader fills them in from
    their dashboard or their local server (here: the test's local server)."""
    for placeholder, value in [
        ('"your-app-id"', server.app_id),
        ('"your-public-key"', server.public_key),
        ('"https://auth.authforge.cc"', server.url),
        ('"http://127.0.0.1:8787"', server.url),  # the tutorial's `authforge-guard server`
    ]:
        code = code.replace(placeholder, repr(value))
    return code


@pytest.mark.parametrize("block", RUN, ids=[block.where for block in RUN])
def test_the_sample_runs(server, tmp_path, block):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHFORGE_")}
    env.update(server.environ(server.create_license({"tier": "pro"})))
    is_test_module = re.search(r"^def test_", block.code, flags=re.M) is not None
    script = tmp_path / ("test_snippet.py" if is_test_module else "snippet.py")
    script.write_text(pinned(block.code, server), encoding="utf-8")
    command = (
        # pytest-asyncio (a bot test dependency) warns on stderr about a setting these
        # samples have no use for; a reader without it sees the same output.
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:asyncio"]
        + [script.name]
        if is_test_module
        else [sys.executable, script.name]
    )
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{block.where}\n{result.stdout}\n{result.stderr}"
    if is_test_module:
        assert re.search(r"\d+ passed", result.stdout) and "failed" not in result.stdout
    if block.expected is not None:
        assert result.stdout == block.expected, f"{block.where} printed something else"
    assert result.stderr == "", f"{block.where} wrote to stderr:\n{result.stderr}"


def test_every_python_block_is_found():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert len(python_blocks(page)) == text.count("```python\n"), page
    assert len(RUN) >= 20


def test_an_opted_out_block_says_why_and_a_marker_is_never_stray():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        markers = re.findall(r"^<!-- not run:.*$", text, flags=re.M)
        skipped = [block for block in python_blocks(page) if block.skip is not None]
        assert len(markers) == len(skipped), f"{page}: a marker not directly above a block"
        assert all(block.skip.strip() for block in skipped)


def test_the_configuration_page_lists_every_variable():
    text = (ROOT / "docs/reference/configuration.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(AUTHFORGE_\w+)` \| `(\w+)` \|", text, flags=re.M)
    assert sorted(rows) == sorted((variable, keyword) for keyword, variable in ENV_VARS.items())


def test_every_command_the_docs_mention_exists_and_each_is_documented():
    commands = set()
    for action in build_parser()._actions:
        commands.update(getattr(action, "choices", None) or {})
    text = "\n".join(page.read_text(encoding="utf-8") for page in PAGES)
    mentioned = set(re.findall(r"authforge-guard ([a-z][a-z-]*)", text))
    assert mentioned and mentioned <= commands | {"server", "admin", "demo"}, mentioned - commands
    reference = (ROOT / "docs/reference/cli.md").read_text(encoding="utf-8")
    undocumented = [name for name in commands if f"| `{name}" not in reference]
    assert not undocumented, f"commands missing from docs/reference/cli.md: {undocumented}"
