"""Guards on offline files: decorators and gates work the same; the file is tried first and
the key is the fallback; an expiring file is a loss like any other."""

import time

import pytest

from authforge_guard import (
    Guard,
    LicenseError,
    LicenseLost,
    configure,
    feature,
    licensed,
    requires_license,
)

UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture
def offline_file(af, tmp_path):
    def make(variables=None, *, hwid="plant-7", **kwargs):
        key = af.create_license(variables or {"tier": "pro"})
        path = tmp_path / f"{key}.authforge"
        path.write_text(af.mint_offline_file(key, hwids=[hwid], **kwargs))
        return key, path

    return make


def offline_guard(af, path, **overrides):
    kwargs = dict(
        app_id=af.app_id,
        public_key=af.public_key,
        api_base_url=UNREACHABLE,
        license_file=str(path),
        hwid_override="plant-7",
    )
    kwargs.update(overrides)
    return Guard(**kwargs)


def test_decorators_and_gates_on_an_offline_session(af, offline_file):
    key, path = offline_file({"tier": "pro", "features": "export"})
    guard = offline_guard(af, path)  # no app secret, no reachable server

    @requires_license(guard=guard)
    def run():
        return "ran"

    @feature("pro", guard=guard)
    def pro():
        return "pro"

    @feature("enterprise", guard=guard, fallback=lambda: "basic")
    def enterprise():
        return "enterprise"

    assert (run(), pro(), enterprise()) == ("ran", "pro", "basic")
    session = guard.session
    assert session.kind == "offline" and session.tier == "pro"
    assert {"free", "pro", "export"} <= session.features
    assert af.stats()["licenses"].get(key, {}).get("validates", 0) == 0
    guard.logout()


def test_licensed_block_with_an_explicit_file(af, offline_file):
    _key, path = offline_file()
    guard = Guard(
        app_id=af.app_id,
        public_key=af.public_key,
        api_base_url=UNREACHABLE,
        hwid_override="plant-7",
    )
    with licensed(guard=guard, license_file=path) as session:
        assert session.kind == "offline" and session.expires_at is None
    assert guard.session is None


def test_environment_names_the_file(af, offline_file, monkeypatch):
    _key, path = offline_file()
    monkeypatch.setenv("AUTHFORGE_APP_ID", af.app_id)
    monkeypatch.setenv("AUTHFORGE_PUBLIC_KEY", af.public_key)
    monkeypatch.setenv("AUTHFORGE_LICENSE_FILE", str(path))
    monkeypatch.setenv("AUTHFORGE_HWID_OVERRIDE", "plant-7")
    monkeypatch.setenv("AUTHFORGE_API_URL", UNREACHABLE)
    configure(trust_environment=True)  # development: the app's settings from the environment
    with licensed() as session:
        assert session.kind == "offline"


def test_file_first_then_the_key(af, offline_file):
    key, path = offline_file(hwid="another-machine")  # this machine is not in the file
    guard = offline_guard(af, path, app_secret=af.app_secret, api_base_url=af.url, license_key=key)
    session = guard.ensure()
    assert session.kind == "online"
    assert af.stats()["licenses"][key]["validates"] == 1
    guard.logout()

    key2, good = offline_file()
    guard = offline_guard(af, good, app_secret=af.app_secret, api_base_url=af.url, license_key=key2)
    assert guard.ensure().kind == "offline"
    assert af.stats()["licenses"].get(key2, {}).get("validates", 0) == 0
    guard.logout()


def test_refused_file_without_a_key_is_a_license_error_with_the_verdict(af, offline_file, tmp_path):
    _key, path = offline_file(hwid="another-machine")
    with pytest.raises(LicenseError) as info:
        offline_guard(af, path).ensure()
    assert info.value.code == "hwid_mismatch"
    with pytest.raises(LicenseError) as info:
        offline_guard(af, tmp_path / "missing.authforge").ensure()
    assert info.value.code == "read_error"


def test_an_expiring_file_is_lost_inside_the_block(af, offline_file):
    _key, path = offline_file(expires_at=time.time() + 1.0)
    guard = offline_guard(af, path)
    seen = []
    guard.on("expired")(lambda event: seen.append(event.code))
    started = time.monotonic()
    with pytest.raises(LicenseLost) as info:
        with licensed(guard=guard):
            time.sleep(30)
    assert info.value.code == "expired" and seen == ["expired"]
    assert time.monotonic() - started < 20  # the loss, not the end of the 30 s wait


def test_an_async_call_in_a_file_block_logs_in_again_with_the_file(af, offline_file):
    """The block's session ended under it (a logout by another part of the program): the
    next guarded coroutine in the block logs in again with the block's license file (the
    block's ``Slot`` names the file, not a key)."""
    import asyncio

    _key, path = offline_file()
    guard = Guard(
        app_id=af.app_id,
        public_key=af.public_key,
        api_base_url=UNREACHABLE,
        hwid_override="plant-7",
    )

    @requires_license(guard=guard)
    async def run():
        return guard.sessions

    async def main():
        async with licensed(guard=guard, license_file=path) as first:
            guard.logout()
            assert not first.active
            return first, await run()

    first, sessions = asyncio.run(main())
    assert len(sessions) == 1
    assert sessions[0] is not first and sessions[0].kind == "offline" and sessions[0].active
    guard.logout()
