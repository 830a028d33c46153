"""Property tests on the environment settings: whatever ``AUTHFORGE_*`` holds, only a
``ConfigurationError`` comes out, and what is accepted can be used; and, for a program
that does not trust its environment, nothing there changes whose licenses it believes
or loosens how strictly it checks them.

"Usable" is checked without a network: the numbers are finite and positive,
the interrupt signal is a real signal, and the Guard's client (which checks
the URL and the heartbeat interval against the host) can be built from them.
"""

import logging
import math
import signal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from authforge_guard import ConfigurationError, Guard
from authforge_guard._base._scheduler import shared_timers
from authforge_guard._guard._config import (
    DEFAULT_API_BASE_URL,
    ENV_VARS,
    SERVER_DEFAULT_TTL,
    resolve_settings,
)
from authforge_guard._protocol import SigningKey

pytestmark = pytest.mark.timeout(60)

KEY = SigningKey.generate().public_key_b64
EXAMPLES = 400

# Values a person, a shell script or a CI template has been known to put there.
TRICKY = [
    "",
    " ",
    "\t",
    "0",
    "1",
    "-1",
    "10",
    "0.0001",
    "1e-300",
    "1e12",
    "1e308",
    "1e309",
    "inf",
    "-inf",
    "Infinity",
    "nan",
    "NaN",
    "0x10",
    "1_000",
    "٣",
    "9" * 5000,
    "true",
    "false",
    "yes",
    "off",
    "online",
    "grace",
    "SERVER",
    "local",
    "Online ",
    "SIGURG",
    "urg",
    "SIGKILL",
    "SIG_IGN",
    "SIG_DFL",
    "SIG_BLOCK",
    "SIG_SETMASK",
    "SIGRTMIN",
    "NSIG",
    "9",
    "https://example.test",
    "https://auth.authforge.cc/",
    "http://example.test",
    "http://127.0.0.1:9",
    "http://[::1]:9",
    "http://localhost",
    "ftp://example.test",
    "https://",
    "example.test",
    "file:///etc/passwd",
    "https://user:pass@example.test",
    "https://example.test:99999",
    "http://10.0.0.1",
    KEY,
    f"{KEY},{KEY}",
    f"{KEY}, not-a-key",
    "AAAA",
    "\x00",
    "\ud800",
    "é",
    "/tmp",
]
values = st.one_of(
    st.sampled_from(TRICKY),
    st.text(st.characters(exclude_categories=()), max_size=40),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
)
names = st.sampled_from([*ENV_VARS.values(), "AUTHFORGE_UNKNOWN", "PATH"])
environments = st.builds(
    lambda base, extra: {**base, **extra},
    st.sampled_from(
        [{}, {"AUTHFORGE_APP_ID": "app"}, {"AUTHFORGE_APP_ID": "app", "AUTHFORGE_PUBLIC_KEY": KEY}]
    ),
    st.dictionaries(names, values, max_size=8),
)


def resolve(environ):
    try:
        return resolve_settings({"trust_environment": True}, environ)
    except ConfigurationError as exc:
        assert exc.env_var is None or exc.env_var in ENV_VARS.values()
        assert exc.argument is None or exc.argument in ENV_VARS
        return None


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(environments)
@example(
    {"AUTHFORGE_APP_ID": "a", "AUTHFORGE_PUBLIC_KEY": KEY, "AUTHFORGE_HEARTBEAT_INTERVAL": "inf"}
)
@example(
    {"AUTHFORGE_APP_ID": "a", "AUTHFORGE_PUBLIC_KEY": KEY, "AUTHFORGE_REQUEST_TIMEOUT": "1e12"}
)
@example(
    {"AUTHFORGE_APP_ID": "a", "AUTHFORGE_PUBLIC_KEY": KEY, "AUTHFORGE_API_URL": "http://10.0.0.1"}
)
@example({"AUTHFORGE_APP_ID": "a", "AUTHFORGE_PUBLIC_KEY": KEY, "AUTHFORGE_API_URL": "ftp://x"})
@example({"AUTHFORGE_APP_ID": "\udcff", "AUTHFORGE_PUBLIC_KEY": KEY})  # bytes that were not UTF-8
@example({"AUTHFORGE_APP_ID": "a", "AUTHFORGE_PUBLIC_KEY": KEY, "AUTHFORGE_PROXY_URL": "0"})
@example(
    {"AUTHFORGE_APP_ID": "a", "AUTHFORGE_PUBLIC_KEY": KEY, "AUTHFORGE_HEARTBEAT_INTERVAL": "5"}
)  # too often for the real service
@example(
    {
        "AUTHFORGE_APP_ID": "a",
        "AUTHFORGE_PUBLIC_KEY": KEY,
        "AUTHFORGE_INTERRUPT_SIGNAL": "SIG_SETMASK",
    }
)  # a constant named SIG_*, not a signal
def test_environment_settings_only_raise_configuration_error(environ):
    resolved = resolve(environ)
    if resolved is None:
        return
    assert math.isfinite(resolved.heartbeat_interval) and resolved.heartbeat_interval > 0
    assert math.isfinite(resolved.request_timeout) and resolved.request_timeout > 0
    assert resolved.ttl_seconds is None or resolved.ttl_seconds > 0
    if resolved.interrupt_signal is not None:
        assert resolved.interrupt_signal in signal.valid_signals()
    asked = environ.get("AUTHFORGE_INTERRUPT_SIGNAL", "").strip().upper()
    if asked:  # the signal of that name, not a constant that happens to be a number
        name = asked if asked.startswith("SIG") else "SIG" + asked
        assert signal.Signals.__members__[name] == resolved.interrupt_signal
    if resolved.proxy_url is not None:  # what the transport will build on first use
        import urllib3

        urllib3.ProxyManager(resolved.proxy_url).clear()
    # What was accepted builds a working client: no ValueError on first use.
    guard = Guard(environ=environ, trust_environment=True)
    assert guard._engine.transport.base_url == resolved.api_base_url.rstrip("/")


PINNED = {"app_id": "vendor-app", "public_key": KEY}
CODE_CHOICES = st.fixed_dictionaries(
    {},
    optional={
        "heartbeat": st.sampled_from(["online", "grace"]),
        "heartbeat_interval": st.sampled_from([30, 900, 3600]),
        "ttl_seconds": st.sampled_from([3600, 86400, 604800]),
        "session_cache": st.sampled_from([True, False]),
    },
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(environments, CODE_CHOICES)
@example(
    {
        "AUTHFORGE_HEARTBEAT": "grace",
        "AUTHFORGE_SESSION_CACHE": "1",
        "AUTHFORGE_HWID_OVERRIDE": "shared-seat",
    },
    {"heartbeat": "online"},
)
def test_an_untrusted_environment_never_loosens_the_code(environ, code):
    logging.getLogger("authforge_guard").disabled = True  # the warnings are tested elsewhere
    try:
        resolved = resolve_settings({**PINNED, **code}, environ)
    except ConfigurationError as exc:  # a bad value it would have used; never a trust one
        assert exc.env_var not in (
            "AUTHFORGE_APP_ID",
            "AUTHFORGE_PUBLIC_KEY",
            "AUTHFORGE_API_URL",
            "AUTHFORGE_HWID_OVERRIDE",
        )
        return
    finally:
        logging.getLogger("authforge_guard").disabled = False
    assert (resolved.app_id, resolved.public_key) == ("vendor-app", KEY)
    assert resolved.api_base_url == DEFAULT_API_BASE_URL and resolved.hwid_override is None
    if "heartbeat" in code:
        assert resolved.heartbeat == code["heartbeat"]
    assert resolved.heartbeat_interval <= code.get("heartbeat_interval", 900)
    assert (resolved.ttl_seconds or SERVER_DEFAULT_TTL) <= code.get(
        "ttl_seconds", SERVER_DEFAULT_TTL
    )
    assert resolved.session_cache == code.get("session_cache", False)
    assert resolved.session_store == code.get("session_cache", False)


def test_a_bad_url_is_named_when_the_guard_is_made():
    with pytest.raises(ConfigurationError) as info:
        Guard(
            environ={
                "AUTHFORGE_APP_ID": "a",
                "AUTHFORGE_PUBLIC_KEY": KEY,
                "AUTHFORGE_API_URL": "http://auth.example.test",
            },
            trust_environment=True,
        )
    assert info.value.env_var == "AUTHFORGE_API_URL" and info.value.argument == "api_base_url"
    assert "https" in str(info.value)


@pytest.fixture
def thread_crashes(monkeypatch):
    """Exceptions that ended a thread (``threading.excepthook``), recorded, not printed."""
    import threading

    crashes = []
    monkeypatch.setattr(threading, "excepthook", lambda args: crashes.append(args.exc_value))
    return crashes


def test_the_largest_accepted_numbers_work(shared_af, thread_crashes):
    """An interval or timeout too long for the OS timers is waited in pieces, not a crash."""
    environ = {
        **shared_af.environ(),
        "AUTHFORGE_HWID_OVERRIDE": "big-numbers",
        "AUTHFORGE_HEARTBEAT_INTERVAL": "1e300",
        "AUTHFORGE_REQUEST_TIMEOUT": "1e300",
        "AUTHFORGE_HEARTBEAT": "online",
    }
    guard = Guard(environ=environ, trust_environment=True)
    try:
        assert guard.ensure(shared_af.create_license()).active
        thread = shared_timers()._thread  # one timer thread runs every session's checks
        thread.join(0.3)
        assert thread.is_alive() and thread_crashes == []
    finally:
        guard.logout()


def test_a_far_future_offline_expiry_arms_no_crashing_timer(shared_af, tmp_path, thread_crashes):
    key = shared_af.create_license()
    path = tmp_path / "far.authforge"
    path.write_text(
        shared_af.mint_offline_file(key, expires_at="9999-12-31T00:00:00Z"), encoding="utf-8"
    )
    guard = Guard(
        app_id=shared_af.app_id, public_key=shared_af.public_key, api_base_url=shared_af.url
    )
    try:
        session = guard.ensure(license_file=path)
        thread = shared_timers()._thread  # the file's expiry waits on the shared timers
        thread.join(0.3)
        assert session.active and thread.is_alive() and thread_crashes == []
    finally:
        guard.logout()
