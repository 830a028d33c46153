"""What a licensing failure means to a person, in words: its kind and the lines they read.

A leaf of the import graph (it imports no module of the package): the errors
(``_exceptions``) build their ``kind`` and ``user_message`` from it, and
``_refusal`` builds the exit codes, HTTP answers and the customer-facing exit on
it. The texts never carry key material: they are built from an error's code,
feature and tier only.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

# The four things a failure can mean to whoever is in front of the program.
REFUSED = "refused"  # a verdict: revoked, expired, invalid key, feature not licensed...
MISSING_KEY = "missing_key"  # nobody entered a license key yet
CONFIGURATION = "configuration"  # the vendor's setup is incomplete or wrong
UNREACHABLE = "unreachable"  # no verdict came back: network, timeout, 5xx, rate limit


# A web request that should carry a license key (``key_header=``) came without one.
MISSING_KEY_CODE = "missing_license_key"

# Transient by the protocol's taxonomy (retrying cannot hurt), yet a verdict for a person.
VERDICT_CODES = frozenset({"invalid_key", "feature_not_licensed", "license_conflict"})

_WHAT_HAPPENED = {
    "revoked": "This license was revoked.",
    "expired": "This license has expired.",
    "invalid_key": "This license key is not valid.",
    "hwid_mismatch": "This license is already in use on another computer.",
    "blocked": "This license is blocked.",
    "session_expired": "The license session has ended.",
    "app_disabled": "Licensing for this program is disabled by its vendor.",
    "invalid_app": "This program's licensing is not set up correctly.",
    "signature_mismatch": "The license server's answer could not be verified.",
    "session_mismatch": "The license server's answer was not for this license and computer.",
    "server_unreachable": "The license server could not be reached for too long.",
    "offline_file_rejected": "The license file is not valid on this computer.",
}

# No verdict came back: why, in words (the code follows in brackets).
_NO_VERDICT = {
    "rate_limited": "The license server is busy and could not check your license",
    "no_credits": "The license server is not accepting checks for this program right now",
    "app_burn_cap_reached": "The license server is not accepting checks for this program right now",
}
_NETWORK_ADVICE = "Check your internet connection and try again"
# The connection worked; this computer does not trust the server's certificate.
_TLS_WHAT = "The license server's certificate could not be verified on this computer"
_TLS_ADVICE = (
    "Check that this computer's date and time are right; on a company network, its IT "
    "department may need to allow the license server"
)

_WHAT_TO_DO = {
    "invalid_key": "Check the key you entered",
    "expired": "Renew your license",
    "hwid_mismatch": "Free a seat on the other computer",
}


# What an error may tell this module about itself. The errors (``_exceptions``) import this
# module, so it cannot import them: it asks for these two methods instead of their classes.


@runtime_checkable
class Judged(Protocol):
    """An error that says what it means to a person (``LicenseError``, ``ConfigurationError``)."""

    def _failure_kind(self) -> str:
        """``REFUSED``, ``MISSING_KEY``, ``CONFIGURATION`` or ``UNREACHABLE``."""
        ...


@runtime_checkable
class Worded(Protocol):
    """An error with lines of its own (``FeatureNotLicensed``: which license it needs)."""

    def _own_lines(self, hint: str | None) -> list[str]:
        """What happened, then what to do."""
        ...


def kind_of(exc: BaseException) -> str:
    """``REFUSED``, ``MISSING_KEY``, ``CONFIGURATION`` or ``UNREACHABLE`` for a licensing error.

    Each error of ours says its kind (``Judged``). Any other error (``AuthForgeError``
    included) is a failure without a verdict."""
    if getattr(exc, "code", None) == MISSING_KEY_CODE:
        return MISSING_KEY
    if isinstance(exc, Judged):
        return exc._failure_kind()
    return UNREACHABLE


# ``LicenseError.kind``: the four public words for what a failure means to a person.
PUBLIC_KINDS = {
    REFUSED: "refused",
    UNREACHABLE: "unreachable",
    MISSING_KEY: "not_set_up",
    CONFIGURATION: "not_set_up",
}


def contact(support_hint: str | None) -> str:
    return f"contact {support_hint}" if support_hint else "contact the vendor of this program"


# A person's own license (a chat user's, a tenant's): no "computer", no setting names.
_PER_USER_WHAT = {
    "hwid_mismatch": "This license is already in use by another account.",
    "offline_file_rejected": "This license file is not valid for your account.",
    "invalid_app": "Licensing is not set up correctly here.",
    "app_disabled": "Licensing is disabled by the vendor.",
}
_PER_USER_TODO = {"hwid_mismatch": "Use your own license key"}


def _per_user_lines(kind: str, code: str, hint: str | None) -> list[str]:
    if kind == MISSING_KEY:
        return [
            "You have no license yet.",
            f"Activate with your license key. If you have no key, {contact(hint)}.",
        ]
    if kind == CONFIGURATION:
        return ["Licensing is not set up correctly here.", f"Please {contact(hint)}."]
    if kind == UNREACHABLE:
        what = _NO_VERDICT.get(code, "The license server cannot be reached right now")
        later = f"Try again in a few minutes; if this keeps happening, {contact(hint)}."
        return [f"{what} ({code}).", later]
    refused = f"This license was refused ({code})."
    what = _PER_USER_WHAT.get(code) or _WHAT_HAPPENED.get(code, refused)
    todo = _PER_USER_TODO.get(code) or _WHAT_TO_DO.get(code)
    return [what, f"{todo}, or {contact(hint)}." if todo else f"Please {contact(hint)}."]


def lines_of(exc: BaseException, hint: str | None) -> list[str]:
    """What happened, then what to do, for any error: its own words when it has them
    (``Worded``), else by its kind and code."""
    if isinstance(exc, Worded):
        return exc._own_lines(hint)
    setting = getattr(exc, "env_var", None) or getattr(exc, "argument", None)
    return lines_for(
        kind_of(exc),
        getattr(exc, "code", "unknown_error"),
        hint,
        per_user=bool(getattr(exc, "per_user", False)),
        setting=setting,
    )


def feature_lines(feature: str, tier: str | None, hint: str | None) -> list[str]:
    """A feature the license does not grant: which license it needs, and whom to ask."""
    yours = f" (yours: {tier})" if tier else ""
    article = "an" if feature[:1].lower() in "aeio" else "a"
    return [f"This needs {article} {feature} license{yours}.", f"To upgrade, {contact(hint)}."]


def lines_for(
    kind: str, code: Any, hint: str | None, *, per_user: bool = False, setting: str | None = None
) -> list[str]:
    """The lines for a failure of ``kind`` with ``code``; ``setting`` names what to fix."""
    if per_user:
        return _per_user_lines(kind, code, hint)
    if kind == MISSING_KEY:
        return [
            "No license key is set up on this computer.",
            # The program's own activate command is the vendor's to name (README); the
            # variable works for every program.
            "Activate this program with your license key, or set AUTHFORGE_LICENSE_KEY. "
            f"If you have no key, {contact(hint)}.",
        ]
    if kind == CONFIGURATION:
        where = f" ({setting})" if setting else ""
        return [
            f"This program's licensing is not set up correctly{where}.",
            f"Please {contact(hint)}.",
        ]
    if kind == UNREACHABLE:
        what = _NO_VERDICT.get(code, "Could not reach the license server to check your license")
        advice = "Try again later" if code in _NO_VERDICT else _NETWORK_ADVICE
        if code == "tls_error":
            what, advice = _TLS_WHAT, _TLS_ADVICE
        return [f"{what} ({code}).", f"{advice}; if this keeps happening, {contact(hint)}."]
    what = _WHAT_HAPPENED.get(code, f"This license was refused ({code}).")
    todo = _WHAT_TO_DO.get(code)
    return [what, f"{todo}, or {contact(hint)}." if todo else f"Please {contact(hint)}."]
