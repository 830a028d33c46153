"""What a refusal means to the person in front of the program: words, an exit code, an HTTP status.

One place decides how every licensing failure is told: a customer-facing CLI
(``on_refused="exit"``: plain stderr lines, exit 1 refused / 2 configuration /
3 AuthForge unreachable), ``LicenseError.user_message`` for apps that print
their own, and the web integrations (403 / 401 / 503). The words themselves,
and what kind of failure an error is, are ``_words``'s (a leaf the errors use too).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

from .._base import _console
from .._exceptions import ConfigurationError, LicenseError
from .._words import (
    CONFIGURATION,
    MISSING_KEY,
    MISSING_KEY_CODE,
    REFUSED,
    UNREACHABLE,
    kind_of,
    lines_of,
)

logger = logging.getLogger("authforge_guard")

EXIT_REFUSED = 1
EXIT_CONFIGURATION = 2
EXIT_UNREACHABLE = 3

ON_REFUSED_CHOICES = ("raise", "exit")

DEFAULT_RETRY_AFTER = 30

PROGRESS_AFTER_SECONDS = 1.0
PROGRESS_LINE = "Checking your license..."


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
        detail = lines_of(exc, None)[0]
    return status, {"code": code, "detail": detail}, headers


def user_message(exc: BaseException, support_hint: str | None = None) -> str:
    """One or two plain lines: what happened, then what to do (with the vendor's hint)."""
    return "\n".join(lines_of(exc, support_hint))


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
    from .._delivery import _interrupts
    from .._guard._config import default_interrupt_signal
    from .._transport import _watchdog

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
