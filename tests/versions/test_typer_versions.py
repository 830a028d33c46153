"""A licensed Typer callback defers its check past ``SUB --help`` by reading the current click
context: click's own (public) up to typer 0.25, the copy of click that typer 0.26 and later
carry inside them, ``typer._click.globals`` (a borrowed internal). The Typer callback test and
the click group tests pass on the oldest typer ``setup.cfg`` accepts (with the click of its
day), on the first typer with its own click, and on the newest (on Python 3.9, the newest
that installs there: typer 0.26 needs 3.10)."""

from __future__ import annotations

import sys

import pytest

from tests.versions.conftest import release, run_tests

pytestmark = pytest.mark.versions

OLDEST = "0.9.0"  # setup.cfg: typer>=0.9
OWN_CLICK = "0.26.0"  # the first typer with typer._click
SCENARIO = "tests/frameworks/test_cli_apps.py"


@pytest.mark.parametrize(
    "requirements",
    [(f"typer=={OLDEST}", "click==8.1.7"), (f"typer=={OWN_CLICK}",), ("typer<1",)],
    ids=["oldest", "own-click", "newest"],
)
def test_a_typer_callback_gate_on_the_oldest_and_newest_release(requirements):
    if requirements == (f"typer=={OWN_CLICK}",) and sys.version_info < (3, 10):
        pytest.skip("typer 0.26 needs Python 3.10")
    # The click group tests with the click of typer 0.9's day; the others use the installed click.
    chosen = (
        "typer_callback or click_group" if "click==" in " ".join(requirements) else "typer_callback"
    )
    run_tests(release(*requirements), SCENARIO, "-k", chosen)
