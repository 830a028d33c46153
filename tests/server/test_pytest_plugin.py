"""The pytest11 plugin: fixtures for users' suites, and an import that does nothing."""

import subprocess
import sys
import textwrap

# pytester's in-process runs drop the modules first imported inside them. cryptography loaded
# by the first run and again by the second gives two NoEncryption classes, and a key from one
# refuses the other's (a TypeError, when this file runs first in its process). Loaded here, it
# stays one module for both runs.
import cryptography.hazmat.primitives.asymmetric.ed25519
import cryptography.hazmat.primitives.serialization  # noqa: F401
import pytest

pytest_plugins = ["pytester"]


def test_importing_the_plugin_starts_and_reads_nothing():
    code = textwrap.dedent("""
        import sys, threading
        import authforge_guard.pytest_plugin
        loaded = [m for m in sys.modules if m.startswith(("authforge_guard.", "cryptography"))]
        print(sorted(loaded), threading.active_count())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # _sugar: the package's own leaf seam (no imports; see its docstring).
    assert out.stdout.strip() == (
        "['authforge_guard._sugar', 'authforge_guard._version', 'authforge_guard.pytest_plugin'] 1"
    )


def test_fixtures_give_a_users_suite_a_server_and_a_license(pytester):
    pytester.makepyfile(
        """
        import authforge

        def sdk(server):
            return authforge.AuthForgeClient(
                server.app_id, server.app_secret, server.public_key,
                api_base_url=server.url, hwid_override="test-box",
                online_heartbeat=True, on_failure=lambda reason, exc: None)

        def test_official_sdk_logs_in(authforge_server, authforge_license):
            client = sdk(authforge_server)
            assert client.login(authforge_license)
            for _ in range(8):  # no rate limit in the fixture
                assert client._heartbeat_tick()
            client.logout()
            assert authforge_server.stats()["licenses"][authforge_license]["heartbeats"] == 8

        def test_each_test_gets_a_fresh_server(authforge_server):
            assert authforge_server.stats() == {"licenses": {}, "credits_spent": 0}
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:asyncio")
    result.assert_outcomes(passed=2)


def test_guard_fixture(pytester):
    pytest.importorskip(
        "authforge_guard._guard._facade", reason="Guard lands with the integration issue"
    )
    pytester.makepyfile(
        """
        def test_guard(authforge_guard):
            assert authforge_guard.ensure() is not None
        """
    )
    pytester.runpytest("-p", "no:cacheprovider", "-p", "no:asyncio").assert_outcomes(passed=1)
