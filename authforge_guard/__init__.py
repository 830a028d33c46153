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
    from ._activate import activate, deactivate
    from ._client import AuthForgeClient
    from ._decorators import requires_license
    from ._default_guard import configure, get_guard
    from ._delivery import shield
    from ._exceptions import (
        AuthForgeError,
        AuthForgeGuardError,
        ConfigurationError,
        FeatureNotLicensed,
        LicenseError,
        LicenseLost,
    )
    from ._features import feature, has_feature
    from ._guard import Guard
    from ._hooks import LicenseEvent
    from ._library_hooks import add_cleanup, on, on_lost, on_transient
    from ._licensed import current_session, licensed
    from ._protocol import (
        DEFINITIVE_ERROR_CODES,
        hwid_from_machine_id,
        is_transient_error,
        normalize_machine_id,
        parse_license_file,
        verify_license_file,
    )
    from ._session import Session
    from ._stores import SessionStore
    from ._users import UserLicenses

# public name -> the private module that defines it
_EXPORTS: dict[str, str] = {
    "AuthForgeClient": "._client",
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
    "Guard": "._guard",
    "configure": "._default_guard",
    "get_guard": "._default_guard",
    "LicenseEvent": "._hooks",
    "Session": "._session",
    "SessionStore": "._stores",
    "UserLicenses": "._users",
    "requires_license": "._decorators",
    "licensed": "._licensed",
    "activate": "._activate",
    "deactivate": "._activate",
    "on": "._library_hooks",
    "on_lost": "._library_hooks",
    "on_transient": "._library_hooks",
    "add_cleanup": "._library_hooks",
    "current_session": "._licensed",
    "shield": "._delivery",
    "feature": "._features",
    "has_feature": "._features",
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
    if module == "_activate":
        from . import _activate

        return _activate
    if module == "_client":
        from . import _client

        return _client
    if module == "_decorators":
        from . import _decorators

        return _decorators
    if module == "_default_guard":
        from . import _default_guard

        return _default_guard
    if module == "_delivery":
        from . import _delivery

        return _delivery
    if module == "_exceptions":
        from . import _exceptions

        return _exceptions
    if module == "_features":
        from . import _features

        return _features
    if module == "_guard":
        from . import _guard

        return _guard
    if module == "_hooks":
        from . import _hooks

        return _hooks
    if module == "_library_hooks":
        from . import _library_hooks

        return _library_hooks
    if module == "_licensed":
        from . import _licensed

        return _licensed
    if module == "_protocol":
        from . import _protocol

        return _protocol
    if module == "_session":
        from . import _session

        return _session
    if module == "_stores":
        from . import _stores

        return _stores
    if module == "_users":
        from . import _users

        return _users
    raise ImportError(f"authforge_guard: no import for {module!r}")  # a test keeps them equal


# Guard's convenience methods (``guard.requires_license``...) reach the public forms above
# it through this module's names: ``_guard`` cannot import them without an import circle.
_sugar.connect(__getattr__)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
