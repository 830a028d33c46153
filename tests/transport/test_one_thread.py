"""One background thread of ours per process: the request deadlines are one job on the timer
heap that also runs every session's checks (``_watchdog`` on ``_scheduler.Timers``), not a
thread of their own.

The deadline must still hold whatever else the heap holds, when a later deadline is already
scheduled, when the timer thread was started by a request alone (the drop-in client, no
Guard), and in a forked child, whose first request starts the child's own timer thread.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import pytest

from authforge_guard import AuthForgeError
from authforge_guard._base._scheduler import shared_timers
from authforge_guard._transport._http import Transport
from authforge_guard._transport._retry import NO_RETRY
from tests.support.waiting import wait_for

TIMERS, OLD_DEADLINE_THREAD = "authforge-timers", "authforge-io-deadline"


def thread_names():
    return [t.name for t in threading.enumerate()]


def heartbeats(af, key):
    return af.stats()["licenses"].get(key, {}).get("heartbeats", 0)


def post(url, timeout):
    return Transport(url, timeout=timeout, retry=NO_RETRY).post(
        "/auth/validate", {"nonce": "0" * 32}
    )


def test_a_guard_that_logged_in_and_checks_in_runs_one_timer_thread_and_no_deadline_thread(
    af, make_guard
):
    # Threads of that name this worker process already runs (the shared timers', if an
    # earlier test started it; any other would be a leak): counted apart, so the result
    # does not depend on which files ran before in the same worker.
    before = {t for t in threading.enumerate() if t.name == TIMERS}
    key = af.create_license()
    guard = make_guard(license_key=key, heartbeat_interval=0.05)
    assert guard.ensure().active  # a login: a request, its deadline armed
    assert wait_for(lambda: heartbeats(af, key) >= 3)  # more requests, on the worker pool
    names = thread_names()
    assert OLD_DEADLINE_THREAD not in names
    timers = {t for t in threading.enumerate() if t.name == TIMERS}
    assert shared_timers()._thread in timers  # the heap's thread runs the checks...
    assert timers - before <= {shared_timers()._thread}  # ...and no other thread was made


def test_a_dripping_answer_is_cut_at_its_deadline_among_far_future_timer_jobs(drip):
    """The heap holds jobs due in an hour (and cancelled ones): the deadline job still runs
    first, for each of two requests in a row (the second arms it afresh)."""
    timers = shared_timers()
    far = [timers.call_later(3600.0 + n, lambda: None) for n in range(50)]
    for job in far[::2]:
        job.cancel()
    try:
        server = drip("body")
        for _ in range(2):
            with pytest.raises(AuthForgeError) as failure:
                post(server.url, 0.5)
            assert failure.value.code == "timeout"
        assert not server.completed.is_set()  # it was still dripping both times
        assert server.cut.wait(10) and server.connections == 2
    finally:
        for job in far:
            job.cancel()


def test_an_earlier_deadline_is_kept_while_a_later_one_is_in_flight(drip):
    """A request with 60 s left is in flight (the job is due at its deadline); a request
    with 0.5 s must be cut at its own deadline, which moves the job earlier."""
    slow, quick = drip("head", drip=1.0), drip("head")
    slow_done = threading.Event()

    def long_request():
        try:
            post(slow.url, 60)
        except AuthForgeError:
            pass
        finally:
            slow_done.set()

    thread = threading.Thread(target=long_request)
    thread.start()
    try:
        assert wait_for(lambda: slow.connections == 1)  # read by the server: armed
        with pytest.raises(AuthForgeError) as failure:
            post(quick.url, 0.5)
        assert failure.value.code == "timeout"
        assert not quick.completed.is_set()
        assert not slow_done.is_set()  # the later deadline was not what ended it
    finally:
        slow.close()  # the slow answer ends: the long request fails at once
        thread.join(30)
    assert not slow.completed.is_set()


DROP_IN = textwrap.dedent("""
    import json, os, sys, threading

    from authforge_guard import AuthForgeClient
    from authforge_guard._transport._retry import NO_RETRY

    def ours():
        return sorted(t.name for t in threading.enumerate() if t.name.startswith("authforge"))

    before = ours()
    client = AuthForgeClient(
        app_id=os.environ["AUTHFORGE_APP_ID"],
        app_secret=os.environ["AUTHFORGE_APP_SECRET"],
        public_key=os.environ["AUTHFORGE_PUBLIC_KEY"],
        api_base_url=sys.argv[1],
        request_timeout=0.5,
        retry_policy=NO_RETRY,
        hwid_override="drop-in",
    )
    result = client.validate_license(os.environ["AUTHFORGE_LICENSE_KEY"])
    print(json.dumps({
        "before": before,
        "code": result.get("code"),
        "after": ours(),
        "guard_loaded": "authforge_guard._guard._facade" in sys.modules,
    }))
""")


def test_the_drop_in_client_alone_starts_the_timer_thread_and_its_deadline_holds(af, drip):
    """A fresh process with no Guard: the first request's deadline starts the timer thread
    (lazily, as a Guard's first session would), and it cuts a dripping answer."""
    server = drip("head")
    result = subprocess.run(
        [sys.executable, "-c", DROP_IN, server.url],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **af.environ(af.create_license())},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout)
    assert seen == {
        "before": [],
        "code": "timeout",
        "after": [TIMERS],
        "guard_loaded": False,
    }
    assert not server.completed.is_set()
    assert server.cut.wait(10)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_childs_first_request_starts_its_timer_thread_and_keeps_its_deadline(af, drip):
    """The parent has a request in flight (its deadline job scheduled on the parent's timer
    thread) when it forks: the child starts from nothing, and its first request, to a
    dripping server, is cut at its deadline by the child's own timer thread; a validate
    works after it."""
    slow, quick = drip("head", drip=1.0), drip("head")
    key = af.create_license(slots=None)
    client = af.client(hwid_override="fork-child", retry_policy=NO_RETRY)
    assert client.validate_license(key)["valid"]  # the parent's timer thread exists
    slow_done = threading.Event()

    def long_request():
        try:
            post(slow.url, 60)
        except AuthForgeError:
            pass
        finally:
            slow_done.set()

    thread = threading.Thread(target=long_request)
    thread.start()
    try:
        assert wait_for(lambda: slow.connections == 1)  # in flight, armed, at the fork
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report on the pipe and leave without the parent's cleanup
            status = 1
            try:
                os.close(read_end)
                report = {"timers_at_start": thread_names().count(TIMERS)}
                try:
                    post(quick.url, 0.5)
                    report["first"] = "answered"
                except AuthForgeError as exc:
                    report["first"] = exc.code
                report["then"] = client.validate_license(key).get("valid")
                names = thread_names()
                report["timers"] = names.count(TIMERS)
                report["old_thread"] = names.count(OLD_DEADLINE_THREAD)
                os.write(write_end, json.dumps(report).encode())
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as reader:
            report = json.loads(reader.read() or b"{}")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert report == {
            "timers_at_start": 0,
            "first": "timeout",
            "then": True,
            "timers": 1,
            "old_thread": 0,
        }
        assert not quick.completed.is_set()
        assert quick.cut.wait(10)
        assert not slow_done.is_set()  # the parent's own request is still waiting
    finally:
        slow.close()
        thread.join(30)


STEADY = textwrap.dedent("""
    import sys

    from authforge_guard._transport._retry import NO_RETRY
    from authforge_guard._base._scheduler import shared_timers
    from authforge_guard._transport._http import Transport

    transport = Transport(sys.argv[1], timeout=60, retry=NO_RETRY)
    for _ in range(200):
        transport.post("/auth/validate", {"nonce": "0" * 32})
    print(shared_timers()._seq)  # every call_later of this process so far
""")


def test_steady_traffic_schedules_the_deadline_job_once(af):
    """Deadlines of steady traffic are "now + the same timeout", each later than the one
    the job is scheduled for: after the first, a request arms and disarms in the watchdog's
    table alone and never touches the timer heap (so never wakes the timer thread). A fresh
    process, so that nothing else schedules."""
    result = subprocess.run(
        [sys.executable, "-c", STEADY, af.url], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["1"]
