"""A licensed process that forks, and one that exits with a heartbeat thread alive.

Both run as real child processes of the test (the server and the fault proxy
stay in the test process).

Fork, the documented behaviour: the child inherits no session. Its clients
start logged out with no heartbeat thread (threads do not survive a fork,
and a session must not be checked on behalf of another process), and a Guard
in the child logs in again, once, at its next guarded call; the ``Session``
object the child inherited reads as ended (``lost_code == "fork"``). The
parent's session, its heartbeats and its thread are untouched.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.support.fault_proxy import Fault
from tests.support.waiting import wait_for

HEARTBEAT = "/auth/heartbeat"


def environment(shared_af, url, **extra):
    return dict(
        os.environ,
        AUTHFORGE_APP_ID=shared_af.app_id,
        AUTHFORGE_APP_SECRET=shared_af.app_secret,
        AUTHFORGE_PUBLIC_KEY=shared_af.public_key,
        AUTHFORGE_API_URL=url,
        AUTHFORGE_HWID_OVERRIDE="child-process",
        **extra,
    )


def run_script(source, env, timeout=30):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


FORK_SCRIPT = """
    import json, os, threading, time
    from authforge_guard import Guard, requires_license

    guard = Guard(trust_environment=True, heartbeat="online", heartbeat_interval=0.05)

    @requires_license(guard=guard)
    def work():
        return guard.session

    def beating():  # sessions with a background check scheduled
        return sum(e.heartbeat_job is not None for e in guard._entries.values())

    def token():
        entry = guard._entries.get(None)  # the default license's session
        return entry.signed.session_token if entry is not None else None

    def refreshed_from(old, timeout=5.0):
        deadline = time.monotonic() + timeout
        while token() in (None, old) and time.monotonic() < deadline:
            time.sleep(0.02)
        return token() not in (None, old)

    inherited = guard.ensure()
    token_before = token()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        child = {
            "client_authenticated": bool(guard.sessions),
            "heartbeat_threads": beating(),
            "guard_session": guard.session is not None,
            "inherited_lost_code": inherited.lost_code,
        }
        session = work()  # the next guarded call logs in again
        child.update(
            new_session=session is not None and session is not inherited and session.active,
            heartbeat_threads_after=beating(),
            token_refreshed=refreshed_from(token_before),
        )
        guard.logout()
        os.write(write_end, json.dumps(child).encode())
        os._exit(0)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read_end) as pipe:
        child = json.loads(pipe.read())
    parent = {
        "child_exit": os.waitstatus_to_exitcode(status),
        "still_refreshing": refreshed_from(token()),
        "session_kept": guard.session is inherited and inherited.active,
        "heartbeat_threads": beating(),
    }
    guard.logout()
    print(json.dumps({"child": child, "parent": parent}))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")
def test_fork_in_a_licensed_process(shared_af):
    key = shared_af.create_license()
    result = run_script(
        FORK_SCRIPT, environment(shared_af, shared_af.url, AUTHFORGE_LICENSE_KEY=key)
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["child"] == {
        "client_authenticated": False,
        "heartbeat_threads": 0,
        "guard_session": False,
        "inherited_lost_code": "fork",
        "new_session": True,
        "heartbeat_threads_after": 1,
        "token_refreshed": True,
    }
    assert report["parent"] == {
        "child_exit": 0,
        "session_kept": True,
        "heartbeat_threads": 1,
        "still_refreshing": True,
    }
    assert (
        shared_af.stats()["licenses"][key]["validates"] == 2
    )  # the parent's login and the child's


EXIT_SCRIPT = """
    import sys, time
    from authforge_guard import Guard, licensed

    guard = Guard(trust_environment=True, heartbeat={mode!r}, heartbeat_interval=0.05, request_timeout=10)
    guard.on_lost(lambda event: print("lost", event.code, file=sys.stderr))
    guard.ensure()
    time.sleep(0.4)  # several checks; online, the current one is held by the proxy
    {ending}
"""
ENDINGS = {
    "return": "pass",
    "sys_exit": "sys.exit(0)",
    "inside_licensed_block": "with licensed(guard=guard):\n        sys.exit(0)",
}


@pytest.mark.parametrize("ending", sorted(ENDINGS))
@pytest.mark.parametrize("mode", ["grace", "online"])
def test_exit_with_a_heartbeat_thread_alive_is_silent(shared_af, proxy, mode, ending):
    key = shared_af.create_license()
    if mode == "online":
        proxy.arm(Fault.delay(5.0), always=True, path=HEARTBEAT)  # every check is mid-flight
    sent = len(proxy.requests)
    script = EXIT_SCRIPT.format(mode=mode, ending=ENDINGS[ending])
    result = run_script(script, environment(shared_af, proxy.url, AUTHFORGE_LICENSE_KEY=key))
    assert (result.returncode, result.stderr, result.stdout) == (0, "", "")
    paths = [path for path, _body in proxy.requests[sent:]]
    if mode == "online":
        assert wait_for(lambda: HEARTBEAT in [p for p, _ in proxy.requests[sent:]])
    else:
        assert paths == ["/auth/validate"]


HANGING_HOOK_SCRIPT = """
    import sys, threading, time
    from authforge_guard import Guard

    guard = Guard(trust_environment=True, heartbeat="online", heartbeat_interval=0.05, hook_timeout={hook_timeout})
    never = threading.Event()
    guard.on_lost(lambda event: (print("hook", event.code, flush=True), never.wait()))
    guard.ensure()
    print("ready", flush=True)
    sys.stdin.readline()  # the test revokes the license, then says go
    time.sleep(0.2)
    sys.exit(0)
"""


@pytest.mark.parametrize("hook_timeout", ["None", "5.0"])
def test_exit_while_a_hook_still_hangs_is_silent(shared_af, hook_timeout):
    key = shared_af.create_license()
    env = environment(shared_af, shared_af.url, AUTHFORGE_LICENSE_KEY=key)
    script = textwrap.dedent(HANGING_HOOK_SCRIPT.format(hook_timeout=hook_timeout))
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        env=env,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert child.stdout.readline() == "ready\n"
        shared_af.revoke(key)
        assert child.stdout.readline() == "hook revoked\n"  # the hook is now stuck
        out, err = child.communicate("go\n", timeout=30)
    finally:
        child.kill()
    assert (child.returncode, out, err) == (0, "", "")
