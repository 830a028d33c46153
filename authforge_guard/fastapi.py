"""FastAPI: licensing as dependencies, and our errors as JSON answers instead of a 500.

``pip install "authforge-guard[fastapi]"``. Typical use::

    app = FastAPI(lifespan=licensed_lifespan())   # log in at start-up
    install_handlers(app)                         # 403 / 401 / 503 JSON, never a 500

    @app.get("/report")
    async def report(session: Session = Depends(require_license())): ...

    @app.get("/export")
    async def export(session: Session = Depends(require_feature("pro"))): ...

A dependency is checked before FastAPI calls the endpoint, whatever the
decorator order, so it is the safe way to gate a route. (``@feature`` and
``@requires_license`` also work, *below* ``@app.get``; above it they would wrap
a function FastAPI has already registered, and they refuse that with a
``TypeError``.)

The event loop is never blocked: a live license costs a flag read, and a
login runs in the thread pool.

A tenant's dependency (``key_header=``) is a yield dependency: the request runs
inside ``licensed(key, hwid_override=...)``, so ``current_session()``,
``has_feature`` and ``@feature`` answer for the tenant and the session is not
logged out for idleness mid-request. FastAPI throws what the endpoint raised
into it at the ``yield``; it goes on unchanged. By default (the dependency's
``"request"`` scope, FastAPI 0.118+) FastAPI leaves it after the response is
sent, so a loss the endpoint did not meet is not raised there: the tenant's next
request is answered 403 (see ``_frameworks.TenantBlock``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Callable, Optional, Union

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ._api._decorators import check_guard_argument
from ._api._default_guard import get_guard
from ._api._features import _normalise
from ._api._frameworks import TenantBlock, check_hwid_sources, tenant_of
from ._api._guarded_call import aresolve_session
from ._api._refusal import DEFAULT_RETRY_AFTER, http_answer
from ._exceptions import ConfigurationError, FeatureNotLicensed, LicenseError
from ._guard._facade import Guard
from ._guard._session import Session

__all__ = ["install_handlers", "licensed_lifespan", "require_feature", "require_license"]

# The HWID of a tenant: a header name, or a callable reading it from the request.
HwidSource = Callable[[Request], Optional[str]]
# A coroutine for the guard's own license; an async generator (a yield dependency, the
# request inside a licensed() block) for a tenant's.
Dependency = Callable[[Request], Union[Awaitable[Session], AsyncIterator[Session]]]
Lifespan = Callable[[Any], contextlib.AbstractAsyncContextManager[Any]]


def require_license(
    *,
    guard: Guard | None = None,
    license_key: str | None = None,
    key_header: str | None = None,
    hwid_header: str | None = None,
    hwid: HwidSource | None = None,
) -> Dependency:
    """A dependency that yields the ``Session``: ``Depends(require_license())``.

    Without ``key_header``: the guard's own license (the vendor's). With
    ``key_header="X-License-Key"``: each request's own license (multi-tenant),
    its HWID from ``hwid_header`` or ``hwid(request)`` (else the guard's); a
    request without the header is answered 401. The tenant's request then runs
    in a ``licensed()`` block on that license (see ``_frameworks.TenantBlock``):
    ``current_session()``, ``has_feature`` and ``@feature`` in the endpoint, the
    helpers it calls and the tasks it starts answer for the tenant.
    """
    check_guard_argument(guard, "require_license")
    check_hwid_sources(hwid_header, hwid)
    return _dependency(None, guard, license_key, key_header, hwid_header, hwid)


def require_feature(
    name: str,
    *,
    guard: Guard | None = None,
    license_key: str | None = None,
    key_header: str | None = None,
    hwid_header: str | None = None,
    hwid: HwidSource | None = None,
) -> Dependency:
    """``Depends(require_feature("pro"))``: as ``require_license``, and the license must grant
    ``name`` (else 403 ``feature_not_licensed``)."""
    _normalise(name)
    check_guard_argument(guard, "require_feature")
    check_hwid_sources(hwid_header, hwid)
    return _dependency(name, guard, license_key, key_header, hwid_header, hwid)


def _dependency(
    feature: str | None,
    guard: Guard | None,
    license_key: str | None,
    key_header: str | None,
    hwid_header: str | None,
    hwid: HwidSource | None,
) -> Dependency:
    wanted = _normalise(feature) if feature is not None else None

    def check(session: Session) -> Session:
        if wanted is not None and wanted not in session.features:
            raise FeatureNotLicensed(feature or wanted, session.tier)
        return session

    if key_header is None:

        async def licensed_request(request: Request) -> Session:
            active = guard if guard is not None else get_guard()
            # A live session is returned at once; a login runs in a worker thread. The
            # default license needs no block: has_feature and @feature read it anyway.
            return check(await aresolve_session(active, license_key))

        return licensed_request

    async def tenant_request(request: Request) -> AsyncIterator[Session]:
        active = guard if guard is not None else get_guard()
        key, machine = tenant_of(request.headers, request, key_header, hwid_header, hwid)
        # A live session is returned at once; a login runs in a worker thread. Logged in
        # here, not by the block: a block's login of the default license ends with it.
        check(await active.aensure(key, hwid_override=machine))
        # FastAPI throws what the endpoint raised into this generator at the yield:
        # TenantBlock passes it on unchanged (a cancellation for a loss as LicenseLost).
        async with TenantBlock(active, key, machine) as session:
            yield session

    return tenant_request


def install_handlers(app: FastAPI, *, retry_after: int = DEFAULT_RETRY_AFTER) -> None:
    """Answer our errors, raised anywhere in a route or dependency, as JSON
    ``{"code", "detail"}``: 403 refused or feature not licensed, 401 no license key,
    503 with ``Retry-After`` when AuthForge cannot be reached, 500 a setup problem."""

    async def licensing_error(request: Request, exc: Exception) -> JSONResponse:
        status, body, headers = http_answer(exc, retry_after)
        return JSONResponse(body, status_code=status, headers=headers)

    app.add_exception_handler(LicenseError, licensing_error)
    app.add_exception_handler(ConfigurationError, licensing_error)


def licensed_lifespan(
    *,
    guard: Guard | None = None,
    license_key: str | None = None,
    lifespan: Lifespan | None = None,
) -> Lifespan:
    """``FastAPI(lifespan=licensed_lifespan())``: log in at start-up (a refused license
    stops the server from starting), log out at shutdown; ``lifespan=`` is your own,
    run inside."""
    check_guard_argument(guard, "licensed_lifespan")

    @contextlib.asynccontextmanager
    async def run(app: Any) -> AsyncIterator[Any]:
        active = guard if guard is not None else get_guard()
        await run_in_threadpool(active.ensure, license_key)
        try:
            if lifespan is None:
                yield None
            else:
                async with lifespan(app) as state:
                    yield state
        finally:
            await run_in_threadpool(active.logout)

    return run
