"""Django's test client with a minimal settings module, against a real local AuthForge server."""

import threading

import pytest

pytest.importorskip("django")

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=__name__,
        SECRET_KEY="tests-only",
        MIDDLEWARE=["authforge_guard.django.LicenseErrorMiddleware"],
    )
    django.setup()

from django.http import JsonResponse
from django.test import Client
from django.urls import path

from authforge_guard import feature
from authforge_guard.django import feature_required, license_required

GUARD = {}  # the test's guard, read by the views at request time


def current():
    return GUARD["guard"]


def report(request):
    return JsonResponse({"tier": request.license.tier})


def export(request):
    return JsonResponse({"exported": True})


async def async_report(request):
    return JsonResponse({"tier": request.license.tier})


def inner(request):
    @feature("enterprise", guard=current())
    def audit():
        return "full"

    return JsonResponse({"audit": audit()})


def me(request):
    return JsonResponse({"tier": request.license.tier})


def view(gate, fn):
    """Gate ``fn`` with the test's guard, chosen at request time."""

    def dispatch(request):
        return gate(guard=current())(fn)(request)

    return dispatch


def async_view(fn):
    async def dispatch(request):
        return await license_required(guard=current())(fn)(request)

    return dispatch


urlpatterns = [
    path("report", view(license_required, report)),
    path("export", view(lambda guard: feature_required("pro", guard=guard), export)),
    path("async", async_view(async_report)),
    path("inner", view(license_required, inner)),
    path("me", view(lambda guard: license_required(guard=guard, key_header="X-License-Key"), me)),
]


@pytest.fixture
def client(make_guard):
    def make(**settings_):
        GUARD["guard"] = make_guard(**settings_)
        return Client(), GUARD["guard"]

    yield make
    GUARD.clear()


def test_views_serve_gate_and_answer_403(af, client):
    web, _ = client(license_key=af.create_license({"tier": "pro"}), heartbeat="grace")
    assert web.get("/report").json() == {"tier": "pro"}
    assert web.get("/export").json() == {"exported": True}
    assert web.get("/async").json() == {"tier": "pro"}
    answer = web.get("/inner")  # a gate raised inside the view: the middleware answers
    assert answer.status_code == 403
    assert answer.json() == {
        "code": "feature_not_licensed",
        "detail": "This needs an enterprise license (yours: pro).",
    }


def test_free_then_revoked(af, client):
    key = af.create_license({"tier": "free"})
    web, guard = client(license_key=key)
    lost = threading.Event()
    guard.on_lost(lambda event: lost.set())
    answer = web.get("/export")
    assert (answer.status_code, answer.json()["code"]) == (403, "feature_not_licensed")
    af.revoke(key)
    assert lost.wait(10)
    for url in ("/report", "/async", "/export"):
        answer = web.get(url)
        assert answer.status_code == 403, url
        assert answer.json() == {"code": "revoked", "detail": "This license was revoked."}


def test_unreachable_is_503_with_retry_after(af, client):
    web, _ = client(license_key="ANY", api_base_url="http://127.0.0.1:9")
    answer = web.get("/report")
    assert answer.status_code == 503 and answer["Retry-After"] == "30"
    assert answer.json()["code"] == "network_error"


def test_tenant_key_from_a_header(af, client):
    web, _ = client()
    answer = web.get("/me")
    assert (answer.status_code, answer.json()["code"]) == (401, "missing_license_key")
    key = af.create_license({"tier": "pro"})
    assert web.get("/me", headers={"X-License-Key": key}).json() == {"tier": "pro"}


def test_guard_argument_is_checked_at_decoration():
    with pytest.raises(TypeError, match=r"feature_required\(guard=\.\.\.\) takes a Guard"):
        feature_required("pro", guard="default")
