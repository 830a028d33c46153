"""Framework tests: the real frameworks (skipped when one is not installed), a real local
AuthForge server, and the examples run as their users run them."""

import socket

import pytest

from ..examples.conftest import EXAMPLES, example_env, run_example  # noqa: F401


@pytest.fixture
def silent_port():
    """A loopback port that accepts connections and never answers (a hung server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


@pytest.fixture
def customer_env(af, tmp_path):
    """The vendor's settings, no license key, and an empty config dir for the stored key."""

    def make(license_key=None, **extra):
        extra.setdefault("XDG_CONFIG_HOME", str(tmp_path / "config"))
        return example_env(af, license_key, **extra)

    return make


@pytest.fixture
def start_example():
    """Start a long-running example; killed after the test if it is still running."""
    from ..examples.conftest import Running

    started = []

    def start(name, *args, env):
        running = Running(name, *args, env=env)
        started.append(running)
        return running

    yield start
    for running in started:
        running.kill()


def http_get(url, headers=None):
    """(status, JSON body, headers) of a GET, for any status."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read()), dict(answer.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def in_a_thread(call):
    """Run ``call`` (a request that waits inside its view) in a thread; ``result()`` waits,
    bounded, for what it returned, or raises what it raised."""
    import threading

    box = []

    def run():
        try:
            box.append(call())
        except BaseException as exc:  # raised in the test's thread by result()
            box.append(exc)

    thread = threading.Thread(target=run)
    thread.start()

    def result():
        thread.join(10)
        assert box, "the request did not finish"
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    return result


@pytest.fixture
def vendor(af):
    """The default guard, configured with the vendor's own license (tier ``enterprise``) and
    logged in: what a tenant's endpoint must never read instead of the tenant's license.
    Tenants are other ``(key, hwid)`` sessions of this same guard."""
    from authforge_guard import configure

    from ..conftest import FAST_RETRY

    guard = configure(
        app_id=af.app_id,
        app_secret=af.app_secret,
        public_key=af.public_key,
        api_base_url=af.url,
        license_key=af.create_license({"tier": "enterprise"}),
        hwid_override="vendor",
        heartbeat="grace",
        retry_policy=FAST_RETRY,
        hook_timeout=5.0,
    )
    assert guard.ensure().tier == "enterprise"
    return guard  # logged out by the autouse _fresh_default_guard
