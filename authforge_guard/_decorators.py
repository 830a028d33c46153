"""``@requires_license``: the guarded entry point.

Built with ``wrapt`` so the decorated object keeps its signature, docstring,
``__wrapped__`` and descriptor behaviour (methods, classmethods,
staticmethods), and stacks under ``click``/``typer`` commands. On a live
session the check is one attribute read, made through the wrapper's
``enabled`` hook: wrapt then calls the function directly, without building the
wrapper's ``(wrapped, instance, args, kwargs)`` call. Otherwise the wrapper
logs in through the guard (coroutines do that in a worker thread, never
blocking the event loop).
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Optional, TypeVar, overload

from ._exceptions import ConfigurationError, LicenseError
from ._frameworks import refuse_registered_view, skip_for_click_help
from ._guard import DEFAULT, get_guard
from ._wrapt import function_wrapper_type

if TYPE_CHECKING:
    from ._guard import Guard

F = TypeVar("F", bound=Callable[..., Any])


@overload
def requires_license(fn: F) -> F: ...
@overload
def requires_license(
    fn: None = None,
    *,
    guard: Optional[Guard] = None,
    license_key: Optional[str] = None,
    on_refused: Optional[str] = None,
) -> Callable[[F], F]: ...


def requires_license(
    fn: Any = None,
    *,
    guard: Optional[Guard] = None,
    license_key: Optional[str] = None,
    on_refused: Optional[str] = None,
) -> Any:
    """Run the decorated callable only with a license; log in once if there is none.

    Raises ``LicenseError`` (with ``.code``) when no license can be had, and
    ``LicenseLost`` when this thread's ``licensed()`` block lost its license.
    ``license_key`` is used only to log in.

    ``on_refused="exit"`` (default: the guard's ``on_refused`` setting, else
    ``"raise"``) is for customer-facing command lines: a licensing error from
    the check or the call prints plain lines to stderr (``user_message``) and
    raises ``SystemExit`` with 1 refused, 2 configuration, 3 AuthForge
    unreachable; a check slower than a second prints a progress line, and one
    that outlives the request timeout ends as unreachable.
    """
    check_guard_argument(guard, "requires_license")
    from ._refusal import check_on_refused

    check_on_refused(on_refused)
    if fn is None:
        return functools.partial(
            requires_license, guard=guard, license_key=license_key, on_refused=on_refused
        )
    if not callable(fn) and not isinstance(fn, (classmethod, staticmethod)):
        raise TypeError("@requires_license decorates a function, method or class method")
    refuse_registered_view(fn, "@requires_license")

    def check() -> None:
        active = guard if guard is not None else get_guard()
        if skip_for_click_help():
            return
        _check_for_a_person(active, license_key, on_refused)

    # wrapt asks this before every call: True sends the call through the wrapper
    # below (the slow path), False calls the function directly.
    if on_refused == "exit":
        # Through the wrapper every time: a loss or a gate inside the call is told too.
        def needs_check() -> bool:
            return True

    elif guard is not None:

        def needs_check() -> bool:
            return not guard._fast_ok

    else:

        def needs_check() -> bool:
            active = DEFAULT.guard
            return active is None or not active._fast_ok

    if is_coroutine_function(fn):

        def guarded_async(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            call = _check_in_thread_then(check, wrapped, args, kwargs)
            if on_refused == "raise" or (on_refused is None and not _exits_on_refusal(guard)):
                return call
            return _exiting(call, guard)

        return function_wrapper_type()(fn, guarded_async, needs_check)

    def guarded(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        check()
        if on_refused == "raise" or (on_refused is None and not _exits_on_refusal(guard)):
            return wrapped(*args, **kwargs)
        try:
            return wrapped(*args, **kwargs)
        except (LicenseError, ConfigurationError) as exc:  # a loss or a gate inside the call
            raise _exit_for(exc, guard) from None

    return function_wrapper_type()(fn, guarded, needs_check)


def check_guard_argument(guard: Any, where: str) -> None:
    """``guard=`` must be a ``Guard``: said at decoration time, not at the first call."""
    if guard is None:
        return
    from ._guard import Guard

    if not isinstance(guard, Guard):
        raise TypeError(
            f"{where}(guard=...) takes a Guard (or None for the default guard), "
            f"not {type(guard).__name__}"
        )


def _exits_on_refusal(guard: Optional[Guard]) -> bool:
    from ._guard import DEFAULT
    from ._refusal import on_refused_of

    return on_refused_of(guard if guard is not None else DEFAULT.guard, None) == "exit"


async def _exiting(call: Awaitable[Any], guard: Optional[Guard]) -> Any:
    try:
        return await call
    except (LicenseError, ConfigurationError) as exc:
        raise _exit_for(exc, guard) from None


def _exit_for(exc: BaseException, guard: Optional[Guard]) -> SystemExit:
    from ._guard import DEFAULT
    from ._refusal import exit_for, support_hint_of

    return exit_for(exc, support_hint_of(guard if guard is not None else DEFAULT.guard))


def _check_for_a_person(
    active: Guard, license_key: Optional[str], on_refused: Optional[str]
) -> None:
    """The check of a customer-facing program: words and an exit code instead of a traceback."""
    from ._refusal import customer_check, on_refused_of, support_hint_of

    try:
        if on_refused_of(active, on_refused) != "exit":
            active._check_guarded_call(license_key)
            return
        with customer_check(_request_timeout(active)):
            active._check_guarded_call(license_key)
    except (LicenseError, ConfigurationError) as exc:
        # Asked again: a default guard reads its settings (on_refused among them) at first use.
        exc.support_hint = support_hint_of(active)
        if on_refused_of(active, on_refused) == "exit":
            raise _exit_for(exc, active) from None
        raise


def _request_timeout(guard: Guard) -> Optional[float]:
    settings = vars(guard).get("settings")  # a default guard not configured yet has none
    return getattr(settings, "request_timeout", None)


def is_coroutine_function(fn: Any) -> bool:
    """Also true for a ``classmethod``/``staticmethod`` wrapping a coroutine function."""
    target = fn.__func__ if isinstance(fn, (classmethod, staticmethod)) else fn
    return inspect.iscoroutinefunction(target)


async def _check_in_thread_then(
    check: Callable[[], None],
    call: Callable[..., Awaitable[Any]],
    args: Any,
    kwargs: Any,
) -> Any:
    import asyncio  # here, not at the top: only programs that use it pay for it

    # A login is network I/O: run it off the event loop.
    await asyncio.get_running_loop().run_in_executor(None, check)
    return await call(*args, **kwargs)
