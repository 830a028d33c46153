"""The package's modules import each other in one direction: no import circles.

A circle (``a`` imports ``b``, which imports ``a``) makes the order of loading matter, hides which
layer depends on which, and invites the lazy import-inside-a-function trick that freezers cannot
always follow. The graph is read from the source (the AST), not from ``sys.modules``, so an import
inside a function counts as much as one at the top of a module: it is still an edge, only a
later one. Imports under ``if TYPE_CHECKING:`` are for the type checker alone and do not count.

``from . import name`` is an edge to the submodule ``name`` when there is one, else to the
package. A package's own ``__init__`` is a node like any module (its lazy ``__getattr__``
imports are edges too); the implicit "a submodule loads its package first" is not an edge, so a
package whose ``__init__`` loads its submodules lazily is not a circle with them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "authforge_guard"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE


def _modules() -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its own name)."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under ``node``, at any depth, outside ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                if isinstance(other, (ast.Import, ast.ImportFrom)):
                    yield other
                yield from _imports(other)
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        yield from _imports(child)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (anywhere in it)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        here = name.split(".") if is_package else name.split(".")[:-1]
        targets: list[str] = []
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets += [alias.name for alias in node.names]
                continue
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                targets.append(submodule if submodule in modules else source)
        edges = set()
        for target in targets:
            if target != PACKAGE and not target.startswith(PACKAGE + "."):
                continue
            while target not in modules:  # an attribute path: the module that holds it
                target = target.rsplit(".", 1)[0]
            if target != name:
                edges.add(target)
        graph[name] = edges
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle through each group of modules that import each other, as a path
    ``[a, b, ..., a]`` (Tarjan's strongly connected components, then a walk inside one)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:  # recursion depth is bounded by the package's size
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_path_through(graph, group) for group in groups]


def _path_through(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """The shortest circle from the group's first module back to itself (breadth first)."""
    start = min(group)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for other in sorted(graph[node] & group):
                if other == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if other not in came_from:
                    came_from[other] = node
                    following.append(other)
        frontier = following
    raise AssertionError(f"no circle in {sorted(group)}")  # pragma: no cover - a group has one


def _short(path: list[str]) -> str:
    return " -> ".join(name.removeprefix(PACKAGE + ".") for name in path)


def test_the_graph_sees_top_level_function_level_and_package_imports() -> None:
    graph = import_graph()
    # Top level: the façade imports its parts.
    assert f"{PACKAGE}._guard._session_table" in graph[f"{PACKAGE}._guard._facade"]
    # Inside a function: the package's lazy names are edges of its __init__.
    assert f"{PACKAGE}._guard._facade" in graph[PACKAGE]
    # `from . import _x` is an edge to the submodule, `from ._x import name` to the module.
    assert f"{PACKAGE}._delivery._interrupts" in graph[f"{PACKAGE}._delivery._blocks"]
    assert f"{PACKAGE}._base._console" in graph[f"{PACKAGE}._guard._policy"]
    # Under TYPE_CHECKING: not an edge (the Session type is only named there).
    assert f"{PACKAGE}._guard._session" not in graph[f"{PACKAGE}._delivery._blocks"]


def test_the_circle_finder_finds_a_planted_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert circles(graph) == [["a", "b", "c", "a"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_the_package_imports_itself_back() -> None:
    found = circles(import_graph())
    assert not found, "import circles:\n" + "\n".join(_short(path) for path in found)


def test_the_errors_import_only_leaves_so_every_layer_can_raise_them() -> None:
    graph = import_graph()
    imported = graph[f"{PACKAGE}._exceptions"]
    assert imported == {f"{PACKAGE}._words", f"{PACKAGE}._protocol._codes"}
    for leaf in (*imported, f"{PACKAGE}._sugar"):
        assert graph[leaf] == set(), f"{_short([leaf])} imports {sorted(graph[leaf])}"


# The layers, lowest first: a module imports modules of its own layer and of lower ones only.
# A layer is a folder of the package (or a few top-level modules). CONTRIBUTING shows the same map.
LAYERS: list[tuple[str, set[str]]] = [
    ("leaves", {"_version", "_words", "_sugar", "_records", "_exceptions"}),
    ("1 protocol", {"_protocol"}),
    ("base", {"_base"}),
    ("loss delivery", {"_delivery"}),
    ("2 transport", {"_transport"}),
    ("3 client", {"_client"}),
    ("stores", {"_stores"}),
    ("4 guard", {"_guard"}),
    ("5 API", {"_api"}),
    ("integrations", {"aiogram", "discord", "django", "fastapi", "flask", "qt", "telegram", "tk"}),
    ("public names", {""}),  # the package's __init__: its lazy names load the layers below
    ("local server", {"server", "testing", "pytest_plugin"}),
    ("command line", {"cli", "__main__"}),
]
# The one edge that goes up: the errors name the protocol's code table, itself a leaf.
UPWARD_LEAF_EDGES = {(f"{PACKAGE}._exceptions", f"{PACKAGE}._protocol._codes")}


def layer_of(module: str) -> int:
    """The index in ``LAYERS`` of ``module``'s folder (or top-level module)."""
    top = module.split(".")[1] if "." in module else ""
    for index, (_name, members) in enumerate(LAYERS):
        if top in members:
            return index
    raise AssertionError(f"{module} is in no layer: add its folder to LAYERS and CONTRIBUTING")


def test_every_module_imports_only_its_own_layer_and_the_ones_below() -> None:
    graph = import_graph()
    upward = [
        f"{_short([name])} ({LAYERS[layer_of(name)][0]}) -> {_short([target])} "
        f"({LAYERS[layer_of(target)][0]})"
        for name, targets in sorted(graph.items())
        for target in sorted(targets)
        if layer_of(target) > layer_of(name) and (name, target) not in UPWARD_LEAF_EDGES
    ]
    assert not upward, "imports that go up a layer:\n" + "\n".join(upward)
    for name, target in UPWARD_LEAF_EDGES:
        assert graph[target] == set(), f"{_short([target])} must stay a leaf"


def test_the_layer_check_sees_an_upward_import() -> None:
    assert layer_of(f"{PACKAGE}._guard._facade") > layer_of(f"{PACKAGE}._delivery._blocks")
    assert layer_of(f"{PACKAGE}._api._licensed") > layer_of(f"{PACKAGE}._guard._facade")
    assert layer_of(f"{PACKAGE}._transport._http") > layer_of(f"{PACKAGE}._base._scheduler")
