"""urllib3 loads without running ``urllib3.http2`` until someone uses it (``_urllib3.py``,
a borrowed internal: urllib3's package layout); the rest of the transport uses urllib3's
public pool API (a pool class's ``ConnectionCls`` and ``QueueCls``, a manager's
``pool_classes_by_scheme``). The deferral's spec (``tests/transport/test_lazy_urllib3.py``)
and the transport's fork and proxy tests pass on the oldest urllib3 ``setup.cfg`` accepts
(which has no ``urllib3.http2``: a plain import), on the first with it, and on the newest."""

from __future__ import annotations

import pytest

from tests.versions.conftest import release, run_tests

pytestmark = pytest.mark.versions

OLDEST = "2.0.0"  # setup.cfg: urllib3>=2,<3
FIRST_HTTP2 = "2.2.3"  # the first urllib3 whose connection module imports urllib3.http2
LAZY = "tests/transport/test_lazy_urllib3.py"


def test_the_transport_on_the_oldest_release():
    run_tests(
        release(f"urllib3=={OLDEST}"),
        "tests/transport/test_fork.py",
        "tests/transport/test_proxy.py",
        f"{LAZY}::test_a_request_does_not_run_urllib3_http2",
    )


@pytest.mark.parametrize("requirement", [f"urllib3=={FIRST_HTTP2}", "urllib3>=2,<3"])
def test_the_deferred_http2_package_on_the_first_and_newest_release_with_it(requirement):
    run_tests(release(requirement), LAZY, "tests/transport/test_fork.py")
