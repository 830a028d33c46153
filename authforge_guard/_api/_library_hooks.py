"""Hooks a library registers at import time, before the program has configured licensing.

A library that uses the toolkit registers its cleanup when it is imported
(``authforge_guard.add_cleanup(flush_cache)``), long before the application
sets ``AUTHFORGE_*`` or calls ``configure()``. These module-level forms
register on ``get_guard()``, the default guard, which reads no setting until
its first real use and hands its hooks on to whatever guard ``configure()``
makes the default later (see ``_default_guard``).
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar, overload

from .._delivery._hooks import _UNSET
from ._default_guard import get_guard

F = TypeVar("F", bound=Callable[..., Any])


# --- module-level registration: on the default guard, whenever it is configured ------


def on(*codes: str, timeout: Any = _UNSET) -> Callable[[F], F]:
    """``@authforge_guard.on("revoked")``: ``get_guard().on(...)``, safe at import time."""
    return get_guard().on(*codes, timeout=timeout)


@overload
def on_lost(fn: F) -> F: ...
@overload
def on_lost(*, timeout: float | None = ...) -> Callable[[F], F]: ...


def on_lost(fn: Any = None, *, timeout: Any = _UNSET) -> Any:
    """``@authforge_guard.on_lost``: run on any fatal loss of the default guard's license,
    whichever guard ``configure()`` makes the default later."""
    register = get_guard().on_lost(timeout=timeout)
    return register if fn is None else register(fn)


@overload
def on_transient(fn: F) -> F: ...
@overload
def on_transient(*, timeout: float | None = ...) -> Callable[[F], F]: ...


def on_transient(fn: Any = None, *, timeout: Any = _UNSET) -> Any:
    """``@authforge_guard.on_transient``: a background check failed, the session lives."""
    register = get_guard().on_transient(timeout=timeout)
    return register if fn is None else register(fn)


def add_cleanup(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run ``fn(*args, **kwargs)`` on a fatal loss of the default guard's license, after the
    hooks, last added first; safe to call at import time."""
    get_guard().add_cleanup(fn, *args, **kwargs)
