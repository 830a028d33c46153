"""The transport uses urllib3's public pool API only: a pool class's ``ConnectionCls`` (the
deadline watchdog's connections) and ``QueueCls`` (idle connections a forked child can drop
without hanging), a manager's ``pool_classes_by_scheme``. No internals, so this only keeps
``setup.cfg``'s lower bound honest: the transport's fork and proxy tests pass on the oldest
urllib3 it accepts and on the newest 2.x."""

from __future__ import annotations

import pytest

from tests.versions.conftest import release, run_tests

OLDEST = "2.0.0"  # setup.cfg: urllib3>=2,<3


@pytest.mark.parametrize("requirement", [f"urllib3=={OLDEST}", "urllib3>=2,<3"])
def test_the_transport_on_the_oldest_and_newest_release(requirement):
    folder = release(requirement)
    run_tests(
        folder,
        "tests/transport/test_fork.py",
        "tests/transport/test_proxy.py",
    )
