"""``_wrapt.py`` defers wrapt's package and loads its C ``FunctionWrapper`` alone (a borrowed
internal: wrapt's package layout); a guarded method pickles through the instance wrapt's bound
wrapper keeps (``_self_instance``, another). Their specs, ``tests/guard/test_lazy_wrapt.py``
and ``tests/delivery/test_pickle.py``, pass on the oldest wrapt ``setup.cfg`` accepts and on
the newest 2.x."""

from __future__ import annotations

import pytest

from tests.versions.conftest import release, run_tests

pytestmark = pytest.mark.versions

OLDEST = "2.4.0"  # setup.cfg: wrapt>=2.4,<3


@pytest.mark.parametrize("requirement", [f"wrapt=={OLDEST}", "wrapt>=2.4,<3"])
def test_decorators_defer_wrapt_on_the_oldest_and_newest_release(requirement):
    folder = release(requirement)
    run_tests(folder, "tests/guard/test_lazy_wrapt.py", "tests/delivery/test_pickle.py")
