"""A gate put above Flask's route decorator is refused when the function is decorated: for a
blueprint's route, by finding the view in the closure of the setup call the blueprint keeps
(a borrowed internal; Flask's first request refuses it in any case). The Flask tests pass on
the oldest Flask ``setup.cfg`` accepts (with the Werkzeug of its day) and on the newest."""

from __future__ import annotations

import pytest

from tests.versions.conftest import release, run_tests

pytestmark = pytest.mark.versions

OLDEST = "2.2.0"  # setup.cfg: flask>=2.2


@pytest.mark.parametrize(
    "requirements",
    [(f"flask=={OLDEST}", "werkzeug==2.2.3"), ("flask", "werkzeug")],
    ids=["oldest", "newest"],
)
def test_gates_and_route_order_on_the_oldest_and_newest_release(requirements):
    run_tests(release(*requirements), "tests/frameworks/test_flask.py")
