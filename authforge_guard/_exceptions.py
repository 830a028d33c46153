"""Every exception the package raises, one small class per kind of failure, under one root::

    AuthForgeGuardError                 except AuthForgeGuardError: any of ours
    ├── AuthForgeError (ValueError)     a protocol or client failure, ``.code`` (the SDK's)
    ├── ConfigurationError (ValueError) a setting missing or unusable, ``.argument``
    └── LicenseError                    no license to be had, ``.code``, ``.user_message``
        ├── LicenseLost                 a live license lost while licensed work ran
        └── FeatureNotLicensed          the license does not grant ``.feature``

``AuthForgeError`` and ``ConfigurationError`` stay ``ValueError``s, so code written
against the official SDK keeps catching them. Messages never carry a secret: callers
pass codes and masked values only. A leaf of the import graph: it imports only
two leaves, the protocol's code table and the customer's words (``_words``),
so every layer can raise these.
"""

from __future__ import annotations

from typing import Any

from . import _words
from ._protocol._codes import is_transient_error as _is_transient


class AuthForgeGuardError(Exception):
    """The root of every error ``authforge_guard`` raises (see the tree above)."""


class _CodedError(AuthForgeGuardError):
    """An error with a machine-readable ``code`` and its classification."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    @property
    def transient(self) -> bool:
        """True when trying again later can succeed (a network failure, a rate limit)."""
        return _is_transient(self.code)

    @property
    def fatal(self) -> bool:
        """True when AuthForge definitively refused the session or license."""
        return not self.transient

    def __reduce__(self) -> Any:
        return (type(self), (self.code, str(self)))


# --- protocol / client ------------------------------------------------------


class AuthForgeError(_CodedError, ValueError):
    """A failure with a machine-readable ``code`` (a server verdict or a client code).

    ``str(exc)`` is a human message that starts with the code. A ``ValueError``
    so that code written against the official SDK keeps catching it.
    """

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(code, message if message is not None else code)


# --- integration layer ------------------------------------------------------


class _UserMessage:
    """``user_message``: the plain lines a customer-facing program shows for this error."""

    # Set by the integration that caught the error, from the guard's ``support_hint``.
    support_hint: str | None = None
    # True when the license is one person's (a chat user's, a tenant's), not this machine's:
    # the words then never speak of "this computer" or of environment variables.
    per_user: bool = False

    @property
    def kind(self) -> str:
        """What the failure means to a person: ``"refused"`` (a verdict: revoked, expired,
        a wrong key...), ``"unreachable"`` (no verdict came back: try again later),
        ``"not_set_up"`` (no key yet, or the vendor's setup is incomplete) or ``"feature"``
        (the license does not grant this)."""
        return _words.PUBLIC_KINDS[_words.kind_of(self)]  # type: ignore[arg-type]

    @property
    def user_message(self) -> str:
        """What happened and what to do, in a customer's words (no code names, no key)."""
        return "\n".join(_words.lines_of(self, self.support_hint))  # type: ignore[arg-type]


class ConfigurationError(_UserMessage, AuthForgeGuardError, ValueError):
    """A setting is missing or unusable; names the argument and its environment variable."""

    code = "configuration_error"

    def __init__(
        self, message: str, *, argument: str | None = None, env_var: str | None = None
    ) -> None:
        super().__init__(message)
        self.argument = argument
        self.env_var = env_var

    def __reduce__(self) -> Any:
        return (_rebuild_configuration_error, (str(self), self.argument, self.env_var))

    def _failure_kind(self) -> str:
        # No key yet is the customer's to fix; any other setting, the vendor's.
        if self.argument in ("license_key", "license_file"):
            return _words.MISSING_KEY
        return _words.CONFIGURATION


def _rebuild_configuration_error(
    message: str, argument: str | None, env_var: str | None
) -> ConfigurationError:
    return ConfigurationError(message, argument=argument, env_var=env_var)


class LicenseError(_UserMessage, _CodedError):
    """A license could not be obtained or kept; ``.code`` says why (``revoked``, ...)."""

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(code, message if message is not None else f"license refused: {code}")

    def _failure_kind(self) -> str:
        if self.fatal or self.code in _words.VERDICT_CODES:
            return _words.REFUSED
        return _words.UNREACHABLE


class LicenseLost(LicenseError):
    """A live license was lost (revoked, expired, ...) while licensed work was running.

    An ``Exception`` (a ``LicenseError``), so ``except LicenseError`` handles it.
    Catching it does not make the program licensed again: a loss is
    level-triggered, so the block it came from raises it again at its exit, and
    every guarded call inside that block raises it again.
    """

    #: Which session's loss this is (``Session.lineage``); 0 when unknown.
    lineage: int = 0

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(code, message if message is not None else f"license lost: {code}")


class FeatureNotLicensed(LicenseError):
    """A ``@feature`` gate denied access: the license does not grant ``feature``."""

    def __init__(self, feature: str, tier: str | None = None) -> None:
        super().__init__(
            "feature_not_licensed",
            f"feature {feature!r} is not licensed (tier: {tier if tier is not None else 'none'})",
        )
        self.feature = feature
        self.tier = tier

    @property
    def kind(self) -> str:
        return "feature"

    def _failure_kind(self) -> str:
        return _words.REFUSED

    def _own_lines(self, hint: str | None) -> list[str]:
        return _words.feature_lines(self.feature, self.tier, hint)

    def __reduce__(self) -> Any:
        return (type(self), (self.feature, self.tier))
