"""The process-wide default guard: ``configure()``, ``get_guard()``, and the guard that
exists before either has read a setting.

Why a module of its own: the decorators, ``licensed()``, the feature gates and
the framework integrations all fall back to one guard, and a library registers
its hooks on it at import time, long before the application sets
``AUTHFORGE_*`` or calls ``configure()``. So:

- the default guard is built *deferred* (``DeferredGuard``): ``get_guard()``
  never reads settings; the guard reads them at its first real use (a login, a
  check), and a missing setting is reported then, not at import time;
- hooks registered on it are kept from the start;
- ``configure()`` carries every hook, ``on_lost`` hook, transient hook and
  pending cleanup of the previous default guard over to the new one (the
  previous guard is logged out and would never run them again).

``Guard`` itself knows nothing of being the default: this module sits above
``_guard._facade`` and nothing here is imported back by it.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from .._delivery._hooks import HookRegistry
from .._guard._facade import Guard
from .._guard._session_table import SessionTable

# The default of Guard(hook_timeout=...): what a hook registered before the settings gets.
_DEFAULT_HOOK_TIMEOUT = 30.0


class _Default:
    """Holds the process-wide guard; decorators read ``.guard`` on their hot path."""

    __slots__ = ("guard", "lock")

    def __init__(self) -> None:
        self.guard: Guard | None = None
        self.lock = threading.Lock()


DEFAULT = _Default()


def configure(**kwargs: Any) -> Guard:
    """Make a ``Guard(**kwargs)`` the process-wide default.

    Every hook, ``on_lost``/``on_transient`` hook and pending cleanup registered
    on the previous default guard (by a library at import time, say) is carried
    over to the new one; the previous one is logged out.
    """
    guard = Guard(**kwargs)
    with DEFAULT.lock:
        previous, DEFAULT.guard = DEFAULT.guard, guard
        if previous is not None:
            guard._take_hooks_of(previous)
    if previous is not None and "settings" in vars(previous):
        previous.logout()
    return guard


def get_guard() -> Guard:
    """The process-wide default guard. Safe at import time: it reads its settings (the
    environment) at its first use, where a missing one raises ``ConfigurationError``;
    hooks can be registered on it before that."""
    guard = DEFAULT.guard
    if guard is not None:
        return guard
    with DEFAULT.lock:
        if DEFAULT.guard is None:
            DEFAULT.guard = DeferredGuard()
        return DEFAULT.guard


def _reset_default_for_tests() -> None:
    with DEFAULT.lock:
        previous, DEFAULT.guard = DEFAULT.guard, None
    if previous is not None and "settings" in vars(previous):
        previous.logout()


# What ``Guard.__init__`` sets on an instance: the only names a ``DeferredGuard`` builds
# itself for (tests/frameworks/test_libraries.py keeps this equal to a real Guard's).
SET_BY_GUARD_INIT = frozenset(
    {
        "settings",
        "_fast_session",
        "_hooks",
        "_policy",
        "_signal",
        "_upstream",
        "_fleet",
        "_table",
        "_losses",
        "_checks",
        "_login_flow",
    }
)


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
        # No session (``guard.session`` is None): an empty table, replaced when built.
        self._table = SessionTable(fleet=None, idle_timeout=0.0, max_sessions=0)
        self._fast_session = None  # guarded calls take the slow path, which builds the guard

    @property
    def configured(self) -> bool:
        return self._deferred_done

    def __repr__(self) -> str:
        if not self._deferred_done:
            return "Guard(default, settings not read yet)"
        return super().__repr__()

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes the instance does not have (yet). For one that
        # Guard.__init__ sets, build the guard (or wait for the thread building it), then
        # look again. Any other name is missing as on any object: ``hasattr()`` at import
        # time (a debugger, a serializer, an autocompleter probing it) must not read the
        # environment, nor raise ConfigurationError where AttributeError is expected.
        if name not in SET_BY_GUARD_INIT or self._deferred_done:
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
            early.copy_into(self._hooks)
            self._deferred_done = True


def _new_lock_after_fork() -> None:
    """A forked child gets a fresh lock: another thread of the parent may have held it."""
    DEFAULT.lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_after_fork)
