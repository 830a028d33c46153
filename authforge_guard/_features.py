"""Feature gates: ``@feature("pro")`` and ``has_feature("pro")``.

A gate is a set lookup in the grants computed when the session started or was
last refreshed, so a tier change from the server is seen at the next heartbeat.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Callable, Optional, Tuple, TypeVar, cast

from ._decorators import is_coroutine_function
from ._exceptions import FeatureNotLicensed, LicenseError, LicenseLost
from ._guard import DEFAULT, get_guard  # cycle: Guard.feature/has_feature import us lazily
from ._wrapt import function_wrapper_type

if TYPE_CHECKING:
    from ._guard import Guard
    from ._session import Session

F = TypeVar("F", bound=Callable[..., Any])


def has_feature(name: str, *, guard: Optional[Guard] = None) -> bool:
    """True when the license grants ``name`` (logging in first if needed); False when it
    does not, or when no license can be had."""
    active = guard if guard is not None else get_guard()
    try:
        session = active._check_guarded_call()
    except LicenseLost:
        raise  # this thread's licensed block lost its license: that is not a "no"
    except LicenseError:
        return False
    return _normalise(name) in session.features


def feature(
    name: str,
    *,
    fallback: Optional[Callable[..., Any]] = None,
    guard: Optional[Guard] = None,
) -> Callable[[F], F]:
    """Run the decorated callable only when the license grants ``name``.

    Denied: ``fallback`` is called with the same arguments (its result is
    returned), or ``FeatureNotLicensed`` is raised. No license at all raises
    ``LicenseError`` as ``@requires_license`` does.
    """
    key = _normalise(name)

    def check_grant() -> Tuple[Session, bool]:
        session = (guard if guard is not None else get_guard())._check_guarded_call()
        return session, key in session.features

    def deny(session: Optional[Session], instance: Any, args: Any, kwargs: Any) -> Any:
        if fallback is None:
            raise FeatureNotLicensed(name, session.tier if session is not None else None)
        if instance is not None:  # called as a method or classmethod: so is the fallback
            return fallback(instance, *args, **kwargs)
        return fallback(*args, **kwargs)

    def needs_gate() -> bool:
        # wrapt asks this before every call: False (a live session that grants
        # the feature) calls the function directly, True goes through the gate.
        active = guard if guard is not None else DEFAULT.guard
        if active is None or not active._fast_ok:
            return True
        session = active._session
        return session is None or key not in session._state.grants

    def decorate(fn: F) -> F:
        if is_coroutine_function(fn):

            def gated_async(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
                return _gate_async(check_grant, deny, wrapped, instance, args, kwargs)

            return cast(F, function_wrapper_type()(fn, gated_async, needs_gate))

        def gated(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            session, granted = check_grant()
            if granted:
                return wrapped(*args, **kwargs)
            return deny(session, instance, args, kwargs)

        return cast(F, function_wrapper_type()(fn, gated, needs_gate))

    return decorate


async def _gate_async(
    check_grant: Callable[[], Tuple[Session, bool]],
    deny: Callable[..., Any],
    wrapped: Any,
    instance: Any,
    args: Any,
    kwargs: Any,
) -> Any:
    import asyncio  # here, not at the top: only programs that use it pay for it

    session, granted = await asyncio.get_running_loop().run_in_executor(None, check_grant)
    if granted:
        return await wrapped(*args, **kwargs)
    result = deny(session, instance, args, kwargs)
    return await result if inspect.isawaitable(result) else result


def _normalise(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a feature name must be a non-empty string")
    return name.strip().lower()
