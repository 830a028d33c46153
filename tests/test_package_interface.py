"""The rest of the package uses a Guard through its façade, never through its parts.

A ``Guard`` holds its parts (``_table``, ``_login_flow``, ``_upstream``, ``_checks``,
``_losses``, ``_policy``, ``_hooks``) as private attributes. The layers above (``_api``, the
integrations, the command line) and the delivery layer below may use the Guard's public
methods and a short list of private ones, the package interface below: each is a method of
the façade with a docstring (or, for the hot path, one attribute), named here with why it is
not public. The same holds for a ``Session``'s private members. So a part can change
without a module outside ``_guard/`` noticing, and a new reach into a part fails here
instead of growing unseen (the issue counted 35 such reaches before the split).

The check reads the source (the AST): an attribute ``x._name``, where ``x`` is not ``self``
or ``cls`` and ``_name`` is a private member of ``Guard`` or ``Session``, in a module outside
``_guard/``. A module's own classes' private names are not counted (``DeferredGuard`` sets
up its own ``_hooks``), nor are names that happen to be spelled like a member of another
object (``store._lock`` where ``store`` is no Guard) when the module defines them on a class
of its own; the test below plants a reach to show the check sees one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "authforge_guard"
OWNERS = {"Guard": "_guard/_facade.py", "Session": "_guard/_session.py"}

# Member -> why another module may use it (and why it is not public).
PACKAGE_INTERFACE = {
    # The hot path reads one attribute and nothing else (_decorators, _features).
    "Guard._fast_session": "the guarded hot path's one read",
    "Guard._open_block": "licensed(): a block counted on its session",
    "Guard._aopen_block": "async with licensed(): the same, the login off the loop",
    "Guard._close_block": "licensed(): the last block out logs its session out",
    "Guard._live_entry": "a sync licensed() in a running loop opens only on a live session",
    "Guard._signal": "licensed(): the signal that interrupts a block's thread",
    "Guard._session_of": "a guarded call inside a block runs on that block's session",
    "Guard._check_guarded_call": "a guarded call outside any block (the slow path)",
    "Guard._acheck_guarded_call": "the same for coroutines",
    "Guard._serve": "users(): a chat user's sessions live in the users' store",
    "Guard._forget_refusal": "activate(): a key typed again is a new question",
    "Guard._take_hooks_of": "configure(): hooks carried over from the previous default guard",
    "Guard._validate_once": "authforge-guard check: one validation, no session kept",
    # A session's state, read by code that must not run a property on the hot path or
    # that delivers its loss: none of it is for the program.
    "Session._loss": "the loss a block raises and whose hooks it waits for",
    "Session._state": "a feature gate's one read of the grants",
    "Session._ending": "a guarded call's one read of 'is this block's session ended'",
}

# The Guard's parts: never touched outside _guard/, whatever the table above says.
PARTS = {"_table", "_login_flow", "_upstream", "_checks", "_losses", "_policy", "_hooks"}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _members(cls: ast.ClassDef) -> set[str]:
    """The private names a class defines: its methods and properties, ``__slots__``, and
    the attributes its methods set on ``self``."""
    names = set()
    for stmt in cls.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and _private(stmt.name):
            names.add(stmt.name)
        if isinstance(stmt, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__slots__" for t in stmt.targets
        ):
            names.update(
                e.value
                for e in getattr(stmt.value, "elts", [])
                if isinstance(e, ast.Constant) and isinstance(e.value, str) and _private(e.value)
            )
    for node in ast.walk(cls):
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
                and _private(target.attr)
            ):
                names.add(target.attr)
    return names


def _classes(tree: ast.AST) -> Iterator[ast.ClassDef]:
    return (node for node in ast.walk(tree) if isinstance(node, ast.ClassDef))


def owned_members() -> dict[str, set[str]]:
    """``{"Guard": {...}, "Session": {...}}``: each owner's private names."""
    owned = {}
    for owner, relative in OWNERS.items():
        tree = ast.parse((PACKAGE_DIR / relative).read_text(encoding="utf-8"))
        (cls,) = (c for c in _classes(tree) if c.name == owner)
        owned[owner] = _members(cls)
    return owned


def reaches(source: str, owned: dict[str, set[str]]) -> Iterator[tuple[str, int]]:
    """``("Guard._name", line)`` for each use of an owner's private member in ``source``."""
    tree = ast.parse(source)
    own = set().union(*(_members(c) for c in _classes(tree)))
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and _private(node.attr)):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            continue
        if node.attr in own:
            continue
        for owner, names in owned.items():
            if node.attr in names:
                yield f"{owner}.{node.attr}", node.lineno


def package_reaches() -> dict[str, list[str]]:
    """Member -> ``"module.py:line"`` for every module outside ``_guard/``."""
    owned = owned_members()
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        relative = path.relative_to(PACKAGE_DIR).as_posix()
        if relative.startswith("_guard/"):
            continue
        for member, line in reaches(path.read_text(encoding="utf-8"), owned):
            found.setdefault(member, []).append(f"{relative}:{line}")
    return found


def test_outside_guard_only_the_package_interface_is_used() -> None:
    found = package_reaches()
    unnamed = {member: where for member, where in found.items() if member not in PACKAGE_INTERFACE}
    assert not unnamed, (
        "private members of Guard/Session used outside _guard/ (add a façade method, or "
        f"name it in PACKAGE_INTERFACE with why): {unnamed}"
    )
    parts = {m: w for m, w in found.items() if m.split(".")[1] in PARTS}
    assert not parts, f"the Guard's parts reached from outside _guard/: {parts}"


def test_every_name_of_the_package_interface_is_used_and_exists() -> None:
    found = package_reaches()
    owned = owned_members()
    for member in PACKAGE_INTERFACE:
        owner, name = member.split(".")
        assert name in owned[owner], f"{member} is no longer a member of {owner}"
        assert member in found, f"{member} is used by no module outside _guard/: drop it"


def test_each_method_of_the_package_interface_says_why_in_a_docstring() -> None:
    for owner, relative in OWNERS.items():
        tree = ast.parse((PACKAGE_DIR / relative).read_text(encoding="utf-8"))
        (cls,) = (c for c in _classes(tree) if c.name == owner)
        for stmt in cls.body:
            if (
                isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))
                and f"{owner}.{stmt.name}" in PACKAGE_INTERFACE
            ):
                assert ast.get_docstring(stmt), f"{owner}.{stmt.name} has no docstring"


def test_the_check_sees_a_planted_reach_into_a_part() -> None:
    owned = owned_members()
    planted = "def f(guard):\n    return guard._login_flow.slot(None, None, None)\n"
    assert list(reaches(planted, owned)) == [("Guard._login_flow", 2)]
    through_self = "class A:\n    def f(self):\n        return self._login_flow\n"
    assert list(reaches(through_self, owned)) == []
    own_name = "class B:\n    def __init__(self):\n        self._table = 1\nb = B()\nb._table\n"
    assert list(reaches(own_name, owned)) == []
