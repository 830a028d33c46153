"""The transport uses urllib3's public pool API only: a pool class's ``ConnectionCls`` (the
deadline watchdog's connections) and ``QueueCls`` (idle connections a forked child can drop
without hanging), a manager's ``pool_classes_by_scheme``. No internals, so this only keeps
``setup.cfg``'s lower bound honest: the transport's fork and proxy tests pass on the oldest
urllib3 it accepts."""

from __future__ import annotations

import pytest

from tests.versions.conftest import release, run_tests

pytestmark = pytest.mark.versions

OLDEST = "2.0.0"  # setup.cfg: urllib3>=2,<3


def test_the_transport_on_the_oldest_release():
    # The newest 2.x is the one the rest of the suite runs on in CI's fresh environment.
    run_tests(
        release(f"urllib3=={OLDEST}"),
        "tests/transport/test_fork.py",
        "tests/transport/test_proxy.py",
    )
