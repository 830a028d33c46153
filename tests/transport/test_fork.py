"""A forked child never sends on a connection it inherited from its parent.

The parent logs in and keeps its kept-alive connection busy while 4 children,
forked after the login, make 20 requests each. Had a child reused the
parent's socket, answers would cross between processes: a ``nonce_mismatch``,
a ``malformed_request`` (the server reading two requests interleaved), a
``method_not_allowed``. Every answer here must be a plain success, in the
parent and in every child, with ``os.fork``, with ``multiprocessing``'s
``fork`` context, and with a fork made below Python (``fork(2)`` called
through ``ctypes``, which runs no at-fork hook: the transport's pid check
catches it).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")

CHILDREN = 4
ROUNDS = 20


# What ``on_failure`` was told in this process (a child has its own copy).
FAILURES = []


def record_failure(reason, exc):
    FAILURES.append(getattr(exc, "code", None) or reason)


def child_rounds(client, key):
    """What a child does: validate ``ROUNDS`` times, then log in and out; the codes it saw."""
    codes = [client.validate_license(key).get("code") or "ok" for _ in range(ROUNDS)]
    del FAILURES[:]
    codes.append("ok" if client.login(key) else ",".join(FAILURES) or "login_failed")
    client.logout()
    return codes


def run_in_forked_children(fork, client, key):
    """Fork ``CHILDREN`` children with ``fork`` (returns a pid, 0 in the child); each
    sends back the codes it saw on a pipe. All start together, the parent included,
    so that an inherited connection would be used by several processes at once."""
    pipes = []
    go_read, go_write = os.pipe()
    for _ in range(CHILDREN):
        read_end, write_end = os.pipe()
        pid = fork()
        if pid == 0:  # the child: report and leave without running the parent's cleanup
            status = 1
            try:
                os.close(read_end)
                os.close(go_write)
                os.read(go_read, 1)  # the start signal: the parent closing its end
                report = json.dumps(child_rounds(client, key)).encode()
                os.write(write_end, report)
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        pipes.append((pid, read_end))
    os.close(go_read)
    os.close(go_write)  # every child's read returns: go
    parent = [client.validate_license(key).get("code") or "ok" for _ in range(ROUNDS)]
    seen = {"parent": parent}
    for pid, read_end in pipes:
        with os.fdopen(read_end, "rb") as reader:
            data = reader.read()
        _, status = os.waitpid(pid, 0)
        assert status == 0, f"child {pid} failed"
        seen[f"child {pid}"] = json.loads(data)
    return seen


def assert_all_ok(seen):
    wrong = {who: [c for c in codes if c != "ok"] for who, codes in seen.items()}
    assert {who: codes for who, codes in wrong.items() if codes} == {}
    assert sum(who.startswith("child") for who in seen) == CHILDREN


@pytest.fixture
def logged_in(af, make_client):
    key = af.create_license(slots=None)  # every process validates as the same machine
    client = make_client(on_failure=record_failure)
    assert client.login(key)
    assert client.validate_license(key)["valid"]  # the parent's connection is now pooled
    return client, key


def test_children_forked_with_os_fork_open_their_own_connections(logged_in):
    client, key = logged_in
    assert_all_ok(run_in_forked_children(os.fork, client, key))


def mp_child(client, key, start, results):
    start.wait(30)
    results.put((os.getpid(), child_rounds(client, key)))


def test_multiprocessing_fork_children_open_their_own_connections(logged_in):
    client, key = logged_in
    context = multiprocessing.get_context("fork")
    results, start = context.Queue(), context.Event()
    children = [
        context.Process(target=mp_child, args=(client, key, start, results))
        for _ in range(CHILDREN)
    ]
    for child in children:
        child.start()
    start.set()
    seen = {"parent": [client.validate_license(key).get("code") or "ok" for _ in range(ROUNDS)]}
    for _ in children:
        pid, codes = results.get(timeout=60)
        seen[f"child {pid}"] = codes
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    assert_all_ok(seen)


def test_forking_while_another_thread_is_mid_request_is_safe(logged_in):
    """A parent thread keeps requesting while the forks happen: whatever it held at the
    fork (a connection, a pool's lock) is the parent's; the child starts clean."""
    client, key = logged_in
    stop = threading.Event()
    busy = []

    def keep_requesting():
        while not stop.is_set():
            busy.append(client.validate_license(key).get("code") or "ok")

    thread = threading.Thread(target=keep_requesting)
    thread.start()
    try:
        seen = run_in_forked_children(os.fork, client, key)
    finally:
        stop.set()
        thread.join()
    seen["parent thread"] = busy
    assert_all_ok(seen)


def test_a_guards_children_log_in_on_their_own_connections(af, make_guard):
    """A Guard with online heartbeats every 0.2 s (its thread keeps the parent's connection
    busy) forks 4 children, 5 times over; each child's first guarded call logs in again (a
    child owns no session), on a connection of its own, then calls 20 more times."""
    key = af.create_license(slots=None)
    guard = make_guard(license_key=key)
    calls = []

    @guard.requires_license
    def job(n):
        return n

    assert job(1) == 1

    def child_work():
        try:
            done = [job(n) for n in range(ROUNDS)]
            return ["ok" if done == list(range(ROUNDS)) else "wrong answers"]
        except Exception as exc:  # what the child saw, sent back to the parent
            return [getattr(exc, "code", None) or type(exc).__name__]

    for _ in range(5):
        pipes = []
        for _ in range(CHILDREN):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:
                status = 1
                try:
                    os.close(read_end)
                    os.write(write_end, json.dumps(child_work()).encode())
                    status = 0
                finally:
                    os._exit(status)
            os.close(write_end)
            pipes.append((pid, read_end))
        calls.append(job(2))
        for pid, read_end in pipes:
            with os.fdopen(read_end, "rb") as reader:
                seen = json.loads(reader.read())
            _, status = os.waitpid(pid, 0)
            assert (status, seen) == (0, ["ok"])
    assert calls == [2] * 5
    assert af.stats()["licenses"][key]["validates"] >= 1 + 5 * CHILDREN


def test_a_pool_lock_held_by_a_parent_thread_at_the_fork_does_not_hang_the_child(af):
    """A parent thread is inside the pool's queue of idle connections (taking or returning
    one) at the moment of the fork: the child, dropping that inherited pool, drains its
    queue (closing the inherited sockets, quietly) instead of waiting forever on a lock
    whose holder does not exist in the child."""
    import select

    from authforge_guard._transport._http import Transport

    transport = Transport(af.url)
    assert transport.post("/auth/validate", {"nonce": "0" * 32}).status == 400  # an answer
    idle = transport._connection_pool().pool  # urllib3's queue of the pool's idle connections
    inside, leave = threading.Event(), threading.Event()

    def hold_the_queue():
        with idle._changed:  # as a thread taking or returning a connection holds it
            inside.set()
            leave.wait(60)

    holder = threading.Thread(target=hold_the_queue)
    holder.start()
    inside.wait(30)
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                os.close(read_end)
                reply = transport.post("/auth/validate", {"nonce": "1" * 32})
                import gc

                gc.collect()  # the inherited pool is gone: its queue was drained
                os.write(write_end, json.dumps([reply.status, idle.qsize()]).encode())
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        ready, _, _ = select.select([read_end], [], [], 30)  # a hang guard
        if not ready:
            os.kill(pid, 9)
        with os.fdopen(read_end, "rb") as reader:
            seen = json.loads(reader.read() or b"null")
        _, status = os.waitpid(pid, 0)
    finally:
        leave.set()
        holder.join()
    assert (status, seen) == (0, [400, 0])
    transport.close()
