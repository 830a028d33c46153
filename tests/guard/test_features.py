"""Feature gates: tier ladder, feature lists, truthy variables, fallback, live upgrades."""

import asyncio
import time

import pytest

from authforge_guard import FeatureNotLicensed, feature, has_feature


@pytest.mark.parametrize(
    ("variables", "granted", "denied"),
    [
        ({"tier": "pro"}, {"free", "pro"}, {"enterprise"}),
        ({"tier": "Enterprise"}, {"free", "pro", "enterprise"}, set()),
        ({"tier": "free"}, {"free"}, {"pro"}),
        ({"features": ["export-pdf", "Sync"]}, {"export-pdf", "sync"}, {"pro", "beta"}),
        ({"features": "export-pdf, sync"}, {"export-pdf", "sync"}, {"pro"}),
        (
            {"beta": "yes", "legacy": "false", "seats": 3, "zero": 0, "on": True},
            {"beta", "seats", "on"},
            {"legacy", "zero"},
        ),
        ({}, set(), {"free", "pro"}),
    ],
)
def test_grants(af, make_guard, variables, granted, denied):
    guard = make_guard(license_key=af.create_license(variables), heartbeat="grace")
    for name in granted:
        assert has_feature(name, guard=guard), name
    for name in denied:
        assert not has_feature(name, guard=guard), name


def test_decorator_denial_and_fallback(af, make_guard):
    guard = make_guard(license_key=af.create_license({"tier": "pro"}), heartbeat="grace")

    @feature("pro", guard=guard)
    def export_pdf(doc):
        return f"pdf:{doc}"

    @feature("enterprise", guard=guard)
    def audit_log():
        return "audit"

    @feature("enterprise", guard=guard, fallback=lambda doc: f"watermarked:{doc}")
    def export_clean(doc):
        return f"clean:{doc}"

    assert export_pdf("a") == "pdf:a"
    assert export_clean("b") == "watermarked:b"
    with pytest.raises(FeatureNotLicensed) as info:
        audit_log()
    assert info.value.feature == "enterprise" and info.value.tier == "pro"
    assert info.value.code == "feature_not_licensed"


def test_fallback_on_methods_and_async(af, make_guard):
    guard = make_guard(license_key=af.create_license({"tier": "free"}), heartbeat="grace")

    class Editor:
        name = "ed"

        @feature("pro", guard=guard, fallback=lambda self: f"{self.name}:basic")
        def render(self):
            return "fancy"

    async def basic():
        return "basic-async"

    @feature("pro", guard=guard, fallback=basic)
    async def render_async():
        return "fancy-async"

    assert Editor().render() == "ed:basic"
    assert asyncio.run(render_async()) == "basic-async"


def test_upgrade_is_seen_at_the_next_heartbeat(af, make_guard):
    key = af.create_license({"tier": "free"})
    guard = make_guard(license_key=key)

    @feature("pro", guard=guard, fallback=lambda: "upgrade to pro")
    def pro_report():
        return "pro report"

    session = guard.ensure()
    assert pro_report() == "upgrade to pro" and session.tier == "free"
    af.set_variables(key, {"tier": "pro"})
    deadline = time.monotonic() + 5
    while pro_report() != "pro report" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pro_report() == "pro report" and session.tier == "pro"
    af.set_variables(key, {"tier": "free"})
    deadline = time.monotonic() + 5
    while pro_report() == "pro report" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pro_report() == "upgrade to pro"
    assert af.stats()["licenses"][key]["validates"] == 1


def test_a_method_bound_while_granted_is_gated_again_after_a_downgrade(af, make_guard):
    key = af.create_license({"tier": "pro"})
    guard = make_guard(license_key=key)

    class Report:
        @feature("pro", guard=guard, fallback=lambda self: "upgrade to pro")
        def render(self):
            return "pro report"

    render = Report().render  # bound while the feature is granted
    assert render() == "pro report"
    af.set_variables(key, {"tier": "free"})
    deadline = time.monotonic() + 5
    while render() == "pro report" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert render() == "upgrade to pro"


def test_has_feature_is_false_without_a_license(af, make_guard):
    guard = make_guard(license_key="NOT-A-REAL-KEY-1")
    assert has_feature("pro", guard=guard) is False


def test_gate_on_an_async_classmethod(af, make_guard):
    import asyncio

    guard = make_guard(license_key=af.create_license({"tier": "free"}), heartbeat="grace")

    async def basic(cls):
        return f"{cls.__name__}:basic"

    class Service:
        @feature("pro", guard=guard, fallback=basic)
        @classmethod
        async def render(cls):
            return "fancy"

    assert asyncio.run(Service.render()) == "Service:basic"


def test_fallback_on_a_staticmethod_gets_just_the_arguments(af, make_guard):
    guard = make_guard(license_key=af.create_license({"tier": "free"}), heartbeat="grace")

    class Tools:
        @feature("pro", guard=guard, fallback=lambda x: f"basic:{x}")
        @staticmethod
        def render(x):
            return f"fancy:{x}"

    assert Tools.render(1) == "basic:1" and Tools().render(2) == "basic:2"
