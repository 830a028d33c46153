"""Django: ``license_required`` / ``feature_required`` view decorators, in the style of
``permission_required``, and a middleware that answers our errors as JSON.

``pip install "authforge-guard[django]"``. Typical use::

    # settings.py
    MIDDLEWARE = [..., "authforge_guard.django.LicenseErrorMiddleware"]

    # views.py
    @feature_required("pro")
    def export(request): ...          # request.license is the Session

Answers: 403 ``{"code", "detail"}`` for a refused license or a missing feature,
401 when a request lacks its key (``key_header=``), 503 with ``Retry-After``
(setting ``AUTHFORGE_RETRY_AFTER``, default 30) when AuthForge cannot be
reached, 500 for a server whose licensing is not set up; never key material.
The decorators answer their own refusals, so they need no middleware; the
middleware answers errors raised anywhere in a view (a ``@feature`` gate deep
inside, a ``LicenseLost``).

With ``key_header=`` (each request brings its own license) the view runs in a
``licensed()`` block on that license: ``current_session()``, ``has_feature``
and ``@feature`` inside it answer for the tenant, not the site's license, and
the tenant's session is not logged out for idleness while the view runs.

Decorator order: Django registers views by reference in ``urls.py``, so a
gate cannot be bypassed by ordering; put ours nearest the view function, under
``@require_GET``, ``@csrf_exempt`` and the like, so they see its answer.
Async views are supported: the check runs in a worker thread.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from typing import Any, Callable, Optional, TypeVar, overload

from django.http import HttpRequest, HttpResponse, JsonResponse

from ._api._decorators import check_guard_argument
from ._api._features import _normalise
from ._api._frameworks import TenantBlock, check_hwid_sources, request_session
from ._api._refusal import DEFAULT_RETRY_AFTER, http_answer
from ._exceptions import ConfigurationError, FeatureNotLicensed, LicenseError
from ._guard._facade import Guard
from ._guard._session import Session

__all__ = ["LicenseErrorMiddleware", "feature_required", "license_required"]

F = TypeVar("F", bound=Callable[..., Any])
HwidSource = Callable[[HttpRequest], Optional[str]]


class LicenseErrorMiddleware:
    """Answers ``LicenseError`` / ``ConfigurationError`` raised by a view as JSON."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, (LicenseError, ConfigurationError)):
            return answer(exception)
        return None


def answer(exc: BaseException) -> HttpResponse:
    """The JSON answer for one of our errors (what the middleware and decorators return)."""
    from django.conf import settings

    retry_after = getattr(settings, "AUTHFORGE_RETRY_AFTER", DEFAULT_RETRY_AFTER)
    status, body, headers = http_answer(exc, retry_after)
    response = JsonResponse(body, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


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
    """Serve the view only with a license (the site's, or with ``key_header=`` the
    request's own); the ``Session`` is ``request.license``."""
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
    decorate: Callable[[F], F] = _gate(
        None, name, guard, license_key, key_header, hwid_header, hwid
    )
    return decorate


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

    def check(request: HttpRequest) -> tuple[Session, TenantBlock | None]:
        session, tenant = request_session(
            request, guard, license_key, key_header, hwid_header, hwid
        )
        if wanted is not None and wanted not in session.features:
            raise FeatureNotLicensed(feature or wanted, session.tier)
        return session, tenant

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):
            from asgiref.sync import sync_to_async

            @functools.wraps(fn)
            async def gated_async(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                async with contextlib.AsyncExitStack() as stack:
                    try:
                        session, tenant = await sync_to_async(check, thread_sensitive=False)(
                            request
                        )
                        if tenant is not None:
                            session = await stack.enter_async_context(tenant)
                    except (LicenseError, ConfigurationError) as exc:
                        return answer(exc)
                    request.license = session
                    return await fn(request, *args, **kwargs)

            return gated_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def gated(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            with contextlib.ExitStack() as stack:
                try:
                    session, tenant = check(request)
                    if tenant is not None:
                        session = stack.enter_context(tenant)
                except (LicenseError, ConfigurationError) as exc:
                    return answer(exc)
                request.license = session
                return fn(request, *args, **kwargs)

        return gated  # type: ignore[return-value]

    return decorate(view) if view is not None else decorate
