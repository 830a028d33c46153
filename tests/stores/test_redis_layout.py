"""What an operator sees in Redis: readable entries, expiring with their sessions."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from authforge_guard._stores._entry import hwid_hash, key_hash
from authforge_guard._stores._redis import RedisStore


def cli(server, *args):
    done = subprocess.run(
        ["redis-cli", "-p", str(server.port), *args], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli is not installed")
def test_an_entry_reads_with_redis_cli_and_expires_with_its_session(redis_server, af, login, clock):
    key = af.create_license({"tier": "pro"})
    signed = login(key, "tg:9")
    store = RedisStore(redis_server.url, af.app_id, clock=clock)
    store.save(key, "tg:9", signed)
    name = f"authforge:{af.app_id}:session:{key_hash(key)}:{hwid_hash('tg:9')}"

    answer = json.loads(cli(redis_server, "HGET", name, "answer"))
    seen = float(cli(redis_server, "HGET", name, "seen"))
    # Read before PTTL runs: the TTL can only have shrunk since (a clock read after
    # the redis-cli process returns could be seconds later on a loaded machine).
    before_ttl = clock()
    ttl_ms = int(cli(redis_server, "PTTL", name))

    assert answer["payload"] == signed.payload_b64 and answer["signature"] == signed.signature
    assert answer["keyHash"] == key_hash(key) and answer["hwid"] == "tg:9"
    assert seen >= clock() - 60
    assert 0 < ttl_ms <= (signed.expires_at - before_ttl + 1) * 1000
    listing = cli(redis_server, "KEYS", f"authforge:{af.app_id}:*")
    assert key not in listing and af.app_secret not in listing
    store.close()


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli is not installed")
def test_a_lease_is_a_key_with_a_ttl(redis_server, af):
    key = af.create_license()
    store = RedisStore(redis_server.url, af.app_id)
    assert store.try_lease(key, "tg:9", "heartbeat", 30)
    name = f"authforge:{af.app_id}:lease:heartbeat:{key_hash(key)}:{hwid_hash('tg:9')}"

    assert 0 < int(cli(redis_server, "PTTL", name)) <= 30_000
    store.release_lease(key, "tg:9", "heartbeat")
    assert cli(redis_server, "EXISTS", name) == "0"
    store.close()


def test_a_session_already_ended_is_not_saved(redis_server, af, login, trust, clock):
    key = af.create_license()
    signed = login(key)
    store = RedisStore(redis_server.url, af.app_id, clock=clock)
    clock.offset = signed.expires_at - clock() + 10

    store.save(key, "machine-a", signed)

    clock.offset = 0
    assert store.load(key, "machine-a", trust=trust).missing
    store.close()
