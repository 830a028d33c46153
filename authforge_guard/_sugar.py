"""How ``Guard``'s convenience methods reach the integrations, which sit above it.

``guard.requires_license``, ``guard.licensed()``, ``guard.feature`` and
``guard.has_feature`` are the module-level forms bound to one guard. Those
forms import ``_guard._facade`` (they check that ``guard=`` is a Guard, and fall back
to the default guard, which is one), so ``_guard._facade`` must not import them: that
would be an import circle. Instead the package's ``__init__``, which Python
runs before any module of the package, hands its lookup of public names in
here (``connect``), and a method asks for its form when it is called.

Nothing here imports another module of the package: it is a leaf of the
import graph, a seam (a test keeps the graph free of circles).
"""

from __future__ import annotations

from typing import Any, Callable

_lookup: Callable[[str], Any] | None = None


def connect(lookup: Callable[[str], Any]) -> None:
    """Called once by the package's ``__init__``: ``lookup(name)`` is the public ``name``."""
    global _lookup
    _lookup = lookup


def public(name: str) -> Any:
    """The package's public ``name`` (``requires_license``, ``licensed``, ``feature``...)."""
    if _lookup is None:  # cannot happen: the package's __init__ runs before its modules
        raise RuntimeError("authforge_guard: the package was not initialised")
    return _lookup(name)
