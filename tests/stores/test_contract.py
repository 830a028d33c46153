"""The contract every session store keeps, run against the file store and a real Redis."""

from __future__ import annotations

import logging
import os
import threading

import pytest

from authforge_guard._exceptions import ConfigurationError
from authforge_guard._protocol import SigningKey
from authforge_guard._stores._fleet import Fleet

from ..support.waiting import wait_for
from .conftest import forged

HOUR = 3600.0


def test_a_saved_session_is_loaded_by_another_instance(backend, af, login, trust):
    key = af.create_license({"tier": "pro"})
    signed = login(key)
    writer, reader = backend.make(), backend.make()

    assert reader.load(key, "machine-a", trust=trust).missing
    writer.save(key, "machine-a", signed)
    found = reader.load(key, "machine-a", trust=trust)

    assert found.session is not None, found.reason
    assert found.session.session_token == signed.session_token
    assert found.session.license_variables == {"tier": "pro"}
    assert reader.load(key, "machine-b", trust=trust).missing  # one entry per (key, hwid)


def test_an_entry_is_readable_json_without_secrets(backend, af, login):
    key = af.create_license()
    backend.make().save(key, "tg:42", login(key, "tg:42"))

    entry = backend.read(key, "tg:42")

    assert entry["app"] == af.app_id and entry["hwid"] == "tg:42"
    assert entry["keyHash"] not in (key, "") and len(entry["keyHash"]) == 64
    text = repr(entry)
    assert key not in text and af.app_secret not in text
    assert isinstance(entry["seen"], float)


def test_forget_deletes_the_entry_for_everyone(backend, af, login, trust):
    key = af.create_license()
    first, second = backend.make(), backend.make()
    first.save(key, "machine-a", login(key))

    second.forget(key, "machine-a")

    assert first.load(key, "machine-a", trust=trust).missing


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("raised tier, old signature", "not validly signed (signature_mismatch)"),
        ("re-signed by another key", "not validly signed (signature_mismatch)"),
        ("another machine's entry", "issued to another machine"),
        ("another license's entry", "issued for another license key"),
        ("not an entry", "unknown format"),
    ],
)
def test_an_entry_written_straight_into_the_store_is_refused_and_logged(
    backend, af, login, trust, caplog, tamper, reason
):
    key = af.create_license({"tier": "free"}, slots=2)
    genuine = backend.make()
    genuine.save(key, "machine-a", login(key))
    entry = backend.read(key, "machine-a")
    if tamper == "raised tier, old signature":
        entry = forged(entry, license_variables={"tier": "enterprise"})
    elif tamper == "re-signed by another key":
        entry = forged(
            entry, license_variables={"tier": "enterprise"}, signing_key=SigningKey.generate()
        )
    elif tamper == "another machine's entry":
        genuine.save(key, "machine-b", login(key, "machine-b"))
        entry = backend.read(key, "machine-b")
    elif tamper == "another license's entry":
        other = af.create_license({"tier": "enterprise"})
        genuine.save(other, "machine-a", login(other))
        entry = backend.read(other, "machine-a")
    else:
        entry = {"format": "something else", "seen": entry["seen"]}
    backend.write(key, "machine-a", entry)

    with caplog.at_level(logging.INFO, logger="authforge_guard"):
        found = backend.make().load(key, "machine-a", trust=trust)

    assert found.session is None and found.reason == reason
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and reason in warnings[0].getMessage()
    assert key not in caplog.text


def test_an_expired_or_ending_entry_is_not_resumed(backend, af, login, trust, clock):
    key = af.create_license()
    signed = login(key)
    store = backend.make()
    store.save(key, "machine-a", signed)
    now = clock()

    clock.offset = signed.expires_at - now + 1  # past the signed end
    assert store.load(key, "machine-a", trust=trust).reason == "expired"
    clock.offset = signed.expires_at - now - 100  # 100 s left: a login is better
    assert "too soon to resume" in store.load(key, "machine-a", trust=trust).reason


def test_a_clock_set_back_behind_the_last_use_is_refused(backend, af, login, trust, clock, caplog):
    key = af.create_license()
    store = backend.make()
    store.save(key, "machine-a", login(key))

    clock.offset = 2 * HOUR  # used two hours later: the mark follows
    assert store.load(key, "machine-a", trust=trust).session is not None
    assert backend.read(key, "machine-a")["seen"] >= clock() - 5

    clock.offset = 2 * HOUR - 120  # two minutes back: within the allowed skew
    assert store.load(key, "machine-a", trust=trust).session is not None

    clock.offset = 1 * HOUR  # set back an hour: refused, logged
    with caplog.at_level(logging.INFO, logger="authforge_guard"):
        found = backend.make().load(key, "machine-a", trust=trust)
    assert found.session is None and found.clock_rolled_back
    assert "clock_rollback" in caplog.text

    clock.offset = 0  # back to the day of the login: still refused
    assert backend.make().load(key, "machine-a", trust=trust).clock_rolled_back


def test_a_clock_behind_the_signed_server_time_is_refused(backend, af, login, trust, clock):
    key = af.create_license()
    store = backend.make()
    clock.offset = -HOUR  # the machine's clock an hour behind the server from the start
    store.save(key, "machine-a", login(key))

    found = store.load(key, "machine-a", trust=trust)

    assert found.clock_rolled_back and "issued in the future" in found.reason


def test_a_lease_is_held_by_one_instance_until_released(backend, af):
    key = af.create_license()
    first, second = backend.make(), backend.make()

    assert first.try_lease(key, "machine-a", "login", 30)
    assert not second.try_lease(key, "machine-a", "login", 30)
    assert first.try_lease(key, "machine-a", "login", 30)  # renewing one's own lease
    assert second.try_lease(key, "machine-a", "heartbeat", 30)  # another purpose
    assert second.try_lease(key, "machine-b", "login", 30)  # another session

    second.release_lease(key, "machine-a", "login")  # not its lease: no effect
    assert not second.try_lease(key, "machine-a", "login", 30)
    first.release_lease(key, "machine-a", "login")
    assert second.try_lease(key, "machine-a", "login", 30)


def test_a_lease_whose_holder_died_expires(backend, af):
    key = af.create_license()
    holder, other = backend.make(), backend.make()
    assert holder.try_lease(key, "machine-a", "login", 0.3)
    assert not other.try_lease(key, "machine-a", "login", 30)

    # The holder never releases (it died): the lease runs out by itself.
    assert wait_for(lambda: other.try_lease(key, "machine-a", "login", 30), timeout=10)
    assert not holder.try_lease(key, "machine-a", "login", 30)


def test_concurrent_lease_takers_get_one_lease(backend, af):
    key = af.create_license()
    stores = [backend.make() for _ in range(8)]
    start = threading.Barrier(len(stores))
    won = []

    def take(store):
        start.wait()
        if store.try_lease(key, "machine-a", "login", 30):
            won.append(store)

    threads = [threading.Thread(target=take, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(won) == 1


def test_a_tombstone_reaches_another_instances_watcher(backend, af, login, trust):
    key = af.create_license()
    publisher, watcher = backend.make(), backend.make()
    publisher.save(key, "tg:7", login(key, "tg:7"))
    seen, arrived = [], threading.Event()
    own = []
    publisher.watch(lambda *fields: own.append(fields))
    watcher.watch(lambda *fields: (seen.append(fields), arrived.set()))

    publisher.tombstone(key, "tg:7", "revoked")

    assert arrived.wait(5)
    from authforge_guard._stores import key_hash

    assert seen == [(key_hash(key), "tg:7", "revoked")]
    assert own == []  # an instance is not told of its own tombstones
    found = watcher.load(key, "tg:7", trust=trust)
    assert found.session is None


def test_a_stale_copy_written_back_after_a_tombstone_is_refused(backend, af, login, trust):
    key = af.create_license()
    signed = login(key)
    first, second = backend.make(), backend.make()
    first.save(key, "machine-a", signed)

    first.tombstone(key, "machine-a", "revoked")
    second.save(key, "machine-a", signed)  # a slow replica writes its older copy back

    found = first.load(key, "machine-a", trust=trust)
    assert found.session is None and found.reason == "ended elsewhere (revoked)"

    # A login after the loss (the license restored) is signed later: accepted.
    first.save(key, "machine-a", login(key))
    assert first.load(key, "machine-a", trust=trust).session is not None


def test_a_watcher_handler_that_raises_is_logged_and_watching_goes_on(backend, af, caplog):
    key_a, key_b = af.create_license(), af.create_license()
    publisher, watcher = backend.make(), backend.make()
    codes = []

    def handler(key_hash, hwid, code):
        codes.append(code)
        if code == "revoked":
            raise RuntimeError("a bug in a handler")

    watcher.watch(handler)
    with caplog.at_level(logging.ERROR, logger="authforge_guard"):
        publisher.tombstone(key_a, "m", "revoked")
        publisher.tombstone(key_b, "m", "expired")
        assert wait_for(lambda: sorted(codes) == ["expired", "revoked"])
        assert wait_for(lambda: "tombstone handler raised" in caplog.text)


def test_a_forged_entry_polled_again_and_again_is_logged_once(backend, af, login, trust, caplog):
    key = af.create_license({"tier": "free"})
    store = backend.make()
    store.save(key, "machine-a", login(key))
    backend.write(
        key,
        "machine-a",
        forged(backend.read(key, "machine-a"), license_variables={"tier": "enterprise"}),
    )

    with caplog.at_level(logging.INFO, logger="authforge_guard"):
        found = [store.load(key, "machine-a", trust=trust) for _ in range(50)]

    assert {f.reason for f in found} == {"not validly signed (signature_mismatch)"}
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_store_watched_before_a_fork_can_be_watched_in_the_child(backend, af):
    key = af.create_license()
    store, publisher = backend.make(), backend.make()
    store.watch(lambda *fields: None)  # in the parent (a prefork master)
    ready_r, ready_w = os.pipe()
    result_r, result_w = os.pipe()

    pid = os.fork()
    if pid == 0:  # the worker: its own watcher, for its own sessions
        code = 1
        try:
            arrived = threading.Event()
            store.watch(lambda *fields: arrived.set())
            os.write(ready_w, b"r")
            code = 0 if arrived.wait(10) else 2
        finally:
            os.write(result_w, bytes([code]))
            os._exit(0)
    try:
        assert os.read(ready_r, 1) == b"r"
        publisher.tombstone(key, "m", "revoked")
        assert os.read(result_r, 1) == b"\x00"
    finally:
        os.waitpid(pid, 0)
        for fd in (ready_r, ready_w, result_r, result_w):
            os.close(fd)


def test_watching_a_closed_store_is_a_clear_error(backend):
    # It started a watcher that stopped at once: tombstones never arrived, and nothing said so
    # (the Redis store also waited seconds for a subscription that never came).
    store = backend.make()
    store.close()
    with pytest.raises(ConfigurationError, match="was closed") as raised:
        store.watch(lambda *fields: None)
    assert raised.value.code == "configuration_error"
    assert raised.value.argument == "session_store"


def test_a_closed_fleet_refuses_to_follow_a_session(backend):
    fleet = Fleet(backend.make())
    fleet.close()
    with pytest.raises(ConfigurationError, match="fleet was closed"):
        fleet.follow("KEY", "machine-a", lambda *fields: None)
