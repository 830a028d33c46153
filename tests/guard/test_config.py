"""Configuration: keyword first, environment second, every problem named."""

import pytest

from authforge_guard import ConfigurationError, Guard
from authforge_guard._protocol import SigningKey

KEY = SigningKey.generate().public_key_b64


def guard(environ=None, **kwargs):
    return Guard(environ=environ or {}, **kwargs)


@pytest.mark.parametrize(("kwargs", "argument", "variable"), [
    ({"public_key": KEY}, "app_id", "AUTHFORGE_APP_ID"),
    ({"app_id": "a"}, "public_key", "AUTHFORGE_PUBLIC_KEY"),
    ({"app_id": "a", "public_key": "not-a-key"}, "public_key", "AUTHFORGE_PUBLIC_KEY"),
    ({"app_id": "a", "public_key": KEY, "heartbeat": "sometimes"}, "heartbeat", "AUTHFORGE_HEARTBEAT"),
    ({"app_id": "a", "public_key": KEY, "heartbeat_interval": -1}, "heartbeat_interval",
     "AUTHFORGE_HEARTBEAT_INTERVAL"),
    ({"app_id": "a", "public_key": KEY, "ttl_seconds": 0}, "ttl_seconds", "AUTHFORGE_TTL_SECONDS"),
])
def test_missing_or_bad_setting_names_argument_and_variable(kwargs, argument, variable):
    with pytest.raises(ConfigurationError) as info:
        guard(**kwargs)
    assert info.value.argument == argument and info.value.env_var == variable
    assert argument in str(info.value) and variable in str(info.value)


def test_environment_fills_what_arguments_leave_out():
    env = {"AUTHFORGE_APP_ID": "from-env", "AUTHFORGE_PUBLIC_KEY": KEY,
           "AUTHFORGE_HEARTBEAT": "online", "AUTHFORGE_HEARTBEAT_INTERVAL": "30",
           "AUTHFORGE_TTL_SECONDS": "7200", "AUTHFORGE_API_URL": "https://example.test"}
    g = guard(env)
    assert g.settings.app_id == "from-env" and g.settings.online
    assert g.settings.heartbeat_interval == 30.0 and g.settings.ttl_seconds == 7200
    assert guard(env, app_id="from-arg").settings.app_id == "from-arg"


def test_env_errors_are_named_too():
    with pytest.raises(ConfigurationError) as info:
        guard({"AUTHFORGE_APP_ID": "a", "AUTHFORGE_PUBLIC_KEY": KEY,
               "AUTHFORGE_HEARTBEAT_INTERVAL": "soon"})
    assert info.value.env_var == "AUTHFORGE_HEARTBEAT_INTERVAL"


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


@pytest.mark.parametrize("kwargs", [{"on_lost": "explode"}, {"exit_code": 300}, {"tiers": "pro"},
                                     {"hook_timeout": -1}])
def test_bad_policy_values(kwargs):
    with pytest.raises(ConfigurationError):
        guard(app_id="a", public_key=KEY, **kwargs)


def test_secrets_stay_out_of_repr():
    g = guard(app_id="a", public_key=KEY, app_secret="SUPER-SECRET", license_key="LICENSE-KEY-123456")
    assert "SUPER-SECRET" not in repr(g) and "LICENSE-KEY-123456" not in repr(g.settings)
    assert "SUPER-SECRET" not in repr(g.settings)


def test_plain_http_to_a_remote_server_is_a_configuration_error():
    with pytest.raises(ConfigurationError) as info:
        guard(app_id="a", public_key=KEY, api_base_url="http://auth.example.com")
    assert info.value.env_var == "AUTHFORGE_API_URL" and "https" in str(info.value)


def test_short_interval_against_a_remote_server_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match=">= 10") as info:
        guard(app_id="a", public_key=KEY, app_secret="s", heartbeat_interval=1,
              api_base_url="https://auth.example.com")
    assert info.value.env_var == "AUTHFORGE_HEARTBEAT_INTERVAL"


def test_settings_for_the_other_workstreams_parse_and_validate():
    s = guard(app_id="a", public_key=KEY).settings
    assert (s.session_idle_timeout, s.max_sessions, s.session_store, s.on_refused) == (
        900.0, 10000, False, "raise")
    assert s.support_hint is None and s.trust_environment is False
    s = guard(app_id="a", public_key=KEY, session_idle_timeout=5, max_sessions=3,
              on_refused="exit", support_hint="Contact support@vendor.example",
              session_store="redis://cache.example:6379/0").settings
    assert (s.session_idle_timeout, s.max_sessions, s.on_refused) == (5.0, 3, "exit")
    assert s.session_store == "redis://cache.example:6379/0" and s.session_cache is False
    assert s.support_hint == "Contact support@vendor.example"
    s = guard(app_id="a", public_key=KEY, session_store="file:///srv/app/af").settings
    assert s.session_store == s.session_cache == "/srv/app/af"
    assert guard(app_id="a", public_key=KEY, session_cache=True).settings.session_store is True


@pytest.mark.parametrize(("kwargs", "argument"), [
    ({"session_idle_timeout": 0}, "session_idle_timeout"),
    ({"max_sessions": 0}, "max_sessions"),
    ({"on_refused": "warn"}, "on_refused"),
    ({"support_hint": ""}, "support_hint"),
    ({"trust_environment": "yes"}, "trust_environment"),
    ({"session_store": "ftp://x"}, "session_store"),
    ({"session_store": "/a", "session_cache": "/b"}, "session_store"),
])
def test_bad_values_of_the_new_settings(kwargs, argument):
    with pytest.raises(ConfigurationError) as info:
        guard(app_id="a", public_key=KEY, **kwargs)
    assert info.value.argument == argument
