"""AuthForge licensing for Python programs: decorators, ``with`` blocks, feature gates.

``import authforge_guard`` is cheap: the public names below load their module
(and ``cryptography``/``urllib3``) on first use, so a command-line tool pays
for licensing only when it licenses.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from . import _sugar
from ._version import __version__

# A library logs; the application decides where that goes.
logging.getLogger("authforge_guard").addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from ._api._activate import activate, deactivate
    from ._api._decorators import requires_license
    from ._api._default_guard import configure, get_guard
    from ._api._features import feature, has_feature
    from ._api._library_hooks import add_cleanup, on, on_lost, on_transient
    from ._api._licensed import current_session, licensed
    from ._api._users import UserLicenses
    from ._client._dropin import AuthForgeClient
    from ._delivery._blocks import shield
    from ._delivery._hooks import LicenseEvent
    from ._exceptions import (
        AuthForgeError,
        AuthForgeGuardError,
        ConfigurationError,
        FeatureNotLicensed,
        LicenseError,
        LicenseLost,
    )
    from ._guard._facade import Guard
    from ._guard._session import Session
    from ._protocol import (
        DEFINITIVE_ERROR_CODES,
        hwid_from_machine_id,
        is_transient_error,
        normalize_machine_id,
        parse_license_file,
        verify_license_file,
    )
    from ._stores import SessionStore

# public name -> the private module that defines it
_EXPORTS: dict[str, str] = {
    "AuthForgeClient": "._client._dropin",
    "AuthForgeError": "._exceptions",
    "AuthForgeGuardError": "._exceptions",
    "ConfigurationError": "._exceptions",
    "FeatureNotLicensed": "._exceptions",
    "LicenseError": "._exceptions",
    "LicenseLost": "._exceptions",
    "DEFINITIVE_ERROR_CODES": "._protocol",
    "is_transient_error": "._protocol",
    "hwid_from_machine_id": "._protocol",
    "normalize_machine_id": "._protocol",
    "parse_license_file": "._protocol",
    "verify_license_file": "._protocol",
    "Guard": "._guard._facade",
    "configure": "._api._default_guard",
    "get_guard": "._api._default_guard",
    "LicenseEvent": "._delivery._hooks",
    "Session": "._guard._session",
    "SessionStore": "._stores",
    "UserLicenses": "._api._users",
    "requires_license": "._api._decorators",
    "licensed": "._api._licensed",
    "activate": "._api._activate",
    "deactivate": "._api._activate",
    "on": "._api._library_hooks",
    "on_lost": "._api._library_hooks",
    "on_transient": "._api._library_hooks",
    "add_cleanup": "._api._library_hooks",
    "current_session": "._api._licensed",
    "shield": "._delivery._blocks",
    "feature": "._api._features",
    "has_feature": "._api._features",
}

# Literal, so type checkers see the re-exports (kept equal to _EXPORTS by a test).
__all__ = [
    "DEFINITIVE_ERROR_CODES",
    "AuthForgeClient",
    "AuthForgeError",
    "AuthForgeGuardError",
    "ConfigurationError",
    "FeatureNotLicensed",
    "Guard",
    "LicenseError",
    "LicenseEvent",
    "LicenseLost",
    "Session",
    "SessionStore",
    "UserLicenses",
    "__version__",
    "activate",
    "add_cleanup",
    "configure",
    "current_session",
    "deactivate",
    "feature",
    "get_guard",
    "has_feature",
    "hwid_from_machine_id",
    "is_transient_error",
    "licensed",
    "normalize_machine_id",
    "on",
    "on_lost",
    "on_transient",
    "parse_license_file",
    "requires_license",
    "shield",
    "verify_license_file",
]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'authforge_guard' has no attribute {name!r}")
    value = getattr(_load(module_name[1:]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def _load(module: str) -> Any:
    """The private module ``module``, by an import statement of its own.

    Freezers see import statements, not computed names: PyInstaller and Nuitka
    follow each ``from . import _x`` below into the frozen program (Nuitka drops
    the ``TYPE_CHECKING`` block above), so a plain ``pyinstaller``/``nuitka``
    build needs no ``--hidden-import``. The statements run only here, on first
    use of a name, so ``import authforge_guard`` stays cheap; and an import
    statement is timed by ``-X importtime`` under the module's own name.
    """
    if module == "_api._activate":
        from ._api import _activate

        return _activate
    if module == "_client._dropin":
        from ._client import _dropin

        return _dropin
    if module == "_api._decorators":
        from ._api import _decorators

        return _decorators
    if module == "_api._default_guard":
        from ._api import _default_guard

        return _default_guard
    if module == "_delivery._blocks":
        from ._delivery import _blocks

        return _blocks
    if module == "_exceptions":
        from . import _exceptions

        return _exceptions
    if module == "_api._features":
        from ._api import _features

        return _features
    if module == "_guard._facade":
        from ._guard import _facade

        return _facade
    if module == "_delivery._hooks":
        from ._delivery import _hooks

        return _hooks
    if module == "_api._library_hooks":
        from ._api import _library_hooks

        return _library_hooks
    if module == "_api._licensed":
        from ._api import _licensed

        return _licensed
    if module == "_protocol":
        from . import _protocol

        return _protocol
    if module == "_guard._session":
        from ._guard import _session

        return _session
    if module == "_stores":
        from . import _stores

        return _stores
    if module == "_api._users":
        from ._api import _users

        return _users
    raise ImportError(f"authforge_guard: no import for {module!r}")  # a test keeps them equal


# Guard's convenience methods (``guard.requires_license``...) reach the public forms above
# it through this module's names: ``_guard`` cannot import them without an import circle.
_sugar.connect(__getattr__)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
