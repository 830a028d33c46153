"""Issue 25, items 1 and 2: the end user's own proxy rewrites a request and keeps its nonce.

The vendor's program is written as the README teaches (the app, its key and the
API pinned in code); the user sets their own proxy and CA in the environment,
as any user may. The proxy rewrites ``hwid`` to the machine holding the seat,
or ``ttlSeconds`` to a week; the server signs what it was asked, and the
program must refuse the answer (``session_mismatch``), at login and at an
online heartbeat alike, for the Guard and for the drop-in ``AuthForgeClient``.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading

import pytest

from .conftest import clean_environment
from .forwarder import API_URL, RewritingForwarder

ELSEWHERE = "machine-holding-the-seat"
WEEK = 604800
VALIDATE = "/auth/validate"
HEARTBEAT = "/auth/heartbeat"
HANG_GUARD = float(__import__("os").environ.get("TRUST_HANG", "90"))

# The README's quick start, with the session's lifetime printed and an online heartbeat.
GUARD_PROGRAM = """\
import json, sys, time
from authforge_guard import LicenseError, LicenseLost, configure, licensed

configure(app_id={app_id!r}, public_key={public_key!r}, api_base_url={api!r}{extra})

try:
    with licensed() as session:
        left = session.expires_at.timestamp() - time.time()
        print(json.dumps({{"tier": session.tier, "hours": round(left / 3600)}}), flush=True)
        sys.stdin.readline()
        left = session.expires_at.timestamp() - time.time()
        print(json.dumps({{"tier": session.tier, "hours": round(left / 3600)}}), flush=True)
except LicenseLost as exc:
    print(json.dumps({{"lost": exc.code}}), flush=True)
except LicenseError as exc:
    print(json.dumps({{"refused": exc.code}}), flush=True)
"""

# The README's AuthForgeClient example, trust pinned in code.
CLIENT_PROGRAM = """\
import json, os, sys
from authforge_guard import AuthForgeClient

def failed(reason, error):
    print(json.dumps({{reason: getattr(error, "code", str(error))}}), flush=True)

client = AuthForgeClient(
    app_id={app_id!r},
    app_secret=os.environ["AUTHFORGE_APP_SECRET"],
    public_key={public_key!r},
    api_base_url={api!r},
    heartbeat_mode="SERVER",
    heartbeat_interval=10,
    on_failure=failed,
)
if client.login(os.environ["AUTHFORGE_LICENSE_KEY"]):
    print(json.dumps({{"licensed": client.get_license_variables()}}), flush=True)
    sys.stdin.readline()
"""


@pytest.fixture
def forwarder(vendor, tmp_path):
    with RewritingForwarder(vendor.url, tmp_path / "proxy") as proxy:
        yield proxy


def program(vendor, tmp_path, template=GUARD_PROGRAM, **extra):
    path = tmp_path / "vendor_program.py"
    more = "".join(f", {name}={value!r}" for name, value in extra.items())
    path.write_text(
        template.format(
            app_id=vendor.app_id, public_key=vendor.public_key, api=API_URL, extra=more
        ),
        encoding="utf-8",
    )
    return path


def users_environment(vendor, tmp_path, key, forwarder, *, standard_names=False):
    """The user's settings: their key and the app secret, and their own proxy and CA."""
    if standard_names:
        proxy = {"HTTPS_PROXY": forwarder.url, "SSL_CERT_FILE": forwarder.ca_bundle}
    else:
        proxy = {
            "AUTHFORGE_PROXY_URL": forwarder.url,
            "AUTHFORGE_CA_BUNDLE": forwarder.ca_bundle,
        }
    return clean_environment(
        tmp_path,
        AUTHFORGE_APP_SECRET=vendor.app_secret,
        AUTHFORGE_LICENSE_KEY=key,
        NO_PROXY="",
        no_proxy="",
        **proxy,
    )


class Running:
    """A started program; ``line()`` waits (with a hang guard) for its next JSON line."""

    def __init__(self, path, env):
        self.child = subprocess.Popen(
            [sys.executable, str(path)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for text in self.child.stdout:
            self._lines.put(text)
        self._lines.put("")

    def line(self):
        text = self._lines.get(timeout=HANG_GUARD)
        assert text, self.finish()
        return json.loads(text)

    def send_line(self):
        """End the program's wait on stdin (it prints its state again and exits)."""
        if self.child.poll() is None:
            try:
                self.child.stdin.write("\n")
                self.child.stdin.flush()
            except OSError:
                pass

    def finish(self):
        self.send_line()
        try:
            return self.child.communicate(timeout=30)[1]
        except subprocess.TimeoutExpired:
            self.child.kill()
            return self.child.communicate()[1]

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self.child.poll() is None:
            self.child.kill()
        self.child.communicate()


def seat_taken_elsewhere(vendor):
    """A one-seat license whose seat belongs to another machine; its session token."""
    key = vendor.create_license({"tier": "pro"}, slots=1)
    result = vendor.client(hwid_override=ELSEWHERE).validate_license(key)
    assert result["valid"]
    return key, result["session_token"]


# ------------------------------------------------------------------- logins


@pytest.mark.parametrize(
    "standard_names", [False, True], ids=["AUTHFORGE_PROXY_URL", "HTTPS_PROXY"]
)
def test_a_login_rewritten_to_the_seat_holders_hwid_is_refused(
    vendor, forwarder, tmp_path, standard_names
):
    key, _ = seat_taken_elsewhere(vendor)
    forwarder.rewrite(VALIDATE, lambda body: {**body, "hwid": ELSEWHERE})
    env = users_environment(vendor, tmp_path, key, forwarder, standard_names=standard_names)

    with Running(program(vendor, tmp_path), env) as run:
        assert run.line() == {"refused": "session_mismatch"}
    assert forwarder.count(forwarder.rewritten, VALIDATE) == 1  # the attack did reach the server
    assert vendor.stats()["licenses"][key]["validates"] == 2  # and was answered, signed


def test_a_login_rewritten_to_a_week_is_refused(vendor, forwarder, tmp_path):
    key = vendor.create_license({"tier": "pro"})
    forwarder.rewrite(VALIDATE, lambda body: {**body, "ttlSeconds": WEEK})
    env = users_environment(vendor, tmp_path, key, forwarder)

    with Running(program(vendor, tmp_path), env) as run:
        assert run.line() == {"refused": "session_mismatch"}
    assert forwarder.count(forwarder.rewritten, VALIDATE) == 1


def test_through_the_same_proxy_unchanged_the_program_runs(vendor, forwarder, tmp_path):
    """The control: the proxy and CA themselves are allowed; only a rewrite is refused. The
    lifetime asked for (24 h unless the code says otherwise) is always sent and granted."""
    key = vendor.create_license({"tier": "pro"})
    env = users_environment(vendor, tmp_path, key, forwarder)
    with Running(program(vendor, tmp_path), env) as run:
        assert run.line() == {"tier": "pro", "hours": 24}
        run.send_line()
        assert run.line() == {"tier": "pro", "hours": 24}


def test_the_drop_in_client_refuses_a_rewritten_login(vendor, forwarder, tmp_path):
    key, _ = seat_taken_elsewhere(vendor)
    forwarder.rewrite(VALIDATE, lambda body: {**body, "hwid": ELSEWHERE})
    env = users_environment(vendor, tmp_path, key, forwarder, standard_names=True)

    with Running(program(vendor, tmp_path, CLIENT_PROGRAM), env) as run:
        assert run.line() == {"login_failed": "session_mismatch"}


# --------------------------------------------------------------- heartbeats


def test_a_heartbeat_swapped_for_the_seat_holders_session_ends_the_session(
    vendor, forwarder, tmp_path
):
    """This machine logs in honestly; then the proxy answers each heartbeat with a refresh
    of the seat holder's session (its token and HWID, this request's nonce)."""
    key = vendor.create_license({"tier": "pro"}, slots=2)
    _, token = seat_taken_elsewhere_for(vendor, key)
    env = users_environment(vendor, tmp_path, key, forwarder)
    path = program(vendor, tmp_path, heartbeat="online", heartbeat_interval=10)

    with Running(path, env) as run:
        assert run.line() == {"tier": "pro", "hours": 24}
        forwarder.rewrite(
            HEARTBEAT, lambda body: {**body, "sessionToken": token, "hwid": ELSEWHERE}
        )
        assert run.line() == {"lost": "session_mismatch"}
    assert forwarder.count(forwarder.rewritten, HEARTBEAT) == 1


def test_a_heartbeat_swapped_for_a_week_long_session_ends_the_session(vendor, forwarder, tmp_path):
    """The proxy answers the heartbeat with a refresh of a 7-day session of the same key and
    machine (one it logged in itself, with the app secret the environment holds)."""
    key = vendor.create_license({"tier": "pro"})
    week = vendor.client(ttl_seconds=WEEK).validate_license(key)  # this machine's HWID
    assert week["valid"]
    env = users_environment(vendor, tmp_path, key, forwarder)
    path = program(vendor, tmp_path, heartbeat="online", heartbeat_interval=10)

    with Running(path, env) as run:
        assert run.line() == {"tier": "pro", "hours": 24}
        forwarder.rewrite(HEARTBEAT, lambda body: {**body, "sessionToken": week["session_token"]})
        assert run.line() == {"lost": "session_mismatch"}
    assert forwarder.count(forwarder.rewritten, HEARTBEAT) == 1


def test_the_drop_in_client_ends_a_session_on_a_swapped_heartbeat(vendor, forwarder, tmp_path):
    key = vendor.create_license({"tier": "pro"}, slots=2)
    _, token = seat_taken_elsewhere_for(vendor, key)
    env = users_environment(vendor, tmp_path, key, forwarder, standard_names=True)

    with Running(program(vendor, tmp_path, CLIENT_PROGRAM), env) as run:
        assert run.line() == {"licensed": {"tier": "pro"}}
        forwarder.rewrite(
            HEARTBEAT, lambda body: {**body, "sessionToken": token, "hwid": ELSEWHERE}
        )
        assert run.line() == {"heartbeat_failed": "session_mismatch"}


def seat_taken_elsewhere_for(vendor, key):
    result = vendor.client(hwid_override=ELSEWHERE).validate_license(key)
    assert result["valid"]
    return key, result["session_token"]
