"""A library that uses the toolkit registers its hooks at import time, before the program has
configured anything; configure() carries every hook over to the new default guard."""

import threading

import pytest

import authforge_guard
from authforge_guard import ConfigurationError, configure, get_guard, licensed

from ..conftest import FAST_RETRY

FAST = {
    "heartbeat": "online",
    "heartbeat_interval": 0.2,
    "retry_policy": FAST_RETRY,
    "hook_timeout": 5.0,
}


def app_settings(af, key, **extra):
    return dict(
        app_id=af.app_id,
        app_secret=af.app_secret,
        public_key=af.public_key,
        api_base_url=af.url,
        license_key=key,
        hwid_override="lib-test",
        **FAST,
        **extra,
    )


class Library:
    """What a library does when it is imported: hooks on the default guard, no settings."""

    def __init__(self):
        self.events = []
        self.done = threading.Event()
        authforge_guard.add_cleanup(self.flush, "cache")

        @authforge_guard.on_lost
        def lost(event):
            self.events.append(("on_lost", event.code))

        @authforge_guard.on("revoked")
        def revoked(event):
            self.events.append(("on revoked", event.code))

    def flush(self, what):
        self.events.append(("cleanup", what))
        self.done.set()


def test_get_guard_at_import_time_does_not_read_settings():
    guard = get_guard()  # no AUTHFORGE_* at all
    assert repr(guard) == "Guard(default, settings not read yet)"
    assert guard.session is None
    guard.on_lost(lambda event: None)
    with pytest.raises(ConfigurationError) as info:
        guard.ensure()
    assert info.value.argument == "app_id"
    with pytest.raises(ConfigurationError):  # still not configured: said again at next use
        guard.ensure()


def test_probing_the_default_guard_at_import_time_reads_no_settings():
    # hasattr() and getattr() with a default, as a debugger, a serializer or an
    # autocompleter does on an object: a missing name is AttributeError, not a
    # ConfigurationError from reading the environment.
    guard = get_guard()  # no AUTHFORGE_* at all
    assert not hasattr(guard, "nonexistent")
    assert getattr(guard, "__html__", None) is None
    assert not hasattr(guard, "_deferred_other")
    assert repr(guard) == "Guard(default, settings not read yet)"
    with pytest.raises(ConfigurationError):  # a real use still says what is missing
        guard.ensure()


def test_the_deferred_guard_builds_for_exactly_what_guard_init_sets(af):
    from authforge_guard._api._default_guard import SET_BY_GUARD_INIT

    with af.guard() as real:
        assert set(vars(real)) == SET_BY_GUARD_INIT


def test_configure_carries_the_library_hooks_over(af):
    library = Library()
    key = af.create_license()
    guard = configure(**app_settings(af, key))
    assert get_guard() is guard
    guard.ensure()
    af.revoke(key)
    assert library.done.wait(10)
    assert library.events == [
        ("on revoked", "revoked"),
        ("on_lost", "revoked"),
        ("cleanup", "cache"),
    ]


def test_configure_twice_keeps_every_hook_once(af):
    library = Library()
    configure(**app_settings(af, af.create_license()))
    key = af.create_license()
    guard = configure(**app_settings(af, key))  # e.g. the app reconfigures after reading a file
    guard.ensure()
    af.revoke(key)
    assert library.done.wait(10)
    assert library.events == [
        ("on revoked", "revoked"),
        ("on_lost", "revoked"),
        ("cleanup", "cache"),
    ]


def test_a_development_build_configured_from_the_environment_later(af, monkeypatch):
    library = Library()
    key = af.create_license({"tier": "pro"})
    for name, value in af.environ(key).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AUTHFORGE_HWID_OVERRIDE", "lib-env")
    configure(
        trust_environment=True, heartbeat="online", heartbeat_interval=0.2, retry_policy=FAST_RETRY
    )
    with pytest.raises(authforge_guard.LicenseLost):
        with licensed() as session:
            assert session.tier == "pro"
            af.revoke(key)
            assert library.done.wait(10)
    assert ("cleanup", "cache") in library.events


def test_guard_argument_is_checked_when_decorating():
    with pytest.raises(TypeError, match=r"requires_license\(guard=\.\.\.\) takes a Guard"):
        authforge_guard.requires_license(guard="my-guard")
    with pytest.raises(TypeError, match=r"feature\(guard=\.\.\.\) takes a Guard"):
        authforge_guard.feature("pro", guard=42)
    with pytest.raises(TypeError, match=r"licensed\(guard=\.\.\.\) takes a Guard"):
        licensed(guard="x")
