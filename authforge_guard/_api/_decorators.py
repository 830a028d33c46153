"""``@requires_license``: the guarded entry point.

Built with ``wrapt`` so the decorated object keeps its signature, docstring,
``__wrapped__`` and descriptor behaviour (methods, classmethods,
staticmethods), and stacks under ``click``/``typer`` commands. On a live
session the check is a flag read, made through the wrapper's ``enabled``
hook: wrapt then calls the function directly, without building the wrapper's
``(wrapped, instance, args, kwargs)`` call. Otherwise the wrapper logs in
through the guard (coroutines and async generators do that in a worker
thread, never on the event loop).

Generators are checked at every resume, not only when called: the first
``next()`` after a loss raises ``LicenseLost``.

Decorated functions pickle as a reference to their qualified name, as plain
functions do, so they can be sent to a ``ProcessPoolExecutor`` or a
``multiprocessing.Pool``; in the worker the decorator is live again.
"""

from __future__ import annotations

import functools
import importlib
import sys
import types
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Callable, TypeVar, overload

from .._delivery import _blocks
from .._exceptions import ConfigurationError, LicenseError
from .._guard._facade import Guard
from ._default_guard import DEFAULT, get_guard
from ._frameworks import defer_to_click_subcommand, refuse_registered_view
from ._guarded_call import aresolve_session, resolve_session
from ._refusal import check_on_refused, customer_check, exit_for, on_refused_of, support_hint_of
from ._wrapt import function_wrapper_type

if TYPE_CHECKING:
    from .._guard._session import Session

F = TypeVar("F", bound=Callable[..., Any])


@overload
def requires_license(fn: F) -> F: ...
@overload
def requires_license(
    fn: None = None,
    *,
    guard: Guard | None = None,
    license_key: str | None = None,
    on_refused: str | None = None,
) -> Callable[[F], F]: ...


def requires_license(
    fn: Any = None,
    *,
    guard: Guard | None = None,
    license_key: str | None = None,
    on_refused: str | None = None,
) -> Any:
    """Run the decorated callable only with a license; log in once if there is none.

    Raises ``LicenseError`` (with ``.code``) when no license can be had, and
    ``LicenseLost`` when the ``licensed()`` block it runs in lost its license.
    ``license_key`` is used only to log in.

    ``on_refused="exit"`` (default: the guard's ``on_refused`` setting, else
    ``"raise"``) is for customer-facing command lines: a licensing error from
    the check or the call prints plain lines to stderr (``user_message``) and
    raises ``SystemExit`` with 1 refused, 2 configuration, 3 AuthForge
    unreachable; a check slower than a second prints a progress line, and one
    that outlives the request timeout ends as unreachable.
    """
    check_guard_argument(guard, "requires_license")
    check_on_refused(on_refused)
    if fn is None:
        return functools.partial(
            requires_license, guard=guard, license_key=license_key, on_refused=on_refused
        )
    if not callable(fn) and not isinstance(fn, (classmethod, staticmethod)):
        raise TypeError("@requires_license decorates a function, method or class method")
    refuse_registered_view(fn, "@requires_license")

    def resolve() -> Session:
        return resolve_session(guard, license_key)

    async def aresolve() -> Session:
        return await aresolve_session(guard, license_key)

    def check() -> Any:
        return _check_for_a_person(guard, resolve, on_refused)

    async def acheck() -> Any:
        return await _acheck_for_a_person(guard, aresolve, on_refused)

    # Through the wrapper every time with on_refused="exit": a loss or a gate inside the
    # call is told to the customer too.
    needs_check = _always if on_refused == "exit" else fast_check(guard, license_key)
    wrapper_type = picklable_wrapper_type()

    if is_coroutine_function(fn):

        def guarded_async(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            call = _check_then_await(acheck, wrapped, args, kwargs)
            if on_refused == "raise" or (on_refused is None and not _exits_on_refusal(guard)):
                return call
            return _exiting(call, guard)

        return wrapper_type(fn, guarded_async, needs_check)

    if _is_async_generator_function(fn):

        def guarded_async_gen(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            # Checked at the first and every later resume, in the event loop's terms.
            return _relay_async(wrapped(*args, **kwargs), acheck, needs_check)

        return wrapper_type(fn, guarded_async_gen, None)

    if _is_generator_function(fn):

        def guarded_gen(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            check()
            return _relay(wrapped(*args, **kwargs), check, needs_check)

        return wrapper_type(fn, guarded_gen, None)

    def guarded(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        if defer_to_click_subcommand(wrapped, lambda: checked_call(wrapped, args, kwargs)):
            return None  # a click group's callback: run once its subcommand's --help is past
        return checked_call(wrapped, args, kwargs)

    def checked_call(wrapped: Any, args: Any, kwargs: Any) -> Any:
        check()
        if on_refused == "raise" or (on_refused is None and not _exits_on_refusal(guard)):
            return wrapped(*args, **kwargs)
        try:
            return wrapped(*args, **kwargs)
        except (LicenseError, ConfigurationError) as exc:  # a loss or a gate inside the call
            raise _exit_for(exc, guard) from None

    return wrapper_type(fn, guarded, needs_check)


def check_guard_argument(guard: Any, where: str) -> None:
    """``guard=`` must be a Guard: say so when decorating, not at the first call."""
    if guard is not None and not isinstance(guard, Guard):
        raise TypeError(f"{where}(guard=...) takes a Guard, not {type(guard).__name__}")


def _always() -> bool:
    return True


def fast_check(guard: Guard | None, license_key: str | None) -> Callable[[], bool]:
    """wrapt asks this before every call: True sends the call through the wrapper (the
    slow path), False calls the function directly. False needs a live session for the
    call: the innermost block's (its whole chain live), or the default license's."""
    current = _blocks._CURRENT.get

    if guard is not None:

        def needs_check() -> bool:
            block = current()
            if block is not None:
                if not _chain_live(block):
                    return True
                if block.owner is guard and license_key is None:
                    return False
            return not guard._fast_session

    else:

        def needs_check() -> bool:
            block = current()
            if block is not None:
                if not _chain_live(block):
                    return True
                if license_key is None:
                    return False
            active = DEFAULT.guard
            return active is None or not active._fast_session

    return needs_check


def _chain_live(block: Any) -> bool:
    while block is not None:
        if block.session._ending is not None:
            return False
        block = block.parent
    return True


def _exits_on_refusal(guard: Guard | None) -> bool:
    return on_refused_of(guard if guard is not None else DEFAULT.guard, None) == "exit"


async def _exiting(call: Awaitable[Any], guard: Guard | None) -> Any:
    try:
        return await call
    except (LicenseError, ConfigurationError) as exc:
        raise _exit_for(exc, guard) from None


def _exit_for(exc: BaseException, guard: Guard | None) -> SystemExit:
    return exit_for(exc, support_hint_of(guard if guard is not None else DEFAULT.guard))


def _check_for_a_person(
    guard: Guard | None, resolve: Callable[[], Session], on_refused: str | None
) -> Session:
    """The check of a customer-facing program: words and an exit code instead of a traceback."""
    active = guard if guard is not None else get_guard()
    try:
        if on_refused_of(active, on_refused) != "exit":
            return resolve()
        with customer_check(_request_timeout(active)):
            return resolve()
    except (LicenseError, ConfigurationError) as exc:
        # Asked again: a default guard reads its settings (on_refused among them) at first use.
        exc.support_hint = support_hint_of(active)
        if on_refused_of(active, on_refused) == "exit":
            raise _exit_for(exc, active) from None
        raise


async def _acheck_for_a_person(
    guard: Guard | None, aresolve: Callable[[], Awaitable[Session]], on_refused: str | None
) -> Session:
    """``_check_for_a_person`` for coroutines: the progress line, no deadline (the event loop
    is not ours to interrupt); the exit itself is raised by ``_exiting``."""
    active = guard if guard is not None else get_guard()
    try:
        if on_refused_of(active, on_refused) != "exit":
            return await aresolve()
        with customer_check(None):
            return await aresolve()
    except (LicenseError, ConfigurationError) as exc:
        exc.support_hint = support_hint_of(active)
        raise


def _request_timeout(guard: Guard) -> float | None:
    settings = vars(guard).get("settings")  # a default guard not configured yet has none
    return getattr(settings, "request_timeout", None)


# Code object flags, as ``inspect`` defines them. Decorators run while the
# program's modules import, and ``inspect`` (with ``ast`` and ``dis``) costs a
# few milliseconds of every start-up (issue 15), so a plain function's kind is
# read from its code directly; anything else is asked of ``inspect``.
_CO_GENERATOR = 0x20
_CO_COROUTINE = 0x80
_CO_ASYNC_GENERATOR = 0x200


def is_coroutine_function(fn: Any) -> bool:
    """Also true for a ``classmethod``/``staticmethod`` wrapping a coroutine function."""
    return _is_kind(fn, _CO_COROUTINE, "iscoroutinefunction")


def _is_generator_function(fn: Any) -> bool:
    return _is_kind(fn, _CO_GENERATOR, "isgeneratorfunction")


def _is_async_generator_function(fn: Any) -> bool:
    return _is_kind(fn, _CO_ASYNC_GENERATOR, "isasyncgenfunction")


def _is_kind(fn: Any, flag: int, inspect_test: str) -> bool:
    """What ``inspect.<inspect_test>`` says of ``fn``, unwrapped as ``inspect`` does.

    A plain function answers from its code flags, which is all ``inspect``
    reads for one, unless it was marked with ``inspect.markcoroutinefunction``
    (Python 3.12+). Builtins are neither coroutines nor generators.
    """
    target = _target(fn)
    while True:
        if isinstance(target, types.MethodType):
            target = target.__func__
        elif isinstance(target, functools.partial):
            target = target.func
        else:
            break
    if isinstance(target, types.FunctionType) and "_is_coroutine_marker" not in vars(target):
        return bool(target.__code__.co_flags & flag)
    if isinstance(target, (types.BuiltinFunctionType, type)):
        return False
    import inspect

    return bool(getattr(inspect, inspect_test)(target))


def _target(fn: Any) -> Any:
    return fn.__func__ if isinstance(fn, (classmethod, staticmethod)) else fn


async def _check_then_await(
    acheck: Callable[[], Any], call: Callable[..., Any], args: Any, kwargs: Any
) -> Any:
    await acheck()
    return await call(*args, **kwargs)


def _relay(gen: Any, check: Callable[[], Any], needs_check: Callable[[], bool]) -> Any:
    """Run ``gen``, checking the license before every resume (a flag read when live)."""
    try:
        value = next(gen)
    except StopIteration as stop:
        return stop.value
    while True:
        try:
            sent = yield value
        except GeneratorExit:
            gen.close()
            raise
        except BaseException as exc:  # thrown in: hand it to the generator
            try:
                value = gen.throw(exc)
            except StopIteration as stop:
                return stop.value
            continue
        if needs_check():
            try:
                check()
            except BaseException:
                gen.close()
                raise
        try:
            value = gen.send(sent)
        except StopIteration as stop:
            return stop.value


async def _relay_async(
    agen: Any, acheck: Callable[[], Any], needs_check: Callable[[], bool]
) -> Any:
    """``_relay`` for async generators; the first check runs at the first ``__anext__``
    (calling an async generator function must not do I/O)."""
    try:
        if needs_check():
            await acheck()
        try:
            value = await agen.__anext__()
        except StopAsyncIteration:
            return
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                raise
            except BaseException as exc:
                try:
                    value = await agen.athrow(exc)
                except StopAsyncIteration:
                    return
                continue
            if needs_check():
                await acheck()
            try:
                value = await agen.asend(sent)
            except StopAsyncIteration:
                return
    finally:
        await agen.aclose()


# -- pickling ----------------------------------------------------------------------

_types: Any = None


def picklable_wrapper_type() -> Any:
    """wrapt's ``FunctionWrapper``, subclassed to pickle by qualified name (made once)."""
    global _types
    if _types is None:
        base = function_wrapper_type()
        wrappers = sys.modules.get("wrapt._wrappers")
        if wrappers is not None and base is getattr(wrappers, "FunctionWrapper", None):
            bound_base = wrappers.BoundFunctionWrapper
        else:  # wrapt's pure-Python wrappers
            import wrapt

            bound_base = wrapt.BoundFunctionWrapper

        class BoundGuardedFunction(bound_base):  # type: ignore[misc, valid-type]
            """A guarded method bound to its instance or class."""

            def __reduce_ex__(self, protocol: Any) -> Any:
                owner = self._self_instance
                if owner is None:
                    return _by_name(self)
                return (getattr, (owner, self.__name__))

        class GuardedFunction(base):  # type: ignore[misc, valid-type]
            """A function behind a license check."""

            __bound_function_wrapper__ = BoundGuardedFunction

            def __reduce_ex__(self, protocol: Any) -> Any:
                return _by_name(self)

        _types = GuardedFunction
    return _types


def _by_name(wrapper: Any) -> Any:
    module = getattr(wrapper, "__module__", None)
    qualname = getattr(wrapper, "__qualname__", None)
    if not module or not qualname or "<locals>" in qualname:
        import pickle

        raise pickle.PicklingError(
            f"cannot pickle {qualname or wrapper!r}: only module-level functions, methods "
            "and class methods pickle (by name), as plain functions do"
        )
    return (load_by_name, (module, qualname))


def load_by_name(module: str, qualname: str) -> Any:
    """Unpickling: the decorated object named ``module.qualname``, imported afresh."""
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found
