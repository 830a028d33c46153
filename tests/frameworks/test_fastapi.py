"""FastAPI through its TestClient against a real local AuthForge server: dependencies, the
JSON answers of every error, the multi-tenant form, the lifespan and the decorator order."""

import asyncio
import contextlib

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

import threading

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from authforge_guard import Session, current_session, feature, has_feature
from authforge_guard.fastapi import (
    install_handlers,
    licensed_lifespan,
    require_feature,
    require_license,
)

from ..support.waiting import wait_for
from .conftest import in_a_thread


def vendor_app(guard):
    app = FastAPI()
    install_handlers(app, retry_after=7)

    @app.get("/report")
    async def report(session: Session = Depends(require_license(guard=guard))):
        return {"tier": session.tier}

    @app.get("/export")
    def export(session: Session = Depends(require_feature("pro", guard=guard))):
        return {"exported": True}

    @app.get("/gated")
    @feature("enterprise", guard=guard)
    async def gated():
        return {"gated": True}

    return app


def test_a_licensed_app_serves_and_gates(af, make_guard):
    guard = make_guard(license_key=af.create_license({"tier": "pro"}), heartbeat="grace")
    client = TestClient(vendor_app(guard))
    assert client.get("/report").json() == {"tier": "pro"}
    assert client.get("/export").json() == {"exported": True}
    answer = client.get("/gated")
    assert answer.status_code == 403
    assert answer.json() == {
        "code": "feature_not_licensed",
        "detail": "This needs an enterprise license (yours: pro).",
    }


def test_free_license_gets_403_not_500(af, make_guard):
    key = af.create_license({"tier": "free"})
    client = TestClient(vendor_app(make_guard(license_key=key)), raise_server_exceptions=False)
    answer = client.get("/export")
    assert answer.status_code == 403
    assert answer.json() == {
        "code": "feature_not_licensed",
        "detail": "This needs a pro license (yours: free).",
    }
    assert key not in answer.text
    assert client.get("/report").status_code == 200


def test_revocation_while_serving_turns_into_403(af, make_guard):
    key = af.create_license({"tier": "pro"})
    guard = make_guard(license_key=key)
    lost = threading.Event()
    guard.on_lost(lambda event: lost.set())
    client = TestClient(vendor_app(guard), raise_server_exceptions=False)
    assert client.get("/report").status_code == 200
    af.revoke(key)
    assert lost.wait(10)
    for _ in range(3):
        answer = client.get("/report")
        assert answer.status_code == 403
        assert answer.json() == {"code": "revoked", "detail": "This license was revoked."}


def test_unreachable_is_503_with_retry_after(af, make_guard):
    guard = make_guard(license_key="ANY-KEY", api_base_url="http://127.0.0.1:9")
    answer = TestClient(vendor_app(guard)).get("/report")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "7"
    assert answer.json()["code"] == "network_error"


def test_a_server_without_its_license_key_is_500_without_setting_names(af, make_guard, caplog):
    answer = TestClient(vendor_app(make_guard())).get("/report")
    assert answer.status_code == 500
    assert answer.json() == {
        "code": "configuration_error",
        "detail": "Licensing is not set up on this server.",
    }
    assert "AUTHFORGE_LICENSE_KEY" in caplog.text  # the real reason is in the server's log


def test_tenants_send_their_key_in_a_header(af, make_guard):
    guard = make_guard()
    app = FastAPI()
    install_handlers(app)

    @app.get("/me")
    async def me(
        session: Session = Depends(require_license(guard=guard, key_header="X-License-Key")),
    ):
        return {"tier": session.tier}

    client = TestClient(app)
    answer = client.get("/me")
    assert answer.status_code == 401
    assert answer.json() == {
        "code": "missing_license_key",
        "detail": "Send your license key in the X-License-Key header.",
    }
    key = af.create_license({"tier": "pro"})
    assert client.get("/me", headers={"X-License-Key": key}).json() == {"tier": "pro"}
    revoked = af.create_license()
    af.revoke(revoked)
    answer = client.get("/me", headers={"X-License-Key": revoked})
    assert answer.status_code == 403 and answer.json()["code"] == "revoked"


def test_tenant_hwid_from_a_header_or_a_callable(af, make_guard):
    guard = make_guard()
    app = FastAPI()
    install_handlers(app)
    by_header = require_feature("pro", guard=guard, key_header="X-Key", hwid_header="X-User")
    by_call = require_license(
        guard=guard, key_header="X-Key", hwid=lambda request: "tg:" + request.query_params["user"]
    )

    @app.get("/a")
    async def a(session: Session = Depends(by_header)):
        return {"tier": session.tier}

    @app.get("/b")
    async def b(session: Session = Depends(by_call)):
        return {"tier": session.tier}

    pro, free = af.create_license({"tier": "pro"}), af.create_license({"tier": "free"}, slots=2)
    client = TestClient(app)
    assert client.get("/a", headers={"X-Key": pro, "X-User": "u1"}).json() == {"tier": "pro"}
    assert client.get("/a", headers={"X-Key": free, "X-User": "u2"}).status_code == 403
    assert client.get("/b?user=7", headers={"X-Key": free}).json() == {"tier": "free"}


def test_the_lifespan_logs_in_at_start_up_and_out_at_shutdown(af, make_guard):
    key = af.create_license({"tier": "pro"})
    guard = make_guard(license_key=key)
    app = FastAPI(lifespan=licensed_lifespan(guard=guard))

    @app.get("/")
    async def root(session: Session = Depends(require_license(guard=guard))):
        return {"tier": session.tier}

    with TestClient(app) as client:
        assert guard.session is not None  # before any request
        assert client.get("/").json() == {"tier": "pro"}
    assert guard.session is None
    assert af.stats()["licenses"][key]["validates"] == 1

    af.revoke(key)
    with pytest.raises(Exception) as info:
        with TestClient(FastAPI(lifespan=licensed_lifespan(guard=make_guard(license_key=key)))):
            pass
    assert getattr(info.value, "code", None) == "revoked"


WRONG_ORDER = """
from fastapi import APIRouter, FastAPI
from authforge_guard import feature, requires_license

app = FastAPI()
router = APIRouter()

@{gate}
@{route}
async def report():
    return {{"secret": "pro data"}}
"""


@pytest.mark.parametrize("route", ['app.get("/report")', 'router.post("/report")'])
@pytest.mark.parametrize("gate", ['feature("pro")', "requires_license"])
def test_a_gate_above_the_route_decorator_is_refused(gate, route):
    source = WRONG_ORDER.format(gate=gate, route=route)
    with pytest.raises(TypeError, match="already registered as route /report") as info:
        exec(compile(source, "service.py", "exec"), {"__name__": "service"})
    assert "below the route decorator" in str(info.value)
    right = source.replace(f"@{gate}\n@{route}", f"@{route}\n@{gate}")
    exec(compile(right, "service.py", "exec"), {"__name__": "service"})  # the right order


def test_dependencies_never_block_the_event_loop(af, make_guard):
    from tests.support.fault_proxy import Fault, FaultProxy

    slow = FaultProxy(af.url)  # a login that takes 0.3 s: the loop must tick meanwhile
    slow.arm(Fault.delay(0.3), path="/auth/validate")
    guard = make_guard(license_key=af.create_license({"tier": "pro"}), api_base_url=slow.url)
    dependency = require_license(guard=guard)

    async def main():
        ticks = 0
        done = asyncio.Event()

        async def ticker():
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        session = await dependency(None)  # the login runs in the thread pool
        done.set()
        await task
        return session, ticks

    try:
        session, ticks = asyncio.run(main())
    finally:
        slow.close()
    assert session.tier == "pro" and ticks > 10


def test_guard_argument_is_checked_when_the_dependency_is_made():
    with pytest.raises(TypeError, match=r"require_license\(guard=\.\.\.\) takes a Guard"):
        require_license(guard="default")
    with pytest.raises(TypeError, match=r"require_feature\(guard=\.\.\.\) takes a Guard"):
        require_feature("pro", guard="default")


# -- a tenant's request runs in a licensed() block on the tenant's session -------------------


@feature("pro", fallback=lambda: "denied")
def pro_helper():
    """A helper an endpoint calls, gated without naming a session or a guard."""
    return "granted"


@feature("pro", fallback=lambda: "denied")
async def pro_async_helper():
    return "granted"


def what_the_code_sees():
    """What code inside the request reads when it names no session."""
    session = current_session()
    return {
        "tier": session.tier if session is not None else None,
        "pro": has_feature("pro"),
        "helper": pro_helper(),
    }


def tenant_app(dependency):
    app = FastAPI()
    install_handlers(app)

    @app.get("/async")
    async def in_a_coroutine(session: Session = Depends(dependency)):
        async def in_a_task():
            return {**what_the_code_sees(), "async helper": await pro_async_helper()}

        return {"session": session.tier, **await asyncio.create_task(in_a_task())}

    @app.get("/sync")
    def in_the_thread_pool(session: Session = Depends(dependency)):
        return {"session": session.tier, **what_the_code_sees()}

    return app


def test_a_tenant_endpoint_reads_the_tenants_license_never_the_vendors(af, vendor):
    pro, free = af.create_license({"tier": "pro"}), af.create_license({"tier": "free"})
    client = TestClient(tenant_app(require_license(key_header="X-License-Key")))
    for path in ("/async", "/sync"):
        answer = client.get(path, headers={"X-License-Key": pro})
        assert answer.json() == {
            "session": "pro",
            "tier": "pro",
            "pro": True,
            "helper": "granted",
            **({"async helper": "granted"} if path == "/async" else {}),
        }
        answer = client.get(path, headers={"X-License-Key": free})
        assert answer.json() == {
            "session": "free",
            "tier": "free",
            "pro": False,  # the vendor's enterprise license would say True
            "helper": "denied",
            **({"async helper": "denied"} if path == "/async" else {}),
        }
    assert vendor.session.tier == "enterprise" and current_session() is None
    assert {s.tier for s in vendor.sessions} == {"enterprise", "pro", "free"}
    assert af.stats()["licenses"][pro]["validates"] == 1  # a live session costs no login


def test_a_tenant_feature_dependency_reads_the_tenants_license(af, vendor):
    pro, free = af.create_license({"tier": "pro"}), af.create_license({"tier": "free"})
    client = TestClient(tenant_app(require_feature("pro", key_header="X-License-Key")))
    assert client.get("/async", headers={"X-License-Key": pro}).json()["tier"] == "pro"
    answer = client.get("/sync", headers={"X-License-Key": free})
    assert answer.status_code == 403
    assert answer.json() == {
        "code": "feature_not_licensed",
        "detail": "This needs a pro license (yours: free).",
    }


class Teapot(Exception):
    pass


def test_the_endpoints_own_errors_pass_through_unchanged(af, make_guard):
    guard = make_guard(heartbeat="grace")
    tenant = require_license(guard=guard, key_header="X-License-Key")
    app = FastAPI()
    install_handlers(app)
    app.add_exception_handler(Teapot, lambda request, exc: JSONResponse({}, status_code=418))
    seen = []

    @app.get("/teapot")
    async def teapot(session: Session = Depends(tenant)):
        seen.append(current_session())
        raise Teapot

    @app.get("/bug")
    async def bug(session: Session = Depends(tenant)):
        seen.append(current_session())
        raise ValueError("the endpoint's own bug")

    @app.get("/sync-bug")
    def sync_bug(session: Session = Depends(tenant)):
        seen.append(current_session())
        raise ValueError("the endpoint's own bug")

    key = {"X-License-Key": af.create_license({"tier": "pro"})}
    client = TestClient(app)
    assert client.get("/teapot", headers=key).status_code == 418
    for path in ("/bug", "/sync-bug"):
        with pytest.raises(ValueError, match="the endpoint's own bug"):
            client.get(path, headers=key)
    quiet = TestClient(app, raise_server_exceptions=False)
    assert quiet.get("/bug", headers=key).status_code == 500
    assert [s.tier if s is not None else None for s in seen] == ["pro"] * 4
    assert all(s is seen[0] for s in seen) and seen[0].active  # one session, still live


def test_a_revocation_between_requests_is_403_on_the_next(af, make_guard):
    guard = make_guard()
    lost = threading.Event()
    guard.on_lost(lambda event: lost.set())
    client = TestClient(tenant_app(require_license(guard=guard, key_header="X-License-Key")))
    revoked, other = af.create_license({"tier": "pro"}), af.create_license({"tier": "free"})
    assert client.get("/async", headers={"X-License-Key": revoked}).json()["tier"] == "pro"
    af.revoke(revoked)
    assert lost.wait(10)
    for path in ("/async", "/sync"):
        answer = client.get(path, headers={"X-License-Key": revoked})
        assert answer.status_code == 403
        assert answer.json() == {"code": "revoked", "detail": "This license was revoked."}
        assert client.get(path, headers={"X-License-Key": other}).json()["tier"] == "free"


class Paused:
    """An endpoint that waits, inside its request, until the test lets it go."""

    def __init__(self):
        self.entered = threading.Event()
        self.sessions = {}
        self._release = None

    async def wait(self, name, session):
        self.sessions[name] = session
        loop, release = asyncio.get_running_loop(), asyncio.Event()
        self._release = lambda: loop.call_soon_threadsafe(release.set)
        self.entered.set()
        await release.wait()

    def release(self):
        if self._release is not None:
            with contextlib.suppress(RuntimeError):  # the request ended and its loop closed
                self._release()


def paused_app(dependency, paused):
    app = FastAPI()
    install_handlers(app)

    @app.get("/wait")
    async def wait(session: Session = Depends(dependency)):
        await paused.wait("waiting", session)
        return {"tier": current_session().tier}

    @app.get("/quick")
    async def quick(session: Session = Depends(dependency)):
        paused.sessions["quick"] = session
        return {"tier": current_session().tier}

    return app


def test_a_loss_during_the_request_is_answered_403(af, make_guard):
    guard = make_guard()
    paused = Paused()
    client = TestClient(paused_app(require_license(guard=guard, key_header="X-Key"), paused))
    key = af.create_license({"tier": "pro"})
    answer = in_a_thread(lambda: client.get("/wait", headers={"X-Key": key}))
    try:
        assert paused.entered.wait(10)
        af.revoke(key)  # the next heartbeat loses it: the waiting endpoint is interrupted
        answer = answer()
    finally:
        paused.release()
    assert answer.status_code == 403
    assert answer.json() == {"code": "revoked", "detail": "This license was revoked."}


def test_a_tenant_session_is_in_use_while_its_request_runs(af, make_guard):
    guard = make_guard(heartbeat="grace", session_idle_timeout=0.2)
    paused = Paused()
    client = TestClient(paused_app(require_license(guard=guard, key_header="X-Key"), paused))
    busy, idle = af.create_license({"tier": "pro"}), af.create_license({"tier": "free"})
    answer = in_a_thread(lambda: client.get("/wait", headers={"X-Key": busy}))
    try:
        assert paused.entered.wait(10)
        # Used after the busy one: once it is logged out for idleness, so would the busy one be.
        assert client.get("/quick", headers={"X-Key": idle}).json() == {"tier": "free"}
        assert wait_for(lambda: paused.sessions["quick"].lost_code == "idle", timeout=10)
        assert paused.sessions["waiting"].active
    finally:
        paused.release()
    assert answer().json() == {"tier": "pro"}
    assert wait_for(lambda: paused.sessions["waiting"].lost_code == "idle", timeout=10)


@pytest.mark.parametrize("tier", ["pro", "enterprise"])
def test_a_core_gate_below_the_route_leaves_every_other_route_up(af, make_guard, tier):
    """Issue 26, defect 1 in FastAPI's shape: ``@app.get`` over the core ``@feature`` and
    ``@requires_license``, the handlers installed."""
    from authforge_guard import requires_license

    guard = make_guard(license_key=af.create_license({"tier": tier}), heartbeat="grace")
    app = FastAPI()
    install_handlers(app)

    @app.get("/ent")
    @feature("enterprise", guard=guard)
    async def ent_view():
        return {"enterprise": True}

    @app.get("/licensed")
    @requires_license(guard=guard)
    def licensed_view():
        return {"licensed": True}

    @app.get("/open")
    def open_view():
        return {"open": True}

    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/open").json() == {"open": True}
    assert client.get("/licensed").json() == {"licensed": True}
    answer = client.get("/ent")
    if tier == "enterprise":
        assert answer.json() == {"enterprise": True}
    else:
        assert answer.status_code == 403
        assert answer.json()["code"] == "feature_not_licensed"
