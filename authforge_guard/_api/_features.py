"""Feature gates: ``@feature("pro")`` and ``has_feature("pro")``.

A gate is a set lookup in the grants computed when the session started or was
last refreshed, so a tier change from the server is seen at the next heartbeat.
Which session: the innermost ``licensed()`` block's (``current_session()``),
else the guard's default license.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, TypeVar, cast

from .._delivery import _blocks
from .._exceptions import FeatureNotLicensed, LicenseError, LicenseLost
from .._guard._facade import Guard
from ._decorators import (
    _chain_live,
    check_guard_argument,
    fast_check,
    is_coroutine_function,
    picklable_wrapper_type,
)
from ._default_guard import DEFAULT
from ._frameworks import refuse_registered_view
from ._guarded_call import aresolve_session, resolve_session

if TYPE_CHECKING:
    from .._guard._session import Session

F = TypeVar("F", bound=Callable[..., Any])


def has_feature(name: str, *, guard: Guard | None = None) -> bool:
    """True when the license grants ``name`` (logging in first if needed); False when it
    does not, or when no license can be had.

    In a coroutine, with no live session to read, it raises ``RuntimeError``
    instead of logging in on the event loop: enter ``async with licensed()``
    or ``await guard.aensure()`` first.
    """
    key = _normalise(name)
    check_guard_argument(guard, "has_feature")
    session = _live_session(guard)
    if session is None:
        if _blocks._loop_running():
            lost = _pending_loss()
            if lost is not None:
                raise lost
            raise RuntimeError(
                "has_feature() would log in on the event loop: use `async with licensed(...)` "
                "or `await guard.aensure()` first"
            )
        try:
            session = resolve_session(guard)
        except LicenseLost:
            raise  # the licensed block lost its license: that is not a "no"
        except LicenseError:
            return False
    return key in session.features


def _live_session(guard: Guard | None) -> Session | None:
    """The session a gate reads when it is live and no loss is pending, without I/O."""
    block = _blocks.current_block()
    if block is not None:
        if not _chain_live(block):
            return None  # a loss (resolve_session raises it), or a session to renew
        for b in block.chain():
            if (guard is None or b.owner is guard) and b.session.active:
                return b.session
    active = guard if guard is not None else DEFAULT.guard
    return active._fast_session if active is not None else None


def _pending_loss() -> LicenseLost | None:
    """The loss of the current block chain, without waiting for its hooks (event loop)."""
    block = _blocks.current_block()
    for b in block.chain() if block is not None else ():
        loss = b.session._loss
        if loss is not None:
            return loss.exception(b.session.lineage)
    return None


def feature(
    name: str,
    *,
    fallback: Callable[..., Any] | None = None,
    guard: Guard | None = None,
) -> Callable[[F], F]:
    """Run the decorated callable only when the license grants ``name``.

    Denied: ``fallback`` is called with the same arguments (its result is
    returned), or ``FeatureNotLicensed`` is raised. No license at all raises
    ``LicenseError`` as ``@requires_license`` does.
    """
    key = _normalise(name)
    check_guard_argument(guard, "feature")
    if fallback is not None and not callable(fallback):
        raise TypeError("feature(fallback=...) takes a callable")
    needs_session = fast_check(guard, None)

    def check_grant() -> tuple[Session, bool]:
        session = resolve_session(guard)
        return session, key in session.features

    def deny(session: Session | None, instance: Any, args: Any, kwargs: Any) -> Any:
        if fallback is None:
            raise FeatureNotLicensed(name, session.tier if session is not None else None)
        if instance is not None:  # called as a method or classmethod: so is the fallback
            return fallback(instance, *args, **kwargs)
        return fallback(*args, **kwargs)

    current = _blocks._CURRENT.get

    def needs_gate() -> bool:
        # False (a live session that grants the feature) calls the function directly.
        if current() is None:  # outside any block: the default license, one read
            active = guard if guard is not None else DEFAULT.guard
            session = active._fast_session if active is not None else None
            return session is None or key not in session._state.grants
        if needs_session():
            return True
        session = _live_session(guard)
        return session is None or key not in session._state.grants

    def decorate(fn: F) -> F:
        refuse_registered_view(fn, "@feature")
        wrapper_type = picklable_wrapper_type()
        if is_coroutine_function(fn):

            def gated_async(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
                return _gate_async(guard, key, deny, wrapped, instance, args, kwargs)

            return cast(F, wrapper_type(fn, gated_async, needs_gate))

        def gated(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            session, granted = check_grant()
            if granted:
                return wrapped(*args, **kwargs)
            return deny(session, instance, args, kwargs)

        return cast(F, wrapper_type(fn, gated, needs_gate))

    return decorate


async def _gate_async(
    guard: Guard | None,
    key: str,
    deny: Callable[..., Any],
    wrapped: Any,
    instance: Any,
    args: Any,
    kwargs: Any,
) -> Any:
    session = _live_session(guard)
    if session is None:
        session = await aresolve_session(guard)  # a login runs off the event loop
    if key in session.features:
        return await wrapped(*args, **kwargs)
    result = deny(session, instance, args, kwargs)
    import inspect  # only here: a refusal's answer; inspect is not on the start-up path

    return await result if inspect.isawaitable(result) else result


def _normalise(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a feature name must be a non-empty string")
    return name.strip().lower()
