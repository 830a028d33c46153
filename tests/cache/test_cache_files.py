"""The files themselves: where they live, who may read them, and that no write is ever torn."""

import hashlib
import os
import signal
import stat
import subprocess
import sys
import time

from authforge_guard._stores._file import FileStore

from .conftest import counts, read_entry, the_entry


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_default_location_names_and_modes(af, make_guard, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("AUTHFORGE_SESSION_CACHE", "1")
    key = af.create_license()

    make_guard(heartbeat="grace").ensure(key)

    app_dir = tmp_path / "xdg" / "authforge-guard" / af.app_id
    entry = the_entry(app_dir)
    key_hash = hashlib.sha256(key.encode()).hexdigest()
    hwid_hash = hashlib.sha256(b"test-machine").hexdigest()[:16]
    assert entry.name == f"{af.app_id}-{key_hash}-{hwid_hash}.session"
    assert mode_of(entry) == 0o600
    assert mode_of(app_dir) == 0o700 and mode_of(app_dir.parent) == 0o700
    assert set(read_entry(entry)) == {
        "format",
        "app",
        "keyHash",
        "hwid",
        "storedAt",
        "seen",
        "keyId",
        "payload",
        "signature",
    }
    assert key not in entry.read_text() and af.app_secret not in entry.read_text()


def test_a_given_directory_is_used_as_is_and_made_private(af, make_guard, cache_dir):
    key = af.create_license()
    make_guard(heartbeat="grace", session_cache=str(cache_dir)).ensure(key)
    assert mode_of(cache_dir) == 0o700 and mode_of(the_entry(cache_dir)) == 0o600


def test_off_by_default(af, make_guard, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    key = af.create_license()
    make_guard(heartbeat="grace").ensure(key)
    make_guard(heartbeat="grace").ensure(key)
    assert not (tmp_path / "xdg").exists()
    assert counts(af, key) == (2, 0)


def test_a_truncated_entry_is_unreadable_and_replaced(af, make_guard, cache_dir):
    key = af.create_license({"tier": "pro"})
    make_guard(heartbeat="grace", session_cache=str(cache_dir)).ensure(key)
    entry = the_entry(cache_dir)
    whole = entry.read_bytes()
    entry.write_bytes(whole[: len(whole) // 2])

    assert make_guard(heartbeat="grace", session_cache=str(cache_dir)).ensure(key).tier == "pro"
    assert counts(af, key) == (2, 0)
    assert make_guard(heartbeat="grace", session_cache=str(cache_dir)).ensure(key).tier == "pro"
    assert counts(af, key) == (2, 0)


def test_a_leftover_temp_file_is_never_read(af, make_guard, cache_dir):
    key = af.create_license()
    make_guard(heartbeat="grace", session_cache=str(cache_dir)).ensure(key)
    entry = the_entry(cache_dir)
    (cache_dir / f".{entry.name}.0123456789ab.tmp").write_bytes(b'{"format": "authforge-gu')

    make_guard(heartbeat="grace", session_cache=str(cache_dir)).ensure(key)
    entry.unlink()  # with only the temp file left, there is nothing to resume
    make_guard(heartbeat="grace", session_cache=str(cache_dir)).ensure(key)

    assert counts(af, key) == (2, 0)


# A process that stores two sessions in turn, as fast as it can, until it is killed.
WRITER = """\
import json, sys
from authforge_guard._protocol import TrustList, verify_signed_payload
from authforge_guard._stores._file import FileStore

directory, app_id, public_key, key, hwid, first, second = sys.argv[1:]
cache = FileStore(directory, app_id)
sessions = [verify_signed_payload(e["payload"], e["signature"], e["keyId"],
                                  trust=TrustList(public_key), expected_nonce=None)
            for e in (json.loads(first), json.loads(second))]
print("ready", flush=True)
while True:
    for session in sessions:
        cache.save(key, hwid, session)
"""


def test_a_writer_killed_mid_write_leaves_a_whole_entry(af, make_guard, cache_dir, tmp_path):
    key = af.create_license()
    guard = make_guard(heartbeat="grace", session_cache=str(cache_dir))
    guard.ensure(key)
    first = the_entry(cache_dir).read_text()
    guard.logout(forget=True)
    guard.ensure(key)  # a second login: a second genuine session
    second = the_entry(cache_dir).read_text()
    assert first != second
    hwid, trust = guard.hwid(), guard._engine.trust
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    cache = FileStore(str(cache_dir), af.app_id)

    writer = subprocess.Popen(
        [
            sys.executable,
            str(script),
            str(cache_dir),
            af.app_id,
            af.public_key,
            key,
            hwid,
            first,
            second,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "ready"
        tokens = set()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # every read, mid-replace or not, is whole
            found = cache.load(key, hwid, trust=trust)
            assert found.session is not None, found.reason
            tokens.add(found.session.session_token)
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)
    finally:
        writer.kill()
        writer.stdout.close()

    assert len(tokens) == 2  # the reads really did race the writer
    assert cache.load(key, hwid, trust=trust).session is not None
    assert make_guard(heartbeat="grace", session_cache=str(cache_dir)).ensure(key)
    assert counts(af, key) == (2, 0)
