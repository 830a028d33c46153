"""wrapt's ``FunctionWrapper``, without running the rest of wrapt at start-up.

``import wrapt`` runs the whole package: import hooks, asyncio-based helpers,
``importlib.metadata``; on a slow machine tens of milliseconds, paid by every
licensed program before its first line runs. Our decorators need one type,
``FunctionWrapper``, from wrapt's C extension ``wrapt._wrappers``.

So the ``wrapt`` package module is created from its real spec but left
unexecuted, with a module ``__getattr__`` (PEP 562) that runs it the first
time anyone asks it for a name it does not have yet; ``wrapt._wrappers`` (and
``wrapt.exceptions``, which it imports) are then imported the ordinary way
beneath it. A program that later uses wrapt itself gets the whole package,
and ``wrapt.FunctionWrapper`` is the very type our decorated functions are.

Whenever that cannot be done exactly (wrapt already imported, no C extension,
``WRAPT_DISABLE_EXTENSIONS`` set, another layout of the package), wrapt is
simply imported.

A borrowed internal (CONTRIBUTING, "Borrowed internals"): no public way loads one
submodule of a package without running the package (``importlib.util.LazyLoader``
runs it as soon as a submodule is imported). What it relies on, exactly (wrapt 2.4 to
2.x, the range ``setup.cfg`` accepts; ``tests/guard/test_lazy_wrapt.py`` checks it
against the installed wrapt, ``tests/versions/test_wrapt_versions.py`` against the
oldest and the newest):

- ``wrapt`` is a directory package found by ``importlib.util.find_spec``
  with a loader that has ``exec_module`` (else: plain import);
- its C extension is the submodule ``wrapt._wrappers`` and defines
  ``FunctionWrapper`` (else: ``ImportError``/``AttributeError``, undone, plain import);
- importing ``wrapt._wrappers`` runs no code of the package's ``__init__``:
  it imports only ``wrapt.exceptions`` (2.4+; 1.x imports nothing, 2.0-2.3
  import ``wrapt.wrappers``). A release whose extension needs names from
  ``__init__`` triggers the deferred ``__getattr__``, which runs ``__init__``
  then, so the package is still complete, only loaded early;
- ``wrapt/__init__.py`` takes ``FunctionWrapper`` from ``wrapt._wrappers``
  when it runs later, so both are the same type (a release that stopped
  doing so would give decorated functions a type other than
  ``wrapt.FunctionWrapper``: the test named above fails on that).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import threading
from types import ModuleType
from typing import Any

_lock = threading.RLock()
_completing = False
_function_wrapper: Any = None


def function_wrapper_type() -> Any:
    """``wrapt.FunctionWrapper`` (the C implementation whenever wrapt has one)."""
    global _function_wrapper
    if _function_wrapper is None:
        with _lock:
            _function_wrapper = _core_type() or _full_type()
    return _function_wrapper


def _core_type() -> Any:
    """``FunctionWrapper`` from the C extension under a deferred package, or ``None``
    (and nothing left behind) when that cannot be had."""
    if "wrapt" in sys.modules or os.environ.get("WRAPT_DISABLE_EXTENSIONS"):
        return None  # imported already, or told not to: wrapt makes its own choice
    package = _install_deferred_package()
    if package is None:
        return None
    try:
        import wrapt._wrappers  # noqa: F401  (a statement, so -X importtime reports it)

        return sys.modules["wrapt._wrappers"].FunctionWrapper
    except (ImportError, AttributeError):
        # Undo, so that the plain import that follows starts from nothing.
        for name in ("wrapt", "wrapt._wrappers", "wrapt.exceptions"):
            sys.modules.pop(name, None)
        return None


def _full_type() -> Any:
    import wrapt  # a deferred package runs its __init__ on this first attribute lookup

    return wrapt.FunctionWrapper


def _is_deferred(package: ModuleType) -> bool:
    return vars(package).get("__getattr__") is _complete


def _install_deferred_package() -> ModuleType | None:
    """Put an unexecuted ``wrapt`` package in ``sys.modules``; ``None`` if there is none."""
    try:
        spec = importlib.util.find_spec("wrapt")  # finds it without running it
    except (ImportError, ValueError):
        return None
    if (
        spec is None
        or not spec.submodule_search_locations
        or not hasattr(spec.loader, "exec_module")
    ):
        return None
    package = importlib.util.module_from_spec(spec)
    # PEP 562: asked for a name it lacks, or for dir(), the package runs its __init__.
    package.__getattr__ = _complete  # type: ignore[method-assign]
    package.__dir__ = _complete_dir  # type: ignore[method-assign]
    sys.modules["wrapt"] = package
    return package


def _complete(name: str) -> Any:
    """The deferred package's ``__getattr__``: run wrapt's ``__init__`` once, then answer."""
    global _completing
    with _lock:
        package = sys.modules.get("wrapt")
        if package is None or _completing:  # gone, or asked for by wrapt's own __init__
            raise AttributeError(f"module 'wrapt' has no attribute {name!r}")
        if not _is_deferred(package):  # another thread completed it meanwhile
            return getattr(package, name)
        _completing = True
        try:
            spec = package.__spec__
            assert spec is not None and spec.loader is not None
            spec.loader.exec_module(package)
        except BaseException:
            # As after any failed import: the half-run package is not kept.
            sys.modules.pop("wrapt", None)
            raise
        finally:
            _completing = False
            # Under the GIL a lookup that missed a name sees either the name or
            # __getattr__, so no thread can miss both.
            vars(package).pop("__getattr__", None)
            vars(package).pop("__dir__", None)
    return getattr(package, name)


def _complete_dir() -> list[str]:
    """The deferred package's ``__dir__``: the names of the whole package."""
    package = sys.modules.get("wrapt")
    if package is not None and _is_deferred(package):
        with contextlib.suppress(AttributeError):  # wrapt's own __init__ asking
            _complete("__name__")
    return sorted(vars(package)) if package is not None else []
