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
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from types import ModuleType
from typing import Any, Optional

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
    """``FunctionWrapper`` from the C extension under a deferred package, or ``None``."""
    package = sys.modules.get("wrapt")
    if package is None and not os.environ.get("WRAPT_DISABLE_EXTENSIONS"):
        package = _install_deferred_package()
    if package is None or not _is_deferred(package):
        return None  # imported already: wrapt has made its own choice
    try:
        import wrapt._wrappers  # noqa: F401  (a statement, so -X importtime reports it)
    except ImportError:
        return None
    return getattr(sys.modules["wrapt._wrappers"], "FunctionWrapper", None)


def _full_type() -> Any:
    import wrapt  # the deferred package, if any, runs on this first attribute lookup

    return wrapt.FunctionWrapper


def _is_deferred(package: ModuleType) -> bool:
    return "__getattr__" in vars(package) and vars(package)["__getattr__"] is _complete


def _install_deferred_package() -> Optional[ModuleType]:
    """Put an unexecuted ``wrapt`` package in ``sys.modules``; ``None`` if there is none."""
    try:
        spec = importlib.util.find_spec("wrapt")  # finds it without running it
    except (ImportError, ValueError):
        return None
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return None
    package = importlib.util.module_from_spec(spec)
    package.__getattr__ = _complete  # type: ignore[method-assign]
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
            vars(package).pop("__getattr__", None)
    return getattr(package, name)
