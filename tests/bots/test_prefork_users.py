"""``UserLicenses`` made in a prefork server's master and used by its forked workers.

A bot or web app served by gunicorn-style workers builds its ``UserLicenses`` when the
master imports the app (``@users.on_lost`` at module level already opens the store),
then forks. Each worker must own what it uses: its own SQLite connection (SQLite
forbids carrying one across a fork: the master's close deleted the WAL a worker was
still writing to, and the keys users activated there were gone), fresh locks (a master
thread inside a statement at the fork left the worker's store locked for good), and the
fleet's watcher (with Redis, a loss another worker stored never reached this one).

Real ``os.fork()`` children, a real SQLite file and a real ``redis-server``.
"""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import subprocess
import sys
import threading

import pytest

from authforge_guard import UserLicenses
from authforge_guard._stores._redis_users import redis_user_store

from ..support.waiting import wait_for

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork here")

HANG_GUARD = 30.0


class Worker:
    """A forked child running ``body(worker)``; it talks to the test over two pipes."""

    def __init__(self, body) -> None:
        to_child, self._to_child = os.pipe()
        self._from_child, from_child = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            code = 70
            try:
                os.close(self._to_child)
                os.close(self._from_child)
                self._to_child, self._from_child = from_child, to_child  # the child's ends
                body(self)
                code = 0
            except BaseException as exc:
                self.say(f"crash:{type(exc).__name__}:{exc}")
            finally:
                os._exit(code)
        os.close(to_child)
        os.close(from_child)

    def say(self, text: str) -> None:
        os.write(self._to_child, text.encode() + b"\n")

    def hear(self) -> str:
        """The next line from the other side ("" after HANG_GUARD seconds of silence)."""
        line = b""
        while not line.endswith(b"\n"):
            ready, _, _ = select.select([self._from_child], [], [], HANG_GUARD)
            if not ready:
                return ""
            chunk = os.read(self._from_child, 1)
            if not chunk:
                break
            line += chunk
        return line.decode().strip()

    def finish(self) -> int:
        """The child's exit status (killed if it hangs)."""
        while True:  # until the child's end closes (it exited), or kill it
            ready, _, _ = select.select([self._from_child], [], [], HANG_GUARD)
            if not ready:
                os.kill(self.pid, signal.SIGKILL)
                break
            if not os.read(self._from_child, 4096):
                break
        _, status = os.waitpid(self.pid, 0)
        os.close(self._to_child)
        os.close(self._from_child)
        return os.waitstatus_to_exitcode(status)


def _stored_user_ids(path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return sorted(row[0] for row in db.execute("SELECT user_id FROM users"))
    finally:
        db.close()


def _other_program_holding(path) -> subprocess.Popen[str]:
    """Another process with the database file locked until it reads a line."""
    program = (
        "import sqlite3, sys\n"
        f"db = sqlite3.connect({path!r}, isolation_level=None)\n"
        "db.execute('BEGIN EXCLUSIVE')\n"
        "print('held', flush=True)\n"
        "sys.stdin.readline()\n"
        "db.execute('ROLLBACK')\n"
        "db.close()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", program], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def _master(make_guard, store, **guard_settings) -> UserLicenses:
    users = UserLicenses(make_guard(**guard_settings), store=store)

    @users.on_lost  # at module level in a bot: the store is open before the fork
    async def tell_the_user(user_id, event):
        pass

    return users


def test_keys_a_worker_stores_survive_the_master_closing_its_store(af, make_guard, tmp_path):
    path = str(tmp_path / "users.sqlite3")
    users = _master(make_guard, path)
    first, second = af.create_license(), af.create_license()
    users.activate_sync(1, first)

    def worker(w):
        assert w.hear() == "go"
        users.activate_sync(2, second)  # a user activates with this worker
        w.say(f"served {users.session_sync(1).active}")

    child = Worker(worker)
    try:
        users.close()  # the master reloads or exits: its connection is closed
        child.say("go")
        assert child.hear() == "served True"
    finally:
        assert child.finish() == 0
    assert _stored_user_ids(path) == ["1", "2"]
    again = UserLicenses(make_guard(), store=path)  # the next start serves both users
    assert again.session_sync(2).active
    again.close()


def test_a_worker_forked_while_the_master_writes_is_not_locked_out(af, make_guard, tmp_path):
    """A master thread is inside a statement (waiting for another program's lock on the
    file) when the master forks: the worker's own writes must still go through."""
    path = str(tmp_path / "users.sqlite3")
    users = _master(make_guard, path)
    store = users._parts()[1]
    first, second, third = (af.create_license() for _ in range(3))
    users.activate_sync(1, first)
    holder = _other_program_holding(path)  # a backup, the sqlite3 CLI: not this process
    forking = threading.Event()

    def other_program():
        forking.wait(HANG_GUARD)
        holder.communicate("done\n", timeout=HANG_GUARD)  # it lets go while the master forks

    releaser = threading.Thread(target=other_program)
    writing = threading.Thread(target=users.activate_sync, args=(3, third))
    releaser.start()
    writing.start()
    try:
        wait_for(store._lock.locked, HANG_GUARD)  # the master's write waits for the file

        def worker(w):
            assert w.hear() == "go"
            w.say(f"activated {users.activate_sync(2, second).active}")

        forking.set()
        child = Worker(worker)
    finally:
        forking.set()
        releaser.join(HANG_GUARD)
        writing.join(HANG_GUARD)
    try:
        child.say("go")
        assert child.hear() == "activated True"
    finally:
        assert child.finish() == 0
    assert _stored_user_ids(path) == ["1", "2", "3"]
    users.close()


def test_a_loss_another_worker_stores_in_redis_reaches_this_worker(af, make_guard, redis_url):
    # Checks far apart: only the fleet's tombstone can tell the worker within the test.
    users = _master(make_guard, redis_url, heartbeat_interval=600)
    key = af.create_license()
    users.activate_sync(1, key)  # the master served the user: its watcher runs

    def worker(w):
        lost = threading.Event()

        @users.on_lost
        async def told(user_id, event):
            lost.set()

        w.say(f"served {users.session_sync(1).active}")
        w.say(f"told {lost.wait(HANG_GUARD)}")

    child = Worker(worker)
    try:
        assert child.hear() == "served True"
        af.revoke(key)
        other_worker = redis_user_store(redis_url, af.app_id)
        other_worker.tombstone(key, "tg:1", "revoked")  # it saw the revocation first
        other_worker.close()
        assert child.hear() == "told True"
    finally:
        assert child.finish() == 0
        users.close()
