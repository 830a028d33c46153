"""Every subcommand answers ``--help``; the exit codes are documented where users look."""

import argparse

import pytest

from authforge_guard.cli import build_parser, main


def all_command_paths(parser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from all_command_paths(sub, (*prefix, name))


PATHS = list(all_command_paths(build_parser()))


def test_the_commands_of_the_issue_are_there():
    top = {path[0] for path in PATHS}
    assert top == {
        "hwid",
        "check",
        "verify-file",
        "activate",
        "deactivate",
        "activation-request",
        "server",
        "admin",
        "demo",
    }


@pytest.mark.parametrize("path", PATHS, ids=" ".join)
def test_help_everywhere(path, capsys):
    args = list(path)
    if path[0] == "admin" and len(path) > 1:
        args = ["admin", "--db", "x.sqlite3", *path[1:]]
    with pytest.raises(SystemExit) as info:
        main([*args, "--help"])
    out = capsys.readouterr().out
    assert info.value.code == 0 and out.startswith("usage: authforge-guard")


def test_exit_codes_are_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert (
        "0 ok, 1 license refused, 2 usage or configuration error, 3 network"
        in capsys.readouterr().out.replace("\n", " ")
    )


def test_a_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["check", "--no-such-flag"])
    assert info.value.code == 2


def test_help_is_cheap():
    """Building the parser imports no crypto and no HTTP stack: the commands import on use."""
    import subprocess
    import sys

    code = (
        "import sys; from authforge_guard.cli import build_parser; build_parser(); "
        "heavy = {'cryptography', 'urllib3', 'wrapt'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
