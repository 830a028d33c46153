"""Hooks a library registers at import time, before the program has configured licensing.

A library that uses the toolkit registers its cleanup when it is imported
(``authforge_guard.add_cleanup(flush_cache)``), long before the application
sets ``AUTHFORGE_*`` or calls ``configure()``. So:

- the default guard is built *deferred*: ``get_guard()`` never reads settings;
  the guard reads them at its first real use (a login, a check), and a
  missing setting is reported then, not at import time;
- hooks registered on it are kept from the start;
- ``configure()`` carries every hook, ``on_lost`` hook, transient hook and
  pending cleanup of the previous default guard over to the new one (the
  previous guard is logged out and would never run them again).
"""

from __future__ import annotations

import threading
from typing import Any, Callable, TypeVar, overload

from ._guard import Guard, get_guard
from ._hooks import _UNSET, HookRegistry

F = TypeVar("F", bound=Callable[..., Any])

# The default of Guard(hook_timeout=...): what a hook registered before the settings gets.
_DEFAULT_HOOK_TIMEOUT = 30.0


class DeferredGuard(Guard):
    """The default guard before its first use: hooks can be registered, settings are not read.

    Its first use of anything else runs ``Guard.__init__`` (reading the
    environment; a ``ConfigurationError`` then, and again at the next use, until
    the settings are complete), keeping the hooks registered so far.
    """

    def __init__(self) -> None:  # deliberately no Guard.__init__: that reads the settings
        self._deferred_lock = threading.RLock()
        self._deferred_building = False
        self._deferred_done = False
        self._hooks = HookRegistry(_DEFAULT_HOOK_TIMEOUT)
        self._entries: dict[Any, Any] = {}  # no session (``guard.session`` is None)
        self._fast_session = None  # guarded calls take the slow path, which builds the guard

    @property
    def configured(self) -> bool:
        return self._deferred_done

    def __repr__(self) -> str:
        if not self._deferred_done:
            return "Guard(default, settings not read yet)"
        return super().__repr__()

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes the instance does not have (yet): everything
        # Guard.__init__ sets. Build the guard (or wait for the thread building it),
        # then look again.
        if name.startswith("__") or name.startswith("_deferred") or self._deferred_done:
            raise AttributeError(name)
        self._build()
        return object.__getattribute__(self, name)

    def _build(self) -> None:
        with self._deferred_lock:  # another thread building it: wait here until it is done
            if self._deferred_done or self._deferred_building:
                return  # done, or asked by Guard.__init__ itself in this thread
            early = self._hooks
            self._deferred_building = True
            try:
                Guard.__init__(self)
            except BaseException:
                vars(self).pop("settings", None)  # still not configured: try again next use
                self._hooks = early  # keep them for the next attempt
                raise
            finally:
                self._deferred_building = False
            copy_hooks(early, self._hooks)
            self._deferred_done = True


def copy_hooks(source: HookRegistry, target: HookRegistry) -> None:
    """Add every hook and pending cleanup of ``source`` to ``target``, in their order."""
    if source is target:
        return
    with source._lock:
        by_code = {code: list(hooks) for code, hooks in source._by_code.items()}
        lost, transient = list(source._on_lost), list(source._on_transient)
        cleanups = list(source._cleanups)
    with target._lock:
        for code, hooks in by_code.items():
            target._by_code.setdefault(code, []).extend(hooks)
        target._on_lost.extend(lost)
        target._on_transient.extend(transient)
        target._cleanups.extend(cleanups)


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
    guard = get_guard()
    return guard._register(guard._hooks.add_lost_hook, fn, timeout)


@overload
def on_transient(fn: F) -> F: ...
@overload
def on_transient(*, timeout: float | None = ...) -> Callable[[F], F]: ...


def on_transient(fn: Any = None, *, timeout: Any = _UNSET) -> Any:
    """``@authforge_guard.on_transient``: a background check failed, the session lives."""
    guard = get_guard()
    return guard._register(guard._hooks.add_transient_hook, fn, timeout)


def add_cleanup(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run ``fn(*args, **kwargs)`` on a fatal loss of the default guard's license, after the
    hooks, last added first; safe to call at import time."""
    get_guard().add_cleanup(fn, *args, **kwargs)
