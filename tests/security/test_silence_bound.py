"""Issue 25, "also seen": online mode has a bound on silence.

The user's own proxy answers every heartbeat with 502 (or the proxy is gone: connection
refused). Each failure is transient, so before this bound an online program kept a
revoked license until the session's signed end (24 h). Now, once the heartbeats have
failed for ``max_unreachable`` seconds (code only; three intervals by default), the
session ends with ``server_unreachable``: hooks first, then ``LicenseLost``.
"""

from __future__ import annotations

import threading

import pytest

from authforge_guard import AuthForgeClient, Guard, LicenseLost, licensed
from tests.support.fault_proxy import Fault, FaultProxy

from .forwarder import API_URL, RewritingForwarder
from .test_answer_binding import HEARTBEAT, Running, users_environment

PROGRAM = """\
import json, sys
from authforge_guard import LicenseError, LicenseLost, configure, licensed

guard = configure(
    app_id={app_id!r},
    public_key={public_key!r},
    api_base_url={api!r},
    heartbeat="online",
    heartbeat_interval=10,
    max_unreachable=5,
)


@guard.on_lost
def save_work(event):
    print(json.dumps({{"hook": event.code}}), flush=True)


try:
    with licensed() as session:
        print(json.dumps({{"tier": session.tier}}), flush=True)
        sys.stdin.readline()
        print(json.dumps({{"still": session.tier}}), flush=True)
except LicenseLost as exc:
    print(json.dumps({{"lost": exc.code}}), flush=True)
except LicenseError as exc:
    print(json.dumps({{"refused": exc.code}}), flush=True)
"""


@pytest.fixture
def forwarder(vendor, tmp_path):
    with RewritingForwarder(vendor.url, tmp_path / "proxy") as proxy:
        yield proxy


def write_program(vendor, tmp_path):
    path = tmp_path / "online_program.py"
    path.write_text(
        PROGRAM.format(app_id=vendor.app_id, public_key=vendor.public_key, api=API_URL),
        encoding="utf-8",
    )
    return path


def test_heartbeats_answered_502_by_the_users_proxy_end_the_session(vendor, forwarder, tmp_path):
    key = vendor.create_license({"tier": "pro"})
    env = users_environment(vendor, tmp_path, key, forwarder)
    with Running(write_program(vendor, tmp_path), env) as run:
        assert run.line() == {"tier": "pro"}
        vendor.revoke(key)  # never seen: the proxy answers every heartbeat itself
        forwarder.fail(HEARTBEAT, 502)
        assert run.line() == {"hook": "server_unreachable"}  # hooks first
        assert run.line() == {"lost": "server_unreachable"}
    assert forwarder.count(forwarder.failed, HEARTBEAT) >= 1


def test_heartbeats_refused_at_the_connection_end_the_session(vendor, forwarder, tmp_path):
    key = vendor.create_license({"tier": "pro"})
    env = users_environment(vendor, tmp_path, key, forwarder)
    with Running(write_program(vendor, tmp_path), env) as run:
        assert run.line() == {"tier": "pro"}
        forwarder.close()  # the proxy's port now refuses connections
        assert run.line() == {"hook": "server_unreachable"}
        assert run.line() == {"lost": "server_unreachable"}


def online_guard(af, key, proxy, **code):
    """The vendor's online Guard, on loopback through a proxy that can fail heartbeats."""
    return Guard(
        app_id=af.app_id,
        public_key=af.public_key,
        app_secret=af.app_secret,
        license_key=key,
        api_base_url=proxy.url,
        heartbeat="online",
        heartbeat_interval=0.2,
        **code,
    )


def test_by_default_three_failed_intervals_end_the_session_hooks_first(af):
    key = af.create_license({"tier": "pro"})
    events = []
    lost = threading.Event()
    with FaultProxy(af.url) as proxy:
        guard = online_guard(af, key, proxy)

        @guard.on_lost
        def hook(event):
            events.append(("hook", event.code, type(event.exception.__cause__).__name__))
            lost.set()

        with pytest.raises(LicenseLost) as raised, licensed(guard=guard):
            proxy.arm(Fault.html(502), always=True, path=HEARTBEAT)
            assert lost.wait(60)
            guard.ensure()  # the next guarded call in the block raises
        assert raised.value.code == "server_unreachable"
        assert events == [("hook", "server_unreachable", "AuthForgeError")]
        guard.logout()


def test_a_longer_bound_keeps_the_session_through_failed_heartbeats(af):
    key = af.create_license({"tier": "pro"})
    failures = []
    three = threading.Event()
    with FaultProxy(af.url) as proxy:
        guard = online_guard(af, key, proxy, max_unreachable=3600)

        @guard.on_transient
        def failed(event):
            failures.append(event.code)
            if len(failures) >= 3:
                three.set()

        session = guard.ensure()
        proxy.arm(Fault.html(502), always=True, path=HEARTBEAT)
        assert three.wait(60)
        assert session.active and set(failures) == {"http_error_502"}
        guard.logout()


def test_the_drop_in_client_has_the_same_bound(af):
    """``AuthForgeClient`` in online mode: each failed heartbeat reaches ``on_failure`` (as in
    the official SDK), and after three failed intervals the session ends."""
    key = af.create_license({"tier": "pro"})
    failures = []
    ended = threading.Event()

    def on_failure(reason, error):
        failures.append((reason, getattr(error, "code", None)))
        if getattr(error, "fatal", False):
            ended.set()

    with FaultProxy(af.url) as proxy:
        client = AuthForgeClient(
            af.app_id,
            af.app_secret,
            af.public_key,
            heartbeat_mode="SERVER",
            heartbeat_interval=0.2,
            api_base_url=proxy.url,
            on_failure=on_failure,
        )
        assert client.login(key)
        proxy.arm(Fault.html(502), always=True, path=HEARTBEAT)
        assert ended.wait(60)
        assert failures[-1] == ("heartbeat_failed", "server_unreachable")
        assert set(failures[:-1]) <= {("heartbeat_failed", "http_error_502")}
        assert not client.is_authenticated()
        client.logout()
