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

from authforge_guard import configure, current_session, feature, has_feature, requires_license
from authforge_guard.django import feature_required, license_required

from ..support.waiting import wait_for
from .conftest import in_a_thread

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


# -- tenants' views: a licensed() block on the tenant's session --------------------------------


@feature("pro", fallback=lambda: "denied")
def pro_helper():
    """A helper a view calls, gated without naming a session or a guard."""
    return "granted"


def what_the_code_sees(request):
    session = current_session()
    return {
        "license": request.license.tier,
        "tier": session.tier if session is not None else None,
        "pro": has_feature("pro"),
        "helper": pro_helper(),
    }


def tenant(request):
    return JsonResponse(what_the_code_sees(request))


async def async_tenant(request):
    return JsonResponse(what_the_code_sees(request))


def bug(request):
    SEEN.append(current_session())
    raise ValueError("the view's own bug")


PAUSE = {}  # the test's events, read by the waiting views
SEEN = []  # what current_session() was in the views that raise


def wait(request):
    PAUSE["sessions"]["waiting"] = request.license
    PAUSE["entered"].set()
    assert PAUSE["release"].wait(10)
    return JsonResponse(what_the_code_sees(request))


def quiet(request):  # calls nothing guarded after it waited (current_session() only reads)
    PAUSE["entered"].set()
    assert PAUSE["release"].wait(10)
    return JsonResponse({"done": current_session().tier})


def quick(request):
    PAUSE["sessions"]["quick"] = request.license
    return JsonResponse({"tier": current_session().tier})


# -- the core decorators straight on a view, the default guard's license (issue 26, defect 1) --


@feature("enterprise")
def core_enterprise(request):
    return JsonResponse({"enterprise": True})


@requires_license
def core_licensed(request):
    return JsonResponse({"licensed": True})


def open_view(request):
    return JsonResponse({"open": True})


def tenant_view(fn):
    return view(lambda guard: license_required(guard=guard, key_header="X-Key"), fn)


urlpatterns = [
    path("report", view(license_required, report)),
    path("export", view(lambda guard: feature_required("pro", guard=guard), export)),
    path("async", async_view(async_report)),
    path("inner", view(license_required, inner)),
    path("me", view(lambda guard: license_required(guard=guard, key_header="X-License-Key"), me)),
    # the default guard's (the vendor fixture's) tenants
    path("tenant", license_required(key_header="X-License-Key")(tenant)),
    path("async-tenant", license_required(key_header="X-License-Key")(async_tenant)),
    path("pro-tenant", feature_required("pro", key_header="X-License-Key")(tenant)),
    # the test's guard's tenants
    path("bug", tenant_view(bug)),
    path("wait", tenant_view(wait)),
    path("quiet", tenant_view(quiet)),
    path("quick", tenant_view(quick)),
    path("core-enterprise", core_enterprise),
    path("core-licensed", core_licensed),
    path("open", open_view),
]


@pytest.fixture
def client(make_guard):
    def make(**settings_):
        GUARD["guard"] = make_guard(**settings_)
        return Client(), GUARD["guard"]

    yield make
    GUARD.clear()
    PAUSE.clear()
    SEEN.clear()


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


def test_a_tenant_view_reads_the_tenants_license_never_the_vendors(af, vendor):
    pro, free = af.create_license({"tier": "pro"}), af.create_license({"tier": "free"})
    web = Client()
    for url in ("/tenant", "/async-tenant"):
        assert web.get(url, headers={"X-License-Key": pro}).json() == {
            "license": "pro",
            "tier": "pro",
            "pro": True,
            "helper": "granted",
        }
        assert web.get(url, headers={"X-License-Key": free}).json() == {
            "license": "free",
            "tier": "free",
            "pro": False,  # the vendor's enterprise license would say True
            "helper": "denied",
        }
    assert web.get("/pro-tenant", headers={"X-License-Key": pro}).json()["tier"] == "pro"
    answer = web.get("/pro-tenant", headers={"X-License-Key": free})
    assert (answer.status_code, answer.json()["code"]) == (403, "feature_not_licensed")
    assert vendor.session.tier == "enterprise" and current_session() is None
    assert af.stats()["licenses"][pro]["validates"] == 1  # a live session costs no login


def test_the_views_own_errors_pass_through_unchanged(af, client):
    web, _ = client(heartbeat="grace")
    key = {"X-Key": af.create_license({"tier": "pro"})}
    with pytest.raises(ValueError, match="the view's own bug"):
        web.get("/bug", headers=key)
    assert Client(raise_request_exception=False).get("/bug", headers=key).status_code == 500
    assert [s.tier if s is not None else None for s in SEEN] == ["pro"] * 2
    assert SEEN[0] is SEEN[1] and SEEN[0].active


@pytest.mark.parametrize("url", ["/wait", "/quiet"])
def test_a_loss_during_the_request(af, client, url):
    """A view that meets the loss (a gate after it) is answered 403; one that does not keeps
    its answer; the next request is refused either way."""
    web, guard = client()
    lost = threading.Event()
    guard.on_lost(lambda event: lost.set())
    PAUSE.update(entered=threading.Event(), release=threading.Event(), sessions={})
    key = af.create_license({"tier": "pro"})
    answer = in_a_thread(lambda: web.get(url, headers={"X-Key": key}))
    try:
        assert PAUSE["entered"].wait(10)
        af.revoke(key)
        assert lost.wait(10)
    finally:
        PAUSE["release"].set()
    answer = answer()
    if url == "/wait":
        assert answer.status_code == 403
        assert answer.json() == {"code": "revoked", "detail": "This license was revoked."}
    else:
        assert (answer.status_code, answer.json()) == (200, {"done": "pro"})
    answer = web.get("/quick", headers={"X-Key": key})
    assert (answer.status_code, answer.json()["code"]) == (403, "revoked")


def test_a_tenant_session_is_in_use_while_its_request_runs(af, client):
    web, _ = client(heartbeat="grace", session_idle_timeout=0.2)
    PAUSE.update(entered=threading.Event(), release=threading.Event(), sessions={})
    sessions = PAUSE["sessions"]
    busy, idle = af.create_license({"tier": "pro"}), af.create_license({"tier": "free"})
    answer = in_a_thread(lambda: web.get("/wait", headers={"X-Key": busy}))
    try:
        assert PAUSE["entered"].wait(10)
        # Used after the busy one: once it is logged out for idleness, so would the busy one be.
        assert web.get("/quick", headers={"X-Key": idle}).json() == {"tier": "free"}
        assert wait_for(lambda: sessions["quick"].lost_code == "idle", timeout=10)
        assert sessions["waiting"].active
    finally:
        PAUSE["release"].set()
    assert answer().json()["tier"] == "pro"
    assert wait_for(lambda: sessions["waiting"].lost_code == "idle", timeout=10)


@pytest.mark.parametrize("tier", ["pro", "enterprise"])
def test_a_core_gate_on_a_view_leaves_every_other_view_up(af, tier):
    """Issue 26, defect 1 in Django's shape: the core ``@feature`` / ``@requires_license``
    on views of the site's license, the middleware installed."""
    from ..conftest import FAST_RETRY

    configure(
        app_id=af.app_id,
        app_secret=af.app_secret,
        public_key=af.public_key,
        api_base_url=af.url,
        license_key=af.create_license({"tier": tier}),
        heartbeat="grace",
        retry_policy=FAST_RETRY,
    )
    client = Client()
    assert client.get("/open").json() == {"open": True}
    assert client.get("/core-licensed").json() == {"licensed": True}
    answer = client.get("/core-enterprise")
    if tier == "enterprise":
        assert answer.json() == {"enterprise": True}
    else:
        assert answer.status_code == 403
        assert answer.json()["code"] == "feature_not_licensed"
