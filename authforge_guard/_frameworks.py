"""What our decorators know about the frameworks around them.

- A web framework's route decorator registers the function it is given: a gate
  applied *above* it wraps a function the framework already serves ungated. That
  silent bypass is refused at decoration time.
- click (and typer) run a group's callback before they parse the subcommand's
  arguments: a licensed group would demand a license for ``SUB --help``.
"""

from __future__ import annotations

import contextlib
import sys
import weakref
from typing import Any, Dict, List

# Every function a gate was put on: served by a framework as it is, it is served ungated.
_GATED: weakref.WeakSet[Any] = weakref.WeakSet()


def refuse_registered_view(fn: Any, decorator: str) -> None:
    """Refuse, loudly, to wrap a function a web framework has already registered as a view.

    ``@feature("pro")`` *above* ``@app.get(...)`` would wrap a function FastAPI or
    Flask already holds: the route would serve it ungated, a silent bypass. The
    framework's registration is found among the function's referrers (only when
    that framework is imported; this runs once per decorated function).
    """
    # Not weak-referenceable: nothing registers those as views either.
    with contextlib.suppress(TypeError):
        _GATED.add(fn)
    starlette = "starlette.routing" in sys.modules
    flask = "flask" in sys.modules
    if not (starlette or flask):
        return
    import gc

    for holder in gc.get_referrers(fn):
        # A route object, or its __dict__ (where the attributes of an instance live).
        fields = holder if isinstance(holder, dict) else getattr(holder, "__dict__", {})
        if starlette and fields.get("endpoint") is fn and isinstance(fields.get("path"), str):
            where = f"route {fields['path']}"
        elif flask and isinstance(holder, dict) and _is_flask_view_table(holder):
            where = "a Flask view"
        else:
            continue
        raise TypeError(
            f"{decorator} on {getattr(fn, '__qualname__', fn)!r}, which is already registered "
            f"as {where}: the route would serve it without the check. Put {decorator} below "
            "the route decorator (@app.get / @app.route / @bp.route)."
        )


def _is_flask_view_table(table: dict) -> bool:  # type: ignore[type-arg]
    import gc

    scaffold = getattr(sys.modules.get("flask.sansio.scaffold"), "Scaffold", None)
    if scaffold is None:
        return False
    # The referrer is the app's __dict__, or (3.12+ inline attributes) the app itself.
    return any(
        (isinstance(owner, dict) and owner.get("view_functions") is table)
        or (isinstance(owner, scaffold) and owner.view_functions is table)
        for owner in gc.get_referrers(table)
    )


def ungated_views(views: Dict[str, Any]) -> List[str]:
    """The endpoints of ``views`` (a Flask ``view_functions``) that serve a function a gate
    was put on *after* it was registered (a blueprint registers late, so this is checked
    at the first request too)."""
    return sorted(name for name, view in views.items() if _is_gated(view))


def _is_gated(view: Any) -> bool:
    try:
        return view in _GATED
    except TypeError:
        return False


def skip_for_click_help() -> bool:
    """True when a click/typer group's callback runs only to reach ``SUB --help`` (or shell
    completion): showing help never needs a license.

    click runs a group's callback before it parses the subcommand's arguments,
    so the subcommand's ``--help`` has not been seen yet; the arguments it is
    about to parse are found in ``Group.invoke``'s frame.
    """
    click = sys.modules.get("click")
    if click is None:
        return False
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return False
    if ctx.resilient_parsing:
        return True
    if getattr(ctx, "invoked_subcommand", None) is None:
        return False
    names = set(ctx.help_option_names)
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "invoke" and frame.f_locals.get("self") is ctx.command:
            rest = frame.f_locals.get("args")
            if isinstance(rest, list):
                before_separator = rest[: rest.index("--")] if "--" in rest else rest
                return any(arg in names for arg in before_separator)
        frame = frame.f_back  # type: ignore[assignment]
    return False
