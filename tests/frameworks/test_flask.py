"""Flask through its test client against a real local AuthForge server."""

import asyncio
import concurrent.futures
import threading

import pytest

pytest.importorskip("flask")

from flask import Blueprint, Flask, g

from authforge_guard import current_session, feature, has_feature
from authforge_guard.flask import AuthForge, feature_required, license_required

from ..support.waiting import wait_for
from .conftest import in_a_thread


def make_app(guard, *, extension=True):
    app = Flask(__name__)
    if extension:
        AuthForge(app, retry_after=9)

    @app.get("/report")
    @license_required(guard=guard)
    def report():
        return {"tier": g.license.tier}

    @app.get("/export")
    @feature_required("pro", guard=guard)
    def export():
        return {"exported": True}

    @app.get("/inner")
    @license_required(guard=guard)
    def inner():
        return {"audit": audit()}  # a gate deep inside a view

    @feature("enterprise", guard=guard)
    def audit():
        return "full"

    return app


def test_views_serve_and_gate(af, make_guard):
    guard = make_guard(license_key=af.create_license({"tier": "pro"}), heartbeat="grace")
    client = make_app(guard).test_client()
    assert client.get("/report").json == {"tier": "pro"}
    assert client.get("/export").json == {"exported": True}
    answer = client.get("/inner")  # raised inside the view: the extension answers it
    assert answer.status_code == 403
    assert answer.json == {
        "code": "feature_not_licensed",
        "detail": "This needs an enterprise license (yours: pro).",
    }


def test_refusals_are_403_even_without_the_extension(af, make_guard):
    key = af.create_license({"tier": "free"})
    guard = make_guard(license_key=key)
    lost = threading.Event()
    guard.on_lost(lambda event: lost.set())
    client = make_app(guard, extension=False).test_client()
    answer = client.get("/export")
    assert (answer.status_code, answer.json["code"]) == (403, "feature_not_licensed")
    assert client.get("/report").status_code == 200
    af.revoke(key)
    assert lost.wait(10)
    for path in ("/report", "/export"):
        answer = client.get(path)
        assert answer.status_code == 403
        assert answer.json == {"code": "revoked", "detail": "This license was revoked."}
        assert key not in answer.get_data(as_text=True)


def test_unreachable_is_503_with_retry_after(af, make_guard):
    guard = make_guard(license_key="ANY", api_base_url="http://127.0.0.1:9")
    answer = make_app(guard).test_client().get("/report")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "9"
    assert answer.json["code"] == "network_error"


def test_tenant_key_from_a_header(af, make_guard):
    guard = make_guard()
    app = Flask(__name__)
    AuthForge(app, guard=guard)

    @app.get("/me")
    @license_required(guard=guard, key_header="X-License-Key")
    def me():
        return {"tier": g.license.tier}

    client = app.test_client()
    answer = client.get("/me")
    assert (answer.status_code, answer.json) == (
        401,
        {
            "code": "missing_license_key",
            "detail": "Send your license key in the X-License-Key header.",
        },
    )
    key = af.create_license({"tier": "pro"})
    assert client.get("/me", headers={"X-License-Key": key}).json == {"tier": "pro"}


WRONG_ORDER = """
from flask import Blueprint, Flask
from authforge_guard import feature
from authforge_guard.flask import feature_required, license_required

app = Flask("service")
bp = Blueprint("pro", "service")

@{gate}
@{route}
def export():
    return {{"secret": "pro data"}}
"""


@pytest.mark.parametrize(
    ("route", "where"),
    [('app.get("/export")', "a Flask view"), ('bp.route("/export")', "a view of blueprint")],
)
@pytest.mark.parametrize("gate", ['feature_required("pro")', "license_required", 'feature("pro")'])
def test_a_gate_above_the_route_decorator_is_refused(gate, route, where):
    source = WRONG_ORDER.format(gate=gate, route=route)
    with pytest.raises(TypeError, match=f"already registered as {where}"):
        exec(compile(source, "service.py", "exec"), {"__name__": "service"})
    right = source.replace(f"@{gate}\n@{route}", f"@{route}\n@{gate}")
    exec(compile(right, "service.py", "exec"), {"__name__": "service"})


def test_a_blueprint_out_of_sight_gated_above_its_route_fails_closed(make_guard):
    guard = make_guard()
    bp = Blueprint("pro", __name__)  # not a module name: found only at the first request

    @feature_required("pro", guard=guard)  # wrong order: the blueprint keeps the ungated one
    @bp.get("/data")
    def data():
        return {"secret": "pro data"}

    app = Flask(__name__)
    AuthForge(app, guard=guard)
    app.register_blueprint(bp)
    answer = app.test_client().get("/data")
    assert answer.status_code == 500 and b"pro data" not in answer.data


def test_guard_argument_is_checked_at_decoration():
    with pytest.raises(TypeError, match=r"license_required\(guard=\.\.\.\) takes a Guard"):
        license_required(guard=object())


def test_async_views(af, make_guard):
    pytest.importorskip("asgiref")
    guard = make_guard(license_key=af.create_license({"tier": "free"}))
    app = Flask(__name__)
    AuthForge(app, guard=guard)

    @app.get("/a")
    @license_required(guard=guard)
    async def a():
        return {"tier": g.license.tier}

    @app.get("/b")
    @feature_required("pro", guard=guard)
    async def b():
        return {"pro": True}

    client = app.test_client()
    assert client.get("/a").json == {"tier": "free"}
    answer = client.get("/b")
    assert (answer.status_code, answer.json["code"]) == (403, "feature_not_licensed")


class OneLoopFlask(Flask):
    """An app that runs every async view on one long-lived event loop (to share its async
    clients between requests), whose default executor the app sized for its own jobs:
    Flask's documented way to change how async views run is ``async_to_sync``."""

    def __init__(self, name, executor):
        super().__init__(name)
        self.loop = asyncio.new_event_loop()
        self.loop.set_default_executor(executor)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def async_to_sync(self, func):
        def run(*args, **kwargs):
            # The request's context (flask.g, the request) goes with the coroutine's task.
            return asyncio.run_coroutine_threadsafe(func(*args, **kwargs), self.loop).result()

        return run

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.mark.parametrize("executor_state", ["saturated", "shut-down"])
@pytest.mark.parametrize("tenant", [False, True], ids=["app-license", "tenant"])
def test_an_async_view_never_waits_on_the_apps_default_executor(
    af, make_guard, executor_state, tenant
):
    """The gate of an async view logs in on the guard's own login threads: the loop's
    default executor is the application's, and full of its jobs or shut down it must
    neither hold a licensed request back nor break it."""
    pytest.importorskip("asgiref")
    key = af.create_license({"tier": "pro"})
    guard = make_guard(license_key=None if tenant else key)
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    release = threading.Event()
    app = OneLoopFlask(__name__, executor)
    try:
        if executor_state == "saturated":
            busy = [executor.submit(release.wait, 60) for _ in range(2)]
            wait_for(lambda: all(job.running() for job in busy))
        else:
            executor.shutdown()
        AuthForge(app, guard=guard)

        @app.get("/report")
        @license_required(guard=guard, key_header="X-License-Key" if tenant else None)
        async def report():
            return {"tier": g.license.tier, "pro": has_feature("pro", guard=guard)}

        client = app.test_client()
        headers = {"X-License-Key": key} if tenant else {}
        answer = in_a_thread(lambda: client.get("/report", headers=headers))()
        assert (answer.status_code, answer.json) == (200, {"tier": "pro", "pro": True})
        assert af.stats()["licenses"][key]["validates"] == 1
    finally:
        release.set()
        app.stop()
        executor.shutdown()


def test_an_async_view_answers_a_lost_license_after_its_cleanup_ran(af, make_guard):
    """As a sync view (and any guarded call outside a block): the loss of the app's
    license is answered only once its hooks are done, waited for without a thread."""
    pytest.importorskip("asgiref")
    key = af.create_license({"tier": "pro"})
    guard = make_guard(license_key=key)
    lost, arrived, answered = threading.Event(), threading.Event(), threading.Event()
    order = []

    @guard.on_lost
    def save_work(event):
        lost.set()
        arrived.wait(10)
        # A bound, not a timing goal: a gate that does not wait answers meanwhile.
        answered.wait(3)
        order.append("cleanup done")

    app = Flask(__name__)
    AuthForge(app, guard=guard)
    app.before_request(arrived.set)

    @app.after_request
    def record(response):
        order.append("answered")
        answered.set()
        return response

    @app.get("/report")
    @license_required(guard=guard)
    async def report():
        return {"tier": g.license.tier}

    client = app.test_client()
    assert client.get("/report").json == {"tier": "pro"}
    order.clear()
    arrived.clear()
    answered.clear()
    af.revoke(key)
    assert lost.wait(10)
    answer = in_a_thread(lambda: client.get("/report"))()
    assert (answer.status_code, answer.json["code"]) == (403, "revoked")
    assert order == ["cleanup done", "answered"]


# -- a tenant's request runs in a licensed() block on the tenant's session -------------------


@feature("pro", fallback=lambda: "denied")
def pro_helper():
    """A helper a view calls, gated without naming a session or a guard."""
    return "granted"


def what_the_code_sees():
    session = current_session()
    return {
        "license": g.license.tier,
        "tier": session.tier if session is not None else None,
        "pro": has_feature("pro"),
        "helper": pro_helper(),
    }


def test_a_tenant_view_reads_the_tenants_license_never_the_vendors(af, vendor):
    pytest.importorskip("asgiref")
    app = Flask(__name__)
    AuthForge(app)

    @app.get("/sync")
    @license_required(key_header="X-License-Key")
    def sync_view():
        return what_the_code_sees()

    @app.get("/async")
    @license_required(key_header="X-License-Key")
    async def async_view():
        return what_the_code_sees()

    pro, free = af.create_license({"tier": "pro"}), af.create_license({"tier": "free"})
    client = app.test_client()
    for path in ("/sync", "/async"):
        assert client.get(path, headers={"X-License-Key": pro}).json == {
            "license": "pro",
            "tier": "pro",
            "pro": True,
            "helper": "granted",
        }
        assert client.get(path, headers={"X-License-Key": free}).json == {
            "license": "free",
            "tier": "free",
            "pro": False,  # the vendor's enterprise license would say True
            "helper": "denied",
        }
    assert vendor.session.tier == "enterprise" and current_session() is None
    assert af.stats()["licenses"][pro]["validates"] == 1  # a live session costs no login


class Teapot(Exception):
    pass


def test_the_views_own_errors_pass_through_unchanged(af, make_guard):
    guard = make_guard(heartbeat="grace")
    app = Flask(__name__)
    AuthForge(app, guard=guard)
    app.register_error_handler(Teapot, lambda exc: ({}, 418))
    seen = []

    @app.get("/teapot")
    @license_required(guard=guard, key_header="X-Key")
    def teapot():
        seen.append(current_session())
        raise Teapot

    @app.get("/bug")
    @feature_required("pro", guard=guard, key_header="X-Key")
    def bug():
        seen.append(current_session())
        raise ValueError("the view's own bug")

    key = {"X-Key": af.create_license({"tier": "pro"})}
    assert app.test_client().get("/teapot", headers=key).status_code == 418
    assert app.test_client().get("/bug", headers=key).status_code == 500
    app.testing = True  # Flask re-raises it to the test
    with pytest.raises(ValueError, match="the view's own bug"):
        app.test_client().get("/bug", headers=key)
    assert [s.tier if s is not None else None for s in seen] == ["pro"] * 3
    assert all(s is seen[0] for s in seen) and seen[0].active


def paused_app(guard, release, entered, sessions):
    app = Flask(__name__)
    AuthForge(app, guard=guard)

    @app.get("/wait")
    @license_required(guard=guard, key_header="X-Key")
    def wait():
        sessions["waiting"] = g.license
        entered.set()
        assert release.wait(10)
        return what_the_code_sees()

    @app.get("/quiet")
    @license_required(guard=guard, key_header="X-Key")
    def quiet():  # calls nothing guarded after it waited (current_session() only reads)
        entered.set()
        assert release.wait(10)
        return {"done": current_session().tier}

    @app.get("/quick")
    @license_required(guard=guard, key_header="X-Key")
    def quick():
        sessions["quick"] = g.license
        return {"tier": current_session().tier}

    return app


@pytest.mark.parametrize("path", ["/wait", "/quiet"])
def test_a_loss_during_the_request(af, make_guard, path):
    """A view that meets the loss (a gate after it) is answered 403; one that does not keeps
    its answer; the next request is refused either way."""
    guard = make_guard()
    lost = threading.Event()
    guard.on_lost(lambda event: lost.set())
    release, entered = threading.Event(), threading.Event()
    client = paused_app(guard, release, entered, {}).test_client()
    key = af.create_license({"tier": "pro"})
    answer = in_a_thread(lambda: client.get(path, headers={"X-Key": key}))
    try:
        assert entered.wait(10)
        af.revoke(key)
        assert lost.wait(10)
    finally:
        release.set()
    answer = answer()
    if path == "/wait":
        assert answer.status_code == 403
        assert answer.json == {"code": "revoked", "detail": "This license was revoked."}
    else:
        assert (answer.status_code, answer.json) == (200, {"done": "pro"})
    answer = client.get("/quick", headers={"X-Key": key})
    assert (answer.status_code, answer.json["code"]) == (403, "revoked")


def test_a_tenant_session_is_in_use_while_its_request_runs(af, make_guard):
    guard = make_guard(heartbeat="grace", session_idle_timeout=0.2)
    release, entered, sessions = threading.Event(), threading.Event(), {}
    client = paused_app(guard, release, entered, sessions).test_client()
    busy, idle = af.create_license({"tier": "pro"}), af.create_license({"tier": "free"})
    answer = in_a_thread(lambda: client.get("/wait", headers={"X-Key": busy}))
    try:
        assert entered.wait(10)
        # Used after the busy one: once it is logged out for idleness, so would the busy one be.
        assert client.get("/quick", headers={"X-Key": idle}).json == {"tier": "free"}
        assert wait_for(lambda: sessions["quick"].lost_code == "idle", timeout=10)
        assert sessions["waiting"].active
    finally:
        release.set()
    assert answer().json["tier"] == "pro"
    assert wait_for(lambda: sessions["waiting"].lost_code == "idle", timeout=10)


@pytest.mark.parametrize("tier", ["pro", "enterprise"])
def test_a_core_gate_below_the_route_leaves_every_other_route_up(af, make_guard, tier):
    """Issue 26, defect 1: ``@app.get`` over the core ``@feature("enterprise")`` under
    ``AuthForge(app)``. A wrapt wrapper hashes and compares as the function it wraps, so the
    ungated-view check took the correctly gated view for an ungated one and every request to
    every route answered 500."""
    from authforge_guard import requires_license

    guard = make_guard(license_key=af.create_license({"tier": tier}), heartbeat="grace")
    app = Flask(__name__)
    AuthForge(app)

    @app.get("/ent")
    @feature("enterprise", guard=guard)
    def ent_view():
        return {"enterprise": True}

    @app.get("/licensed")
    @requires_license(guard=guard)
    def licensed_view():
        return {"licensed": True}

    @app.get("/open")
    def open_view():
        return {"open": True}

    client = app.test_client()
    assert client.get("/open").json == {"open": True}
    assert client.get("/licensed").json == {"licensed": True}
    answer = client.get("/ent")
    if tier == "enterprise":
        assert answer.json == {"enterprise": True}
    else:
        assert answer.status_code == 403
        assert answer.json["code"] == "feature_not_licensed"
