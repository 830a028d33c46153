"""Flask through its test client against a real local AuthForge server."""

import threading

import pytest

pytest.importorskip("flask")

from flask import Blueprint, Flask, g

from authforge_guard import feature
from authforge_guard.flask import AuthForge, feature_required, license_required


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
