"""urllib3, loaded without running its ``urllib3.http2`` package until someone uses it.

``urllib3.connection`` imports ``urllib3.http2.probe``, which runs
``urllib3/http2/__init__.py``, whose first line imports ``importlib.metadata``
(with ``zipfile``, ``pathlib``, ``email``...): about a third of urllib3's import
time, paid by every licensed program's first request, for an HTTP/2 feature
(``inject_into_urllib3``) that we never use.

So, when urllib3 is not loaded yet, the ``urllib3.http2`` package module is
created from its real spec but left unexecuted, as ``_wrapt.py`` does for
wrapt: its submodules (``probe``, ``connection``) import the ordinary way
beneath it, and the first lookup of any other name (``inject_into_urllib3``,
``extract_from_urllib3``, ...) runs the package's ``__init__`` once, under a
lock, after which it is the plain package. A program that uses urllib3's
HTTP/2 support gets exactly what it would have had.

A borrowed internal (CONTRIBUTING, "Borrowed internals"; urllib3 2.2.3, the first
with ``urllib3.http2``, to 2.x): no public way loads a package's submodule without
running the package (``importlib.util.LazyLoader`` runs it as soon as a submodule is
imported), and a plain import took a login from 1.09x to 1.20x the floor of
``bench/run.py --only start_up`` (its target: 1.10x). ``tests/transport/test_lazy_urllib3.py``
is the spec, run on 2.0.0, 2.2.3 and the newest by ``tests/versions``. Relies on:
urllib3's package layout (``urllib3/http2/`` as a package found by
the standard path finder: a directory, or in a PyInstaller build its archive,
listed through ``pkgutil.iter_modules``) and PEP 562 module ``__getattr__``.
When either is not so (another finder, a zipped install, urllib3 already
imported, a future urllib3 without that package), urllib3 is simply imported.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import threading
from types import ModuleType
from typing import Any

_PACKAGE = "urllib3.http2"
_lock = threading.RLock()


def load() -> ModuleType:
    """``urllib3``, with ``urllib3.http2`` deferred when that can be done exactly."""
    loaded = sys.modules.get("urllib3")
    if loaded is not None:
        return loaded
    with _lock:
        deferred = _defer_http2() if "urllib3" not in sys.modules else None
        try:
            import urllib3
        except BaseException:
            if deferred is not None and sys.modules.get(_PACKAGE) is deferred:
                del sys.modules[_PACKAGE]
            raise
        if deferred is not None and sys.modules.get(_PACKAGE) is deferred:
            # An import that finds a module in sys.modules does not bind it on its
            # parent; a real import would have: ``urllib3.http2`` must resolve.
            vars(urllib3).setdefault("http2", deferred)
    return urllib3


def _defer_http2() -> ModuleType | None:
    """Put an unexecuted ``urllib3.http2`` in ``sys.modules``; ``None`` if it cannot be."""
    if _PACKAGE in sys.modules:
        return None
    try:
        top = importlib.machinery.PathFinder.find_spec("urllib3")
        locations = list(top.submodule_search_locations or ()) if top is not None else []
        spec = importlib.machinery.PathFinder.find_spec(_PACKAGE, locations) if locations else None
    except (ImportError, ValueError, OSError):
        return None
    if (
        spec is None
        or not spec.submodule_search_locations
        or spec.loader is None
        or not hasattr(spec.loader, "exec_module")
    ):
        return None
    package = importlib.util.module_from_spec(spec)
    submodules = _submodule_names(list(spec.submodule_search_locations))

    def complete(name: str) -> Any:
        """The deferred package's ``__getattr__``."""
        if name in submodules:
            # Not loaded yet: AttributeError lets ``from urllib3.http2 import probe``
            # import the submodule the ordinary way, without running __init__.
            raise AttributeError(name)
        return _complete(package, name)

    package.__getattr__ = complete  # type: ignore[method-assign]
    sys.modules[_PACKAGE] = package
    return package


def _submodule_names(locations: Any) -> frozenset[str]:
    names = set()
    for location in locations:
        try:
            entries = os.listdir(location)
        except OSError:
            continue
        for entry in entries:
            stem, ext = os.path.splitext(entry)
            if ext == ".py" and stem != "__init__":
                names.add(stem)
            elif not ext and os.path.isdir(os.path.join(location, entry)):
                names.add(entry)
    if not names:
        # Not plain files: a frozen program (PyInstaller keeps modules in an archive its
        # path-entry finder reads). Ask the finder, through the standard pkgutil protocol.
        import pkgutil

        names.update(module.name for module in pkgutil.iter_modules(locations))
    return frozenset(names)


_completing = False


def _complete(package: ModuleType, name: str) -> Any:
    """Run the package's ``__init__`` once, then answer ``name`` as the plain package would."""
    global _completing
    with _lock:
        hook = vars(package).get("__getattr__")
        if hook is None:  # another thread completed it meanwhile
            return getattr(package, name)
        if _completing:  # asked by the package's own __init__ while it runs
            raise AttributeError(f"module {_PACKAGE!r} has no attribute {name!r}")
        _completing = True
        try:
            spec = package.__spec__
            assert spec is not None and spec.loader is not None
            spec.loader.exec_module(package)
        finally:
            _completing = False
            # Under the GIL a lookup that missed a name sees either the name or
            # __getattr__, so no thread can miss both.
            if vars(package).get("__getattr__") is hook:
                del vars(package)["__getattr__"]
    return getattr(package, name)
