"""Flask: an extension that answers our errors as JSON, and view decorators.

``pip install "authforge-guard[flask]"``. Typical use::

    app = Flask(__name__)
    AuthForge(app)                  # or AuthForge().init_app(app) in a factory

    @app.get("/export")
    @feature_required("pro")        # below the route decorator, like login_required
    def export(): ...

Answers: 403 ``{"code", "detail"}`` for a refused license or a missing feature,
401 when a request lacks its key (``key_header=``), 503 with ``Retry-After``
when AuthForge cannot be reached, 500 for a server whose licensing is not set
up; never key material. The license's ``Session`` is ``flask.g.license``.
With ``key_header=`` (each request brings its own license) the view runs in a
``licensed()`` block on that license: ``current_session()``, ``has_feature``
and ``@feature`` inside it answer for the tenant, not the app's license, and
the tenant's session is not logged out for idleness while the view runs.

Decorator order: ``@license_required`` / ``@feature_required`` (and
``@requires_license`` / ``@feature``) go *below* ``@app.route`` /
``@bp.route``. Above, they would wrap a function Flask already serves ungated:
that is refused with a ``TypeError`` for an app's routes, and for a
blueprint's at the first request (a ``RuntimeError``, every request, until it
is fixed).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from typing import Any, Callable, Optional, TypeVar, overload

from flask import Flask, Request, g, jsonify, request
from flask.typing import ResponseReturnValue

from ._api._decorators import check_guard_argument
from ._api._features import _normalise
from ._api._frameworks import (
    arequest_session,
    check_hwid_sources,
    refuse_registered_view,
    request_session,
    ungated_views,
)
from ._api._refusal import DEFAULT_RETRY_AFTER, http_answer
from ._exceptions import ConfigurationError, FeatureNotLicensed, LicenseError
from ._guard._facade import Guard
from ._guard._session import Session

__all__ = ["AuthForge", "feature_required", "license_required"]

F = TypeVar("F", bound=Callable[..., Any])
HwidSource = Callable[[Request], Optional[str]]


class AuthForge:
    """The Flask extension: ``AuthForge(app)`` or ``AuthForge().init_app(app)``."""

    def __init__(
        self,
        app: Flask | None = None,
        *,
        guard: Guard | None = None,
        retry_after: int = DEFAULT_RETRY_AFTER,
    ) -> None:
        check_guard_argument(guard, "AuthForge")
        self.guard = guard
        self.retry_after = retry_after
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        app.extensions["authforge_guard"] = self
        app.register_error_handler(LicenseError, self._answer)
        app.register_error_handler(ConfigurationError, self._answer)
        checked: list[bool] = []

        @app.before_request
        def refuse_ungated_views() -> None:
            if checked:
                return
            bypassed = ungated_views(app.view_functions)
            if bypassed:
                raise RuntimeError(
                    f"views {', '.join(bypassed)} are registered without their license "
                    "check: put @license_required / @feature_required below @bp.route"
                )
            checked.append(True)

    def _answer(self, exc: Exception) -> ResponseReturnValue:
        return _answer(exc, self.retry_after)


def _answer(exc: BaseException, retry_after: int | None = None) -> ResponseReturnValue:
    if retry_after is None:
        extension = _extension()
        retry_after = extension.retry_after if extension is not None else DEFAULT_RETRY_AFTER
    status, body, headers = http_answer(exc, retry_after)
    return jsonify(body), status, headers


def _extension() -> AuthForge | None:
    from flask import current_app

    found = current_app.extensions.get("authforge_guard")
    return found if isinstance(found, AuthForge) else None


@overload
def license_required(view: F) -> F: ...
@overload
def license_required(
    view: None = None,
    *,
    guard: Guard | None = None,
    license_key: str | None = None,
    key_header: str | None = None,
    hwid_header: str | None = None,
    hwid: HwidSource | None = None,
) -> Callable[[F], F]: ...


def license_required(
    view: Any = None,
    *,
    guard: Guard | None = None,
    license_key: str | None = None,
    key_header: str | None = None,
    hwid_header: str | None = None,
    hwid: HwidSource | None = None,
) -> Any:
    """Serve the view only with a license (the app's, or with ``key_header=`` the
    request's own); the ``Session`` is ``flask.g.license``."""
    return _gate(view, None, guard, license_key, key_header, hwid_header, hwid)


def feature_required(
    name: str,
    *,
    guard: Guard | None = None,
    license_key: str | None = None,
    key_header: str | None = None,
    hwid_header: str | None = None,
    hwid: HwidSource | None = None,
) -> Callable[[F], F]:
    """As ``license_required``, and the license must grant ``name`` (else 403)."""
    _normalise(name)
    return _gate(None, name, guard, license_key, key_header, hwid_header, hwid)  # type: ignore[no-any-return]


def _gate(
    view: Any,
    feature: str | None,
    guard: Guard | None,
    license_key: str | None,
    key_header: str | None,
    hwid_header: str | None,
    hwid: HwidSource | None,
) -> Any:
    check_guard_argument(guard, "feature_required" if feature else "license_required")
    check_hwid_sources(hwid_header, hwid)
    wanted = _normalise(feature) if feature is not None else None

    def check(session: Session) -> Session:
        if wanted is not None and wanted not in session.features:
            raise FeatureNotLicensed(feature or wanted, session.tier)
        return session

    def decorate(fn: F) -> F:
        refuse_registered_view(fn, "@feature_required" if feature else "@license_required")
        if inspect.iscoroutinefunction(fn):  # Flask runs async views in an event loop

            @functools.wraps(fn)
            async def gated_async(*args: Any, **kwargs: Any) -> Any:
                async with contextlib.AsyncExitStack() as stack:
                    try:  # a login runs on the guard's login threads, not on this loop
                        session, tenant = await arequest_session(
                            request, guard, license_key, key_header, hwid_header, hwid
                        )
                        session = check(session)
                        if tenant is not None:
                            session = await stack.enter_async_context(tenant)
                    except (LicenseError, ConfigurationError) as exc:
                        return _answer(exc)
                    g.license = session
                    return await fn(*args, **kwargs)

            return gated_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def gated(*args: Any, **kwargs: Any) -> Any:
            with contextlib.ExitStack() as stack:
                try:
                    session, tenant = request_session(
                        request, guard, license_key, key_header, hwid_header, hwid
                    )
                    session = check(session)
                    if tenant is not None:
                        session = stack.enter_context(tenant)
                except (LicenseError, ConfigurationError) as exc:
                    return _answer(exc)  # answered here: no 500 even without the extension
                g.license = session
                return fn(*args, **kwargs)

        return gated  # type: ignore[return-value]

    return decorate(view) if view is not None else decorate
