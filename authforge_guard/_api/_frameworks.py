"""What our decorators know about the frameworks around them.

- A web framework's route decorator registers the function it is given: a gate
  applied *above* it wraps a function the framework already serves ungated. That
  silent bypass is refused at decoration time.
- click (and typer) run a group's callback before they parse the subcommand's
  arguments: a licensed group would demand a license for ``SUB --help``, so its
  call is deferred until the subcommand has parsed them.
- A multi-tenant web request names its license in a header: ``tenant_of`` reads
  it the same way for FastAPI, Flask and Django, and ``TenantBlock`` runs the
  request inside a ``licensed()`` block on that license.
"""

from __future__ import annotations

import contextlib
import sys
import weakref
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Optional

from .._exceptions import LicenseError, LicenseLost
from .._words import MISSING_KEY_CODE
from ._default_guard import get_guard
from ._guarded_call import resolve_session
from ._licensed import licensed

if TYPE_CHECKING:
    from .._guard._facade import Guard
    from .._guard._session import Session

# Where a per-tenant request's hwid comes from, besides a header: a callable of the request.
HwidSource = Callable[[Any], Optional[str]]

# Every function a gate was put on (served by a framework as it is, it is served ungated),
# by identity: id -> a weak reference. Not a WeakSet: a wrapt wrapper hashes and compares
# as the function it wraps, so ``wrapper in WeakSet([fn])`` is True and a correctly gated
# view would look ungated.
_GATED: dict[int, weakref.ref[Any]] = {}


def _remember_gated(fn: Any) -> None:
    key = id(fn)

    def forget(ref: weakref.ref[Any]) -> None:
        if _GATED.get(key) is ref:  # not a newer function that reuses the id
            del _GATED[key]

    # Not weak-referenceable: nothing registers those as views either.
    with contextlib.suppress(TypeError):
        _GATED[key] = weakref.ref(fn, forget)


def refuse_registered_view(fn: Any, decorator: str) -> None:
    """Refuse, loudly, to wrap a function a web framework has already registered as a view.

    ``@feature("pro")`` *above* ``@app.get(...)`` would wrap a function FastAPI or
    Flask already holds: the route would serve it ungated, a silent bypass. The
    apps, routers and blueprints of the function's own module (where its route
    decorator found them) are looked through; that costs a pass over the
    module's names and their routes, and only when a framework is imported.
    """
    _remember_gated(fn)
    kinds = _framework_types()
    if not kinds:
        return
    names = getattr(fn, "__globals__", None)
    if not isinstance(names, dict):
        return
    for holder in list(names.values()):
        # type(), not isinstance(): a lazy proxy (Django's settings) must not be woken.
        where = _registration(holder, fn) if issubclass(type(holder), kinds) else None
        if where is not None:
            raise TypeError(
                f"{decorator} on {getattr(fn, '__qualname__', fn)!r}, which is already "
                f"registered as {where}: the route would serve it without the check. Put "
                f"{decorator} below the route decorator (@app.get / @app.route / @bp.route)."
            )


def _framework_types() -> tuple[type, ...]:
    """The app/router/blueprint classes of the frameworks imported so far (their public
    names: Flask's common base class moved between releases)."""
    found = []
    for module, name in (
        ("starlette.routing", "Router"),
        ("starlette.applications", "Starlette"),
        ("flask", "Flask"),
        ("flask", "Blueprint"),
    ):
        kind = getattr(sys.modules.get(module), name, None)
        if isinstance(kind, type):
            found.append(kind)
    return tuple(found)


def _registration(holder: Any, fn: Any) -> str | None:
    """How ``holder`` (an app, router or blueprint) serves ``fn``, or ``None``."""
    views = getattr(holder, "view_functions", None)
    if isinstance(views, dict):  # Flask: the app's views, a blueprint's deferred ones
        if any(view is fn for view in views.values()):
            return "a Flask view"
        # A blueprint holds its routes as the setup calls it will make when registered: the
        # view is in the closure of Flask's call (a borrowed internal, see CONTRIBUTING; if a
        # Flask changes that, the check at the app's first request still refuses the view).
        for deferred in getattr(holder, "deferred_functions", ()):
            cells = getattr(deferred, "__closure__", None) or ()
            if any(_cell(cell) is fn for cell in cells):
                return "a view of blueprint " + repr(getattr(holder, "name", "?"))
        return None
    routes = getattr(holder, "routes", None)  # FastAPI/Starlette app or router
    for route in routes if isinstance(routes, list) else ():
        if getattr(route, "endpoint", None) is fn:
            return f"route {getattr(route, 'path', '?')}"
    return None


def _cell(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


def ungated_views(views: dict[str, Any]) -> list[str]:
    """The endpoints of ``views`` (a Flask ``view_functions``) that serve a function a gate
    was put on *after* it was registered (a blueprint registers late, so this is checked
    at the first request too)."""
    return sorted(name for name, view in views.items() if _is_gated(view))


def _is_gated(view: Any) -> bool:
    ref = _GATED.get(id(view))
    return ref is not None and ref() is view


# The click packages a group's callback may run under: click itself, and the copy of click
# that typer (0.26 and later) carries inside it, whose module path is typer's private name
# (a borrowed internal, see CONTRIBUTING; typer exports no get_current_context).
_CLICKS = ("click", "typer._click.globals")
# A group context -> the licensed callback call deferred to its subcommand (see below).
_DEFERRED: weakref.WeakKeyDictionary[Any, Callable[[], Any]] = weakref.WeakKeyDictionary()
_DEFERRING = "_authforge_guard_defers"  # marks a subcommand whose invoke runs the deferred call


def defer_to_click_subcommand(fn: Any, call: Callable[[], Any]) -> bool:
    """Defer a licensed click/typer group callback ``fn`` (``call``: the check, then ``fn``)
    until its subcommand has parsed its arguments; True when it was deferred.

    click runs a group's callback *before* it parses the subcommand's arguments,
    so at that point nobody knows whether ``SUB --help`` was asked for, and
    showing help must never need a license. So the call runs right before the
    subcommand does, in the group's context, after the subcommand's ``--help``
    (handled while its arguments are parsed) has printed and exited. Fail closed:
    the subcommand cannot run without the call running first; the group's
    return value is unused in that form (click passes on the subcommand's).
    Only click's public context is read (``get_current_context``,
    ``invoked_subcommand``, ``get_command``, ``scope``); a chained group
    (``invoked_subcommand == "*"``) is checked at once, help included.
    """
    ctx = _click_context()
    if ctx is None or ctx.invoked_subcommand in (None, "*") or not _is_callback(ctx, fn):
        return False
    get_command = getattr(ctx.command, "get_command", None)
    sub = get_command(ctx, ctx.invoked_subcommand) if get_command is not None else None
    if sub is None:
        return False
    _DEFERRED[ctx] = call
    if not getattr(sub, _DEFERRING, False):
        _run_deferred_first(sub)
    return True


def _click_context() -> Any:
    for name in _CLICKS:
        module = sys.modules.get(name)
        current = getattr(module, "get_current_context", None)
        ctx = current(silent=True) if current is not None else None
        if ctx is not None:
            return ctx
    return None


def _is_callback(ctx: Any, fn: Any) -> bool:
    """Whether ``fn`` is the group's own callback (through decorators that keep
    ``__wrapped__``: ours, ``click.pass_context``, typer's), not a licensed helper it calls."""
    callback = getattr(ctx.command, "callback", None)
    for _ in range(32):  # a decorator chain, not a cycle
        if callback is None:
            return False
        if callback is fn:
            return True
        callback = getattr(callback, "__wrapped__", None)
    return False


def _run_deferred_first(sub: Any) -> None:
    """Make ``sub.invoke`` run its group's deferred call first (once per subcommand object;
    what to run is looked up per invocation, so concurrent runs do not mix)."""
    invoke = sub.invoke

    def invoke_after_the_group(sub_ctx: Any) -> Any:
        parent = sub_ctx.parent
        call = _DEFERRED.pop(parent, None) if parent is not None else None
        if call is not None:
            with parent.scope(cleanup=False):  # the group's callback sees the group's context
                call()
            if sub_ctx.obj is None:  # what the callback set up (ctx.obj), as click passes it on
                sub_ctx.obj = parent.obj
        return invoke(sub_ctx)

    sub.invoke = invoke_after_the_group
    setattr(sub, _DEFERRING, True)


def check_hwid_sources(hwid_header: str | None, hwid: HwidSource | None) -> None:
    if hwid_header is not None and hwid is not None:
        raise ValueError("give hwid_header= or hwid=, not both")


def tenant_of(
    headers: Any,
    request: Any,
    key_header: str,
    hwid_header: str | None,
    hwid: HwidSource | None,
) -> tuple[str, str | None]:
    """The license key and hwid a request names; no key is ``missing_license_key`` (401).

    ``headers`` is the framework's case-insensitive mapping (anything with ``.get``)."""
    key = (headers.get(key_header) or "").strip()
    if not key:
        raise LicenseError(MISSING_KEY_CODE, f"Send your license key in the {key_header} header.")
    machine = headers.get(hwid_header) if hwid_header is not None else None
    if hwid is not None:
        machine = hwid(request)
    return key, (machine.strip() or None) if machine else None


def request_session(
    request: Any,
    guard: Guard | None,
    license_key: str | None,
    key_header: str | None,
    hwid_header: str | None,
    hwid: HwidSource | None,
) -> tuple[Session, TenantBlock | None]:
    """A sync framework's request (Flask, Django): its session, and for a tenant's
    (``key_header=``) the block its view runs in, so ``current_session()``,
    ``has_feature`` and ``@feature`` in the view answer for the tenant and its
    session is in use until the view is done (see ``TenantBlock``)."""
    active = guard if guard is not None else get_guard()
    if key_header is None:
        return resolve_session(active, license_key), None
    key, machine = tenant_of(request.headers, request, key_header, hwid_header, hwid)
    # Logged in here, not by the block: a block's login of the default license ends with it.
    session = active.ensure(key, hwid_override=machine)
    return session, TenantBlock(active, key, machine)


async def arequest_session(
    request: Any,
    guard: Guard | None,
    license_key: str | None,
    key_header: str | None,
    hwid_header: str | None,
    hwid: HwidSource | None,
) -> tuple[Session, TenantBlock | None]:
    """``request_session`` for a sync framework's async view (Flask's): a live session at
    once, a login on the guard's own login threads (``aensure``). Never the loop's default
    executor: it is the application's, and full of its jobs or shut down it would hold a
    licensed request back or break it."""
    from ._default_guard import get_guard
    from ._guarded_call import aresolve_session

    active = guard if guard is not None else get_guard()
    if key_header is None:
        return await aresolve_session(active, license_key), None
    key, machine = tenant_of(request.headers, request, key_header, hwid_header, hwid)
    session = await active.aensure(key, hwid_override=machine)
    return session, TenantBlock(active, key, machine)


class TenantBlock:
    """``licensed(key, hwid_override=...)`` around one tenant's web request.

    Inside it ``current_session()``, ``has_feature`` and ``@feature`` answer for
    the tenant (in the view, the helpers it calls and the tasks it starts), not
    for the guard's default license, and the session counts as in use, so it is
    not logged out for idleness while the request runs.

    Leaving differs from a bare ``licensed()`` in one way: a loss is raised at
    the exit only as the interruption ``licensed()`` pushed into an async view
    (it cancels the view's task and turns that into ``LicenseLost``, a 403).
    A loss the view met itself (a guarded call raised ``LicenseLost``) leaves as
    that exception; a loss it did not meet does not replace its answer or its
    own exception, which pass through unchanged: the tenant's next request is
    refused. FastAPI leaves a request-scoped dependency after the response is
    sent, where a raise could no longer become a 403; the three frameworks
    behave alike.
    """

    __slots__ = ("_licensed",)

    def __init__(self, guard: Guard, key: str, machine: str | None) -> None:
        # "raise" whatever the guard's on_refused says: a setting meant for a CLI must not
        # end a server because one tenant's license was refused.
        self._licensed = licensed(key, hwid_override=machine, guard=guard, on_refused="raise")

    def __enter__(self) -> Session:
        return self._licensed.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        interrupted = self._interrupted(exc)
        try:
            self._licensed.__exit__(exc_type, exc, tb)
        except LicenseLost:
            if interrupted:
                raise

    async def __aenter__(self) -> Session:
        return await self._licensed.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        interrupted = self._interrupted(exc)
        try:
            await self._licensed.__aexit__(exc_type, exc, tb)
        except LicenseLost:
            if interrupted:
                raise

    def _interrupted(self, exc: BaseException | None) -> bool:
        """Whether ``exc`` is the cancellation the block pushed into the view for a loss."""
        block = self._licensed._block
        if block is None or not block.cancelled_by_us:
            return False
        asyncio = sys.modules.get("asyncio")
        return asyncio is not None and isinstance(exc, asyncio.CancelledError)
