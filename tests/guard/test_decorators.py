"""@requires_license on every kind of callable, keeping what makes it that callable."""

import asyncio
import functools
import inspect
import time

import pytest

from authforge_guard import LicenseError, requires_license


@pytest.fixture
def guard(af, make_guard):
    return make_guard(license_key=af.create_license({"tier": "pro"}), heartbeat="grace")


def test_function_keeps_signature_doc_and_wrapped(guard):
    def area(width: int, height: int = 2) -> int:
        """Area of a rectangle."""
        return width * height

    guarded = requires_license(guard=guard)(area)
    assert guarded(3) == 6
    assert guarded.__wrapped__ is area
    assert guarded.__doc__ == "Area of a rectangle." and guarded.__name__ == "area"
    assert inspect.signature(guarded) == inspect.signature(area)


def test_bare_decorator_on_the_default_guard(af):
    from authforge_guard import configure

    configure(
        app_id=af.app_id,
        app_secret=af.app_secret,
        public_key=af.public_key,
        api_base_url=af.url,
        license_key=af.create_license(),
        hwid_override="m",
    )

    @requires_license
    def hello(name):
        return f"hello {name}"

    assert hello("you") == "hello you"


def test_guard_method_form(guard):
    @guard.requires_license
    def one():
        return 1

    @guard.requires_license()
    def two():
        return 2

    assert one() + two() == 3


def test_async_function(guard):
    @requires_license(guard=guard)
    async def fetch(x):
        await asyncio.sleep(0)
        return x + 1

    assert inspect.iscoroutinefunction(fetch)
    assert asyncio.run(fetch(1)) == 2
    assert asyncio.run(fetch(2)) == 3  # second call on the fast path


def test_generators(guard):
    @requires_license(guard=guard)
    def count(n):
        yield from range(n)

    @requires_license(guard=guard)
    async def acount(n):
        for i in range(n):
            yield i

    async def collect():
        return [i async for i in acount(3)]

    assert inspect.isgeneratorfunction(count) and list(count(3)) == [0, 1, 2]
    assert inspect.isasyncgenfunction(acount) and asyncio.run(collect()) == [0, 1, 2]


def test_methods_classmethods_staticmethods(guard):
    class Report:
        factor = 10

        def __init__(self, base):
            self.base = base

        @requires_license(guard=guard)
        def total(self, extra):
            return self.base + extra

        @requires_license(guard=guard)
        @classmethod
        def scaled(cls, value):
            return cls.factor * value

        @requires_license(guard=guard)
        @staticmethod
        def pure(value):
            return -value

    report = Report(5)
    assert report.total(1) == 6
    assert Report.scaled(2) == 20 and report.scaled(3) == 30
    assert Report.pure(4) == -4 and report.pure(4) == -4
    assert list(inspect.signature(Report.total).parameters) == ["self", "extra"]


def test_a_method_bound_while_licensed_is_checked_again_after_a_loss(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key, on_lost="warn")

    class Job:
        @requires_license(guard=guard)
        def run(self):
            return "ran"

        @requires_license(guard=guard)
        @classmethod
        def plan(cls):
            return "planned"

    run, plan = Job().run, Job.plan  # bound while the session is live
    assert run() == "ran" and plan() == "planned"
    af.revoke(key)
    deadline = time.monotonic() + 5
    while guard.session is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    for call in (run, plan):
        with pytest.raises(LicenseError) as info:
            call()
        assert info.value.code == "revoked"


def test_partial_both_ways(guard):
    def power(base, exp):
        return base**exp

    assert functools.partial(requires_license(guard=guard)(power), 2)(10) == 1024
    assert requires_license(guard=guard)(functools.partial(power, exp=2))(9) == 81


def test_stacks_under_click(guard):
    click = pytest.importorskip("click")
    from click.testing import CliRunner

    @click.command()
    @click.option("--name", default="world")
    @requires_license(guard=guard)
    def greet(name):
        """Say hello."""
        click.echo(f"hello {name}")

    result = CliRunner().invoke(greet, ["--name", "licensed"])
    assert result.exit_code == 0 and result.output == "hello licensed\n"
    assert "Say hello." in CliRunner().invoke(greet, ["--help"]).output


def test_no_license_raises_license_error_not_exit(af, make_guard):
    guard = make_guard(license_key="WRONG-KEY-000000")

    @requires_license(guard=guard)
    async def job():
        return 1

    with pytest.raises(LicenseError) as info:
        asyncio.run(job())
    assert info.value.code == "invalid_key"


def test_rejects_non_callables():
    with pytest.raises(TypeError):
        requires_license(42)
