"""Offline licensing with our client: files minted by the server, self-serve activation, and
an existing file that no failure may touch."""

import hashlib
import os
import subprocess
import sys
import textwrap
import time

import pytest

from authforge_guard import AuthForgeClient, AuthForgeError
from authforge_guard._protocol import SigningKey

UNREACHABLE = "http://127.0.0.1:9"


def offline_client(af, **overrides):
    kwargs = dict(
        app_id=af.app_id,
        app_secret=None,
        public_key=af.public_key,
        api_base_url=UNREACHABLE,
        hwid_override="air-gapped-1",
    )
    kwargs.update(overrides)
    return AuthForgeClient(**kwargs)


def test_login_from_file_needs_no_network_and_no_secret(af, tmp_path):
    key = af.create_license({"tier": "pro"}, label="Plant 7")
    path = tmp_path / "plant.authforge"
    path.write_text(af.mint_offline_file(key, hwids=["air-gapped-1"]))
    client = offline_client(af)
    for source in (str(path), path, path.read_text()):
        assert client.login_from_file(source)
        assert client.get_session_kind() == "offline" and client.is_authenticated()
    assert client.get_license_variables() == {"tier": "pro"}
    summary = client.get_offline_license()
    assert summary["license_key"] == key and summary["hwid_policy"]["mode"] == "bound"
    with pytest.raises(ValueError, match="offline_session"):
        client.self_ban()
    assert af.stats()["licenses"].get(key, {}).get("validates", 0) == 0


def expired_file(af, key):
    text = af.mint_offline_file(key, hwids=["air-gapped-1"], expires_at=time.time() + 0.5)
    time.sleep(0.6)  # the server refuses to mint an already expired file
    return text


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda af, key: af.mint_offline_file(key, hwids=["someone-else"]), "hwid_mismatch"),
        (lambda af, key: expired_file(af, key), "expired"),
        (lambda af, key: "-----BEGIN AUTHFORGE LICENSE-----\ncut short", "bad_armor"),
        (lambda af, key: "/no/such/license.authforge", "read_error"),
    ],
)
def test_refused_files_report_their_code_to_on_failure(af, make, code):
    key = af.create_license()
    seen = []
    client = offline_client(af, on_failure=lambda reason, exc: seen.append((reason, exc.code)))
    assert client.login_from_file(make(af, key)) is False
    assert seen == [("offline_login_failed", code)] and not client.is_authenticated()


def test_missing_file_is_a_clean_failure(af, tmp_path):
    client = offline_client(af)
    assert client.login_from_file(str(tmp_path / "nope.authforge")) is False
    assert client.verify_license_file(str(tmp_path / "nope.authforge"))["ok"] is False


def test_activate_offline_writes_once_then_replays_for_free(af, tmp_path):
    key = af.create_license({"tier": "pro"}, slots=2)
    client = af.client(hwid_override="laptop-1")
    target = tmp_path / "sub" / "license.authforge"
    assert client.activate_offline(key, str(target))
    first = target.read_bytes()
    assert client.get_offline_license()["replay"] is False
    assert client.get_session_kind() == "offline"
    credits = af.stats()["credits_spent"]
    assert client.activate_offline(key, str(target))
    assert target.read_bytes() == first
    assert client.get_offline_license()["replay"] is True
    assert af.stats()["credits_spent"] == credits  # the same machine again: free
    assert offline_client(af, hwid_override="laptop-1").login_from_file(str(target))


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        (
            lambda af: (af.set_offline_activation(False), af.create_license())[1],
            "offline_activation_disabled",
        ),
        (
            lambda af: af.create_license(expires_at=time.time() + 86400),
            "offline_activation_requires_perpetual",
        ),
        (lambda af: af.create_license(slots=None), "offline_activation_requires_seats"),
    ],
)
def test_activation_refusals_are_fatal_codes(af, tmp_path, setup, code):
    key = setup(af)
    with pytest.raises(AuthForgeError) as info:
        af.client(hwid_override="m").activate_offline(key, str(tmp_path / "x.authforge"))
    assert info.value.code == code and info.value.fatal
    assert not (tmp_path / "x.authforge").exists()


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def existing(af, tmp_path):
    """A valid license file already on disk, and its fingerprint."""
    key = af.create_license(slots=1)
    path = tmp_path / "license.authforge"
    path.write_text(af.mint_offline_file(key, hwids=["laptop-1"]))
    return key, path, digest(path)


def test_refused_activation_leaves_the_existing_file_alone(af, existing):
    key, path, before = existing
    af.client(hwid_override="laptop-1").activate_offline(key)  # takes the only seat
    with pytest.raises(AuthForgeError) as info:
        af.client(hwid_override="laptop-2").activate_offline(key, str(path))
    assert info.value.code == "offline_activation_limit_reached"
    assert digest(path) == before


def test_rejected_file_leaves_the_existing_file_alone(af, existing):
    key, path, before = existing
    distrustful = af.client(
        hwid_override="laptop-1", public_key=SigningKey.generate().public_key_b64
    )
    with pytest.raises(AuthForgeError) as info:
        distrustful.activate_offline(key, str(path))
    assert info.value.code == "offline_file_rejected" and "bad_signature" in str(info.value)
    assert digest(path) == before


def test_network_failure_leaves_the_existing_file_alone(af, existing):
    from tests.conftest import FAST_RETRY

    key, path, before = existing
    client = af.client(hwid_override="laptop-1", retry_policy=FAST_RETRY)
    af.stop()
    with pytest.raises(AuthForgeError) as info:
        client.activate_offline(key, str(path))
    assert info.value.code == "network_error" and info.value.transient
    assert digest(path) == before


def test_unwritable_target_is_file_write_failed(af, existing, tmp_path):
    key, _path, _before = existing
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(AuthForgeError) as info:
        af.client(hwid_override="laptop-1").activate_offline(
            key, str(blocker / "license.authforge")
        )
    assert info.value.code == "file_write_failed"


def test_killed_mid_activation_leaves_the_file_byte_identical(af, existing, tmp_path):
    """A process killed while its activation is in flight changes nothing on disk."""
    key, path, before = existing
    script = tmp_path / "activate.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys, threading, time
        from authforge_guard import AuthForgeClient
        from authforge_guard._base._files import write_atomic
        import authforge_guard._client._offline as offline_module

        def slow_write(path, data, **kw):  # the kill lands while the new file is being written
            print("writing", flush=True)
            time.sleep(30)
            write_atomic(path, data, **kw)

        offline_module.write_atomic = slow_write
        client = AuthForgeClient({af.app_id!r}, {af.app_secret!r}, {af.public_key!r},
                                 api_base_url={af.url!r}, hwid_override="laptop-1")
        client.activate_offline({key!r}, {str(path)!r})
    """)
    )
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
    finally:
        child.kill()
        child.communicate(timeout=10)  # closes the pipe too
    assert digest(path) == before
    assert sorted(os.listdir(path.parent)) == ["activate.py", "license.authforge"]
