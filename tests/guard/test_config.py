"""Configuration: keyword first, environment second (as far as each setting's kind
allows), every problem named; one table of settings behind all of it."""

import inspect
import logging
import re
from pathlib import Path

import pytest

from authforge_guard import ConfigurationError, Guard, configure
from authforge_guard._api._default_guard import _reset_default_for_tests
from authforge_guard._guard._config import (
    CODE,
    ENFORCEMENT,
    ENV_VARS,
    ENVIRONMENT,
    SETTINGS,
    TRUST,
    GuardSettings,
    configuration_table,
    resolve_settings,
)
from authforge_guard._protocol import SigningKey

KEY = SigningKey.generate().public_key_b64
OTHER_KEY = SigningKey.generate().public_key_b64
CONFIGURATION_PAGE = Path(__file__).resolve().parents[2] / "docs/reference/configuration.md"


def guard(environ=None, **kwargs):
    return Guard(environ=environ or {}, **kwargs)


def trusting(environ=None, **kwargs):
    """A Guard as development, tests and CI build one: the environment is trusted."""
    return Guard(environ=environ or {}, trust_environment=True, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "argument", "variable"),
    [
        ({"public_key": KEY}, "app_id", "AUTHFORGE_APP_ID"),
        ({"app_id": "a"}, "public_key", "AUTHFORGE_PUBLIC_KEY"),
        ({"app_id": "a", "public_key": "not-a-key"}, "public_key", "AUTHFORGE_PUBLIC_KEY"),
        (
            {"app_id": "a", "public_key": KEY, "heartbeat": "sometimes"},
            "heartbeat",
            "AUTHFORGE_HEARTBEAT",
        ),
        (
            {"app_id": "a", "public_key": KEY, "heartbeat_interval": -1},
            "heartbeat_interval",
            "AUTHFORGE_HEARTBEAT_INTERVAL",
        ),
        (
            {"app_id": "a", "public_key": KEY, "ttl_seconds": 0},
            "ttl_seconds",
            "AUTHFORGE_TTL_SECONDS",
        ),
    ],
)
def test_missing_or_bad_setting_names_argument_and_variable(kwargs, argument, variable):
    with pytest.raises(ConfigurationError) as info:
        guard(**kwargs)
    assert info.value.argument == argument and info.value.env_var == variable
    assert argument in str(info.value) and variable in str(info.value)


def test_a_trusted_environment_fills_what_arguments_leave_out():
    env = {
        "AUTHFORGE_APP_ID": "from-env",
        "AUTHFORGE_PUBLIC_KEY": KEY,
        "AUTHFORGE_HEARTBEAT": "grace",
        "AUTHFORGE_HEARTBEAT_INTERVAL": "3000",
        "AUTHFORGE_TTL_SECONDS": "604800",
        "AUTHFORGE_API_URL": "https://example.test",
        "AUTHFORGE_HWID_OVERRIDE": "tg:1",
        "AUTHFORGE_SESSION_CACHE": "1",
    }
    s = trusting(env, heartbeat="online").settings
    assert (s.app_id, s.api_base_url, s.hwid_override) == (
        "from-env",
        "https://example.test",
        "tg:1",
    )
    assert s.online  # the keyword still wins
    assert s.heartbeat_interval == 3000.0 and s.ttl_seconds == 604800 and s.session_cache is True
    assert trusting(env, app_id="from-arg").settings.app_id == "from-arg"


def test_env_errors_are_named_too():
    with pytest.raises(ConfigurationError) as info:
        guard({"AUTHFORGE_HEARTBEAT_INTERVAL": "soon"}, app_id="a", public_key=KEY)
    assert info.value.env_var == "AUTHFORGE_HEARTBEAT_INTERVAL"


# ------------------------------------------------- who may set what (issue 18)

TRUST_ENV = {
    "AUTHFORGE_APP_ID": "attacker-app",
    "AUTHFORGE_PUBLIC_KEY": OTHER_KEY,
    "AUTHFORGE_API_URL": "http://127.0.0.1:9",
    "AUTHFORGE_HWID_OVERRIDE": "shared-seat",
}


def warnings_in(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_trust_settings_in_the_environment_are_ignored_with_one_warning_each(caplog):
    caplog.set_level(logging.WARNING, logger="authforge_guard")
    s = guard(TRUST_ENV, app_id="vendor-app", public_key=KEY).settings
    assert (s.app_id, s.public_key, s.api_base_url, s.hwid_override) == (
        "vendor-app",
        KEY,
        "https://auth.authforge.cc",
        None,
    )
    messages = warnings_in(caplog)
    assert len(messages) == 4
    for variable, value in TRUST_ENV.items():
        assert sum(variable in m for m in messages) == 1
        assert all(value not in m for m in messages)  # the name is enough
    assert all("trust_environment=True" in m for m in messages)


def test_an_environment_that_agrees_with_the_code_says_nothing(caplog):
    caplog.set_level(logging.WARNING, logger="authforge_guard")
    env = {
        "AUTHFORGE_APP_ID": "a",
        "AUTHFORGE_PUBLIC_KEY": f" {KEY} ",
        "AUTHFORGE_HEARTBEAT": "SERVER",
        "AUTHFORGE_HEARTBEAT_INTERVAL": "900",
    }
    assert guard(env, app_id="a", public_key=[KEY], heartbeat="online").settings.online
    assert warnings_in(caplog) == []


@pytest.mark.parametrize("argument", ["app_id", "public_key"])
def test_a_trust_setting_missing_from_code_says_how_to_set_it(argument):
    kwargs = {"app_id": "a", "public_key": KEY}
    del kwargs[argument]
    with pytest.raises(ConfigurationError) as info:
        guard(TRUST_ENV, **kwargs)
    assert info.value.argument == argument and info.value.env_var == ENV_VARS[argument]
    message = str(info.value)
    assert f"{argument}=" in message and "trust_environment=True" in message
    assert TRUST_ENV[ENV_VARS[argument]] not in message


def test_a_bad_trust_variable_is_ignored_not_an_error(caplog):
    caplog.set_level(logging.WARNING, logger="authforge_guard")
    s = guard(
        {"AUTHFORGE_PUBLIC_KEY": "garbage", "AUTHFORGE_API_URL": "ftp://x"},
        app_id="a",
        public_key=KEY,
    ).settings
    assert s.public_key == KEY and len(warnings_in(caplog)) == 2


# (environment, what the code says, expected setting, ignored?)
ENFORCEMENT_CASES = [
    ({"AUTHFORGE_HEARTBEAT": "grace"}, {"heartbeat": "online"}, ("heartbeat", "online"), True),
    ({"AUTHFORGE_HEARTBEAT": "local"}, {"heartbeat_mode": "SERVER"}, ("heartbeat", "online"), True),
    ({"AUTHFORGE_HEARTBEAT": "online"}, {}, ("heartbeat", "online"), False),  # stricter
    ({"AUTHFORGE_HEARTBEAT": "online"}, {"heartbeat": "grace"}, ("heartbeat", "grace"), True),
    ({"AUTHFORGE_HEARTBEAT_INTERVAL": "3600"}, {}, ("heartbeat_interval", 900.0), True),
    ({"AUTHFORGE_HEARTBEAT_INTERVAL": "60"}, {}, ("heartbeat_interval", 60.0), False),
    (
        {"AUTHFORGE_HEARTBEAT_INTERVAL": "60"},
        {"heartbeat_interval": 600},
        ("heartbeat_interval", 600.0),
        True,
    ),
    ({"AUTHFORGE_TTL_SECONDS": "604800"}, {}, ("ttl_seconds", None), True),
    ({"AUTHFORGE_TTL_SECONDS": "3600"}, {}, ("ttl_seconds", 3600), False),
    ({"AUTHFORGE_TTL_SECONDS": "3600"}, {"ttl_seconds": 7200}, ("ttl_seconds", 7200), True),
    ({"AUTHFORGE_SESSION_CACHE": "1"}, {}, ("session_cache", False), True),
    ({"AUTHFORGE_SESSION_CACHE": "/tmp/af"}, {}, ("session_cache", False), True),
    ({"AUTHFORGE_SESSION_STORE": "redis://x"}, {}, ("session_store", False), True),
    ({"AUTHFORGE_SESSION_CACHE": "0"}, {}, ("session_cache", False), False),
    ({"AUTHFORGE_SESSION_CACHE": "0"}, {"session_cache": True}, ("session_cache", True), True),
]


@pytest.mark.parametrize(("env", "code", "expected", "ignored"), ENFORCEMENT_CASES)
def test_the_environment_may_only_make_enforcement_stricter(caplog, env, code, expected, ignored):
    caplog.set_level(logging.WARNING, logger="authforge_guard")
    s = guard(env, app_id="a", public_key=KEY, api_base_url="https://auth.example", **code).settings
    name, value = expected
    assert getattr(s, name) == value
    messages = warnings_in(caplog)
    assert len(messages) == (1 if ignored else 0)
    if ignored:
        assert next(iter(env)) in messages[0]
    # trust_environment=True: the keyword first, then the environment, as before
    trusted = trusting(
        env, app_id="a", public_key=KEY, api_base_url="https://auth.example", **code
    ).settings
    if not code:
        assert getattr(trusted, name) != getattr(s, name) or not ignored


def test_configure_takes_trust_environment(monkeypatch):
    monkeypatch.setenv("AUTHFORGE_APP_ID", "from-env")
    monkeypatch.setenv("AUTHFORGE_PUBLIC_KEY", KEY)
    try:
        with pytest.raises(ConfigurationError, match="trust_environment=True"):
            configure()
        assert configure(trust_environment=True).settings.app_id == "from-env"
        assert configure(app_id="mine", public_key=KEY).settings.app_id == "mine"
    finally:
        _reset_default_for_tests()


# ------------------------------------------------------------ the one table


def test_guard_keywords_are_the_table():
    parameters = inspect.signature(Guard.__init__).parameters
    keywords = set(parameters) - {"self", "retry_policy", "environ"}
    assert keywords == {row.name for row in SETTINGS} | {a for row in SETTINGS for a in row.aliases}
    for row in SETTINGS:  # a default in the signature is the table's, or None (left out)
        assert parameters[row.name].default in (None, row.default), row.name


def test_guard_settings_fields_are_the_table():
    names = [row.name for row in SETTINGS]
    assert list(GuardSettings.fields()) == names
    assert list(GuardSettings.__annotations__) == names  # the types mypy checks against


def test_environment_variables_come_from_the_table():
    assert ENV_VARS == {row.name: row.env_var for row in SETTINGS if row.env_var}
    assert all(row.env_var is None for row in SETTINGS if row.kind == CODE)
    assert all(row.env_var for row in SETTINGS if row.kind != CODE)
    kinds = {row.name: row.kind for row in SETTINGS}
    assert {n for n, k in kinds.items() if k == TRUST} == {
        "app_id",
        "public_key",
        "api_base_url",
        "hwid_override",
        "interrupt_signal",  # issue 25: the environment could switch delivery off
    }
    assert {n for n, k in kinds.items() if k == ENFORCEMENT} == {
        "heartbeat",
        "heartbeat_interval",
        "ttl_seconds",
        "session_cache",
        "session_store",
    }
    assert {
        "app_secret",
        "license_key",
        "license_file",
        "request_timeout",
        "proxy_url",
        "ca_bundle",
    } <= {n for n, k in kinds.items() if k == ENVIRONMENT}


def test_the_documented_table_is_the_tables():
    section = CONFIGURATION_PAGE.read_text(encoding="utf-8")
    assert configuration_table() in section
    for row in SETTINGS:
        if row.kind == CODE:
            assert re.search(rf"`{row.name}`", section), row.name


def test_resolve_settings_defaults_are_the_tables():
    s = resolve_settings({"app_id": "a", "public_key": KEY}, {})
    for row in SETTINGS:
        if row.name not in ("app_id", "public_key", "interrupt_signal"):
            assert getattr(s, row.name) == row.default, row.name


def test_heartbeat_mode_spelling_of_the_official_sdk():
    assert guard(app_id="a", public_key=KEY, heartbeat_mode="server").settings.online
    assert not guard(app_id="a", public_key=KEY, heartbeat_mode="LOCAL").settings.online


def test_missing_license_and_secret_are_reported_at_login():
    g = guard(app_id="a", public_key=KEY, api_base_url="http://127.0.0.1:9")
    with pytest.raises(ConfigurationError) as info:
        g.ensure()
    assert info.value.env_var == "AUTHFORGE_LICENSE_KEY"
    with pytest.raises(ConfigurationError) as info:
        g.ensure("SOME-KEY")
    assert info.value.env_var == "AUTHFORGE_APP_SECRET"


@pytest.mark.parametrize(
    "kwargs", [{"on_lost": "explode"}, {"exit_code": 300}, {"tiers": "pro"}, {"hook_timeout": -1}]
)
def test_bad_policy_values(kwargs):
    with pytest.raises(ConfigurationError):
        guard(app_id="a", public_key=KEY, **kwargs)


def test_secrets_stay_out_of_repr():
    g = guard(
        app_id="a", public_key=KEY, app_secret="SUPER-SECRET", license_key="LICENSE-KEY-123456"
    )
    assert "SUPER-SECRET" not in repr(g) and "LICENSE-KEY-123456" not in repr(g.settings)
    assert "SUPER-SECRET" not in repr(g.settings)


def test_plain_http_to_a_remote_server_is_a_configuration_error():
    with pytest.raises(ConfigurationError) as info:
        guard(app_id="a", public_key=KEY, api_base_url="http://auth.example.com")
    assert info.value.env_var == "AUTHFORGE_API_URL" and "https" in str(info.value)


def test_short_interval_against_a_remote_server_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match=">= 10") as info:
        guard(
            app_id="a",
            public_key=KEY,
            app_secret="s",
            heartbeat_interval=1,
            api_base_url="https://auth.example.com",
        )
    assert info.value.env_var == "AUTHFORGE_HEARTBEAT_INTERVAL"


def test_settings_for_the_other_workstreams_parse_and_validate():
    s = guard(app_id="a", public_key=KEY).settings
    assert (s.session_idle_timeout, s.max_sessions, s.session_store, s.on_refused) == (
        900.0,
        10000,
        False,
        "raise",
    )
    assert s.support_hint is None and s.trust_environment is False
    s = guard(
        app_id="a",
        public_key=KEY,
        session_idle_timeout=5,
        max_sessions=3,
        on_refused="exit",
        support_hint="Contact support@vendor.example",
        session_store="redis://cache.example:6379/0",
    ).settings
    assert (s.session_idle_timeout, s.max_sessions, s.on_refused) == (5.0, 3, "exit")
    assert s.session_store == "redis://cache.example:6379/0" and s.session_cache is False
    assert s.support_hint == "Contact support@vendor.example"
    s = guard(app_id="a", public_key=KEY, session_store="file:///srv/app/af").settings
    assert s.session_store == s.session_cache == "/srv/app/af"
    assert guard(app_id="a", public_key=KEY, session_cache=True).settings.session_store is True


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"session_idle_timeout": 0}, "session_idle_timeout"),
        ({"max_sessions": 0}, "max_sessions"),
        ({"on_refused": "warn"}, "on_refused"),
        ({"support_hint": ""}, "support_hint"),
        ({"trust_environment": "yes"}, "trust_environment"),
        ({"session_store": "ftp://x"}, "session_store"),
        ({"session_store": "/a", "session_cache": "/b"}, "session_store"),
    ],
)
def test_bad_values_of_the_new_settings(kwargs, argument):
    with pytest.raises(ConfigurationError) as info:
        guard(app_id="a", public_key=KEY, **kwargs)
    assert info.value.argument == argument
