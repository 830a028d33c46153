"""Issue 12, item 2: after os.fork() a child never reuses its parent's pooled connection;
its first guarded call logs in afresh, with no protocol error, for the Guard and for the
drop-in AuthForgeClient."""

import os

import pytest

from authforge_guard import AuthForgeClient, LicenseError

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork here")

ROUNDS, CHILDREN = 20, 4


def run_children(body, count=CHILDREN):
    """Fork ``count`` children that each run ``body()`` (a list of codes); their codes."""
    pipes = []
    for _ in range(count):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child never returns into pytest (it would be a second worker)
            try:
                os.close(read_end)
                try:
                    codes = body()
                except BaseException as exc:
                    codes = [f"crash:{type(exc).__name__}"]
                os.write(write_end, ",".join(codes).encode())
            finally:
                os._exit(0)
        os.close(write_end)
        pipes.append((pid, read_end))
    results = []
    for pid, read_end in pipes:
        with os.fdopen(read_end) as pipe:
            results.append(pipe.read())
        os.waitpid(pid, 0)
    return results


def test_guard_children_log_in_cleanly(af, make_guard):
    key = af.create_license(slots=None)
    guard = make_guard(license_key=key, heartbeat="grace")
    work = guard.requires_license(lambda: guard.session)

    def child():
        codes = []
        session = work()
        codes.append("ok" if session is not None and session.active else "no-session")
        for _ in range(3):
            guard.logout()
            try:
                work()
                codes.append("ok")
            except LicenseError as exc:
                codes.append(exc.code)
        return codes

    for _ in range(ROUNDS):
        assert guard.ensure().active  # the parent's pool holds a kept-alive connection
        results = run_children(child)
        assert results == ["ok,ok,ok,ok"] * CHILDREN
        assert guard.session is not None  # the parent's session is untouched


def test_client_children_log_in_cleanly(af, make_client):
    key = af.create_license(slots=None)
    client = make_client()
    assert client.login(key)

    def child():
        fresh_results = [client.validate_license(key) for _ in range(3)]
        return ["ok" if r["valid"] else r["code"] for r in fresh_results]

    for _ in range(ROUNDS):
        assert client.validate_license(key)["valid"]
        assert run_children(child) == ["ok,ok,ok"] * CHILDREN
    assert isinstance(client, AuthForgeClient) and client.is_authenticated()


def test_a_forked_child_posts_no_loss_to_its_parents_gui_loop():
    """A GUI app (its loop registered, its dialog as the console notifier) that forks: the
    child runs no loop of ours, so its losses go the ordinary way, not to the parent's."""
    import threading

    from authforge_guard._base import _console
    from authforge_guard._delivery import _loops

    posted = []
    loop = _loops.register(posted.append, lambda delivery: None, signum=None)
    _console.set_notifier(posted.append)
    try:
        (child,) = run_children(
            lambda: [
                str(_loops.loop_of(threading.get_ident()) is None),
                str(_console._notifier is None),
            ],
            count=1,
        )
        assert child == "True,True"
        assert _loops.loop_of(threading.get_ident()) is loop  # the parent keeps its own
        assert posted == []
    finally:
        _console.set_notifier(None)
        _loops.unregister(loop)
