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

from ._guard import DEFAULT, get_guard  # cycle: Guard.requires_license imports us lazily
from ._wrapt import function_wrapper_type

if TYPE_CHECKING:
    from ._guard import Guard

F = TypeVar("F", bound=Callable[..., Any])


@overload
def requires_license(fn: F) -> F: ...
@overload
def requires_license(
    fn: None = None, *, guard: Optional[Guard] = None, license_key: Optional[str] = None
) -> Callable[[F], F]: ...


def requires_license(
    fn: Any = None, *, guard: Optional[Guard] = None, license_key: Optional[str] = None
) -> Any:
    """Run the decorated callable only with a license; log in once if there is none.

    Raises ``LicenseError`` (with ``.code``) when no license can be had, and
    ``LicenseLost`` when this thread's ``licensed()`` block lost its license.
    Never exits the process. ``license_key`` is used only to log in.
    """
    if fn is None:
        return functools.partial(requires_license, guard=guard, license_key=license_key)
    if not callable(fn) and not isinstance(fn, (classmethod, staticmethod)):
        raise TypeError("@requires_license decorates a function, method or class method")

    def check() -> None:
        (guard if guard is not None else get_guard())._check_guarded_call(license_key)

    # wrapt asks this before every call: True sends the call through the wrapper
    # below (the slow path), False calls the function directly.
    if guard is not None:

        def needs_check() -> bool:
            return not guard._fast_ok

    else:

        def needs_check() -> bool:
            active = DEFAULT.guard
            return active is None or not active._fast_ok

    if is_coroutine_function(fn):

        def guarded_async(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            return _check_in_thread_then(check, wrapped, args, kwargs)

        return function_wrapper_type()(fn, guarded_async, needs_check)

    def guarded(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        check()
        return wrapped(*args, **kwargs)

    return function_wrapper_type()(fn, guarded, needs_check)


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
