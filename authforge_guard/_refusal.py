"""What a refusal means to the person in front of the program: words, an exit code, an HTTP status.

One place decides how every licensing failure is told: a customer-facing CLI
(``on_refused="exit"``: plain stderr lines, exit 1 refused / 2 configuration /
3 AuthForge unreachable), ``LicenseError.user_message`` for apps that print
their own, and the web integrations (403 / 401 / 503). The texts never carry
key material: they are built from the error's code, feature and tier only.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

from . import _console
from ._exceptions import ConfigurationError, FeatureNotLicensed, LicenseError

logger = logging.getLogger("authforge_guard")

EXIT_REFUSED = 1
EXIT_CONFIGURATION = 2
EXIT_UNREACHABLE = 3

# The four things a failure can mean to whoever is in front of the program.
REFUSED = "refused"  # a verdict: revoked, expired, invalid key, feature not licensed...
MISSING_KEY = "missing_key"  # nobody entered a license key yet
CONFIGURATION = "configuration"  # the vendor's setup is incomplete or wrong
UNREACHABLE = "unreachable"  # no verdict came back: network, timeout, 5xx, rate limit

ON_REFUSED_CHOICES = ("raise", "exit")

# A web request that should carry a license key (``key_header=``) came without one.
MISSING_KEY_CODE = "missing_license_key"
DEFAULT_RETRY_AFTER = 30

PROGRESS_AFTER_SECONDS = 1.0
PROGRESS_LINE = "Checking your license..."

# Transient by the protocol's taxonomy (retrying cannot hurt), yet a verdict for a person.
_VERDICT_CODES = frozenset({"invalid_key", "feature_not_licensed", "license_conflict"})

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


def kind_of(exc: BaseException) -> str:
    """``REFUSED``, ``MISSING_KEY``, ``CONFIGURATION`` or ``UNREACHABLE`` for a licensing error."""
    if getattr(exc, "code", None) == MISSING_KEY_CODE:
        return MISSING_KEY
    if isinstance(exc, ConfigurationError):
        return MISSING_KEY if exc.argument in ("license_key", "license_file") else CONFIGURATION
    if isinstance(exc, FeatureNotLicensed):
        return REFUSED
    code = getattr(exc, "code", None)
    if isinstance(exc, LicenseError) and (exc.fatal or code in _VERDICT_CODES):
        return REFUSED
    return UNREACHABLE


# ``LicenseError.kind``: the four public words for what a failure means to a person.
_PUBLIC_KINDS = {
    REFUSED: "refused",
    UNREACHABLE: "unreachable",
    MISSING_KEY: "not_set_up",
    CONFIGURATION: "not_set_up",
}


def public_kind(exc: BaseException) -> str:
    """``LicenseError.kind``: ``"refused"``, ``"unreachable"``, ``"not_set_up"``, ``"feature"``."""
    if isinstance(exc, FeatureNotLicensed):
        return "feature"
    return _PUBLIC_KINDS[kind_of(exc)]


def exit_code_for(exc: BaseException) -> int:
    """1 refused, 2 configuration (a missing key included), 3 AuthForge unreachable."""
    kind = kind_of(exc)
    if kind == REFUSED:
        return EXIT_REFUSED
    if kind == UNREACHABLE:
        return EXIT_UNREACHABLE
    return EXIT_CONFIGURATION


def http_status_for(exc: BaseException) -> int:
    """403 refused or not licensed, 401 a request without its key, 503 unreachable, 500 a
    setup problem of the server (its own license key missing included)."""
    if isinstance(exc, ConfigurationError):
        return 500
    return {REFUSED: 403, MISSING_KEY: 401, UNREACHABLE: 503, CONFIGURATION: 500}[kind_of(exc)]


def http_answer(
    exc: BaseException, retry_after: int = DEFAULT_RETRY_AFTER
) -> tuple[int, dict[str, str], dict[str, str]]:
    """``(status, {"code", "detail"}, headers)`` for a web client: 403 refused or not
    licensed, 401 no key, 503 + ``Retry-After`` unreachable, 500 a setup problem (whose
    detail stays in the server's log). No key material, no setting names."""
    status = http_status_for(exc)
    code = str(getattr(exc, "code", "license_error"))
    headers: dict[str, str] = {}
    if status == 503:
        headers["Retry-After"] = str(int(retry_after))
        detail = "The license server could not be reached; try again later."
    elif status == 500:
        logger.error("authforge_guard: licensing is not configured: %s", exc)
        detail = "Licensing is not set up on this server."
    elif status == 401:
        code = MISSING_KEY_CODE
        detail = str(exc) if isinstance(exc, LicenseError) else "A license key is required."
    else:
        detail = _lines(exc, None)[0]
    return status, {"code": code, "detail": detail}, headers


def user_message(exc: BaseException, support_hint: str | None = None) -> str:
    """One or two plain lines: what happened, then what to do (with the vendor's hint)."""
    return "\n".join(_lines(exc, support_hint))


def _contact(support_hint: str | None) -> str:
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
            f"Activate with your license key. If you have no key, {_contact(hint)}.",
        ]
    if kind == CONFIGURATION:
        return ["Licensing is not set up correctly here.", f"Please {_contact(hint)}."]
    if kind == UNREACHABLE:
        what = _NO_VERDICT.get(code, "The license server cannot be reached right now")
        later = f"Try again in a few minutes; if this keeps happening, {_contact(hint)}."
        return [f"{what} ({code}).", later]
    refused = f"This license was refused ({code})."
    what = _PER_USER_WHAT.get(code) or _WHAT_HAPPENED.get(code, refused)
    todo = _PER_USER_TODO.get(code) or _WHAT_TO_DO.get(code)
    return [what, f"{todo}, or {_contact(hint)}." if todo else f"Please {_contact(hint)}."]


def _lines(exc: BaseException, hint: str | None) -> list[str]:
    kind = kind_of(exc)
    code = getattr(exc, "code", "unknown_error")
    if isinstance(exc, FeatureNotLicensed):
        yours = f" (yours: {exc.tier})" if exc.tier else ""
        article = "an" if exc.feature[:1].lower() in "aeio" else "a"
        return [
            f"This needs {article} {exc.feature} license{yours}.",
            f"To upgrade, {_contact(hint)}.",
        ]
    if getattr(exc, "per_user", False):
        return _per_user_lines(kind, code, hint)
    if kind == MISSING_KEY:
        return [
            "No license key is set up on this computer.",
            # The program's own activate command is the vendor's to name (README); the
            # variable works for every program.
            "Activate this program with your license key, or set AUTHFORGE_LICENSE_KEY. "
            f"If you have no key, {_contact(hint)}.",
        ]
    if kind == CONFIGURATION:
        setting = getattr(exc, "env_var", None) or getattr(exc, "argument", None)
        where = f" ({setting})" if setting else ""
        return [
            f"This program's licensing is not set up correctly{where}.",
            f"Please {_contact(hint)}.",
        ]
    if kind == UNREACHABLE:
        what = _NO_VERDICT.get(code, "Could not reach the license server to check your license")
        advice = "Try again later" if code in _NO_VERDICT else _NETWORK_ADVICE
        if code == "tls_error":
            what, advice = _TLS_WHAT, _TLS_ADVICE
        return [f"{what} ({code}).", f"{advice}; if this keeps happening, {_contact(hint)}."]
    what = _WHAT_HAPPENED.get(code, f"This license was refused ({code}).")
    todo = _WHAT_TO_DO.get(code)
    return [what, f"{todo}, or {_contact(hint)}." if todo else f"Please {_contact(hint)}."]


def support_hint_of(guard: Any) -> str | None:
    """The vendor's support hint (``Guard(support_hint=...)``), if the guard has one."""
    settings = getattr(guard, "__dict__", {}).get("settings") if guard is not None else None
    hint = getattr(settings, "support_hint", None)
    return hint if isinstance(hint, str) and hint.strip() else None


def on_refused_of(guard: Any, given: str | None) -> str:
    """``given`` if set, else the guard's ``on_refused`` setting, else ``"raise"``."""
    if given is not None:
        return given
    settings = getattr(guard, "__dict__", {}).get("settings") if guard is not None else None
    value = getattr(settings, "on_refused", None)
    return value if value in ON_REFUSED_CHOICES else "raise"


def check_on_refused(value: str | None) -> None:
    if value is not None and value not in ON_REFUSED_CHOICES:
        raise ValueError(f"on_refused must be 'raise' or 'exit'; got {value!r}")


def exit_for(exc: BaseException, support_hint: str | None = None) -> SystemExit:
    """Print the customer's lines to stderr and return the ``SystemExit`` to raise (no
    traceback: ``SystemExit`` is how a program ends on purpose)."""
    logger.info("authforge_guard: exiting: %s", getattr(exc, "code", type(exc).__name__))
    # No console (a windowed build): the log and the GUI's notifier get it; the exit
    # code still says it.
    _console.say(user_message(exc, support_hint))
    return SystemExit(exit_code_for(exc))


class _CheckDeadline(BaseException):
    """Raised in the main thread when a license check outlives the request timeout.

    A ``BaseException``: nothing between us and the socket may swallow it.
    """


class _Check:
    """The running check, as the interrupt handler sees a block: live until it is done."""

    shield_depth = 0

    def __init__(self, done: threading.Event) -> None:
        self._done = done

    @property
    def active(self) -> bool:
        return not self._done.is_set()


@contextlib.contextmanager
def customer_check(timeout: float | None) -> Iterator[None]:
    """Around a license check a person waits for: a progress line after a second, and an
    end after ``timeout`` seconds, retries included (a port that never answers becomes
    "could not reach the license server", exit 3, instead of minutes of silence). The
    requests stop by their own deadline in any thread and on every platform
    (``_watchdog.within``); in the main thread a signal also ends what is not a request."""
    from . import _interrupts, _watchdog
    from ._config import default_interrupt_signal

    done = threading.Event()
    lock = threading.Lock()

    def progress() -> None:
        with lock:
            if not done.is_set() and _console.console_usable():
                # Only to a console: a progress line is not worth a dialog or an ERROR.
                _console.say(PROGRESS_LINE)

    def expire() -> None:
        if not done.is_set() and signum is not None:
            # The handler raises it only while the check is still running.
            _interrupts.interrupt_main(signum, _interrupts.Request(_CheckDeadline(), _Check(done)))

    timers = [threading.Timer(PROGRESS_AFTER_SECONDS, progress)]
    signum = default_interrupt_signal()
    armed = (
        timeout is not None
        and signum is not None
        and threading.current_thread() is threading.main_thread()
        and _interrupts.can_interrupt(signum)
        and _interrupts.acquire(signum)
    )
    if armed:
        timers.append(threading.Timer(timeout, expire))  # type: ignore[arg-type]
    for timer in timers:
        timer.daemon = True
        timer.start()
    try:
        # The requests stop at the deadline on every platform; the signal above also ends
        # what is not a request (a slow DNS lookup), where signals can reach the main thread.
        with _watchdog.within(timeout):
            yield
    except _CheckDeadline:
        raise LicenseError(
            "timeout", f"timeout: no answer from AuthForge within {timeout:g}s"
        ) from None
    finally:
        done.set()
        with lock:  # a progress line being written finishes before we return
            pass
        for timer in timers:
            timer.cancel()
        if armed:
            assert signum is not None
            _interrupts.release(signum)
