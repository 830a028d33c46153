"""Issue 22: every module a public name loads on first use is named by an import statement
that a freezer follows (PyInstaller and Nuitka read import statements, not computed names;
Nuitka drops ``if TYPE_CHECKING:`` blocks), and every such name resolves."""

from __future__ import annotations

import ast
import inspect

import pytest

import authforge_guard
from authforge_guard import _protocol, cli


def imported_in(function) -> set[str]:
    """The modules ``from . import X`` / ``from .folder import X`` statements in ``function``
    name, as ``X`` / ``folder.X``."""
    tree = ast.parse(inspect.getsource(function))
    return {
        f"{node.module}.{alias.name}" if node.module else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 1
        for alias in node.names
    }


@pytest.mark.parametrize(
    ("package", "table"), [(authforge_guard, "_EXPORTS"), (_protocol, "_WHERE")]
)
def test_every_lazy_module_has_an_import_statement(package, table):
    wanted = {module.lstrip(".") for module in getattr(package, table).values()}
    assert wanted == imported_in(package._load)
    for name in getattr(package, table):
        assert getattr(package, name) is not None


def test_every_subcommand_module_has_an_import_statement():
    import pkgutil

    modules = {m.name for m in pkgutil.iter_modules(cli.__path__) if m.name.endswith("_cmd")}
    assert modules == imported_in(cli.build_parser)
