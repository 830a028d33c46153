"""One replica of a fleet, as a process: obtains every tenant's session through the store.

argv: store setting, server url, app id, public key, login lease seconds, mode.
stdin: the app secret on the first line, then a JSON list of [key, hwid] pairs.
It prints "ready", waits for "go" on stdin, obtains every session (8 threads),
and prints "done <logins> <waited>". In mode "hang", the login validates, prints
"validated" and then never saves (a replica killed mid-login); in mode "guard"
a Guard serves each tenant in a ``licensed`` block.
"""

from __future__ import annotations

import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from authforge_guard._client._engine import Answer
from authforge_guard._stores import store_from_setting
from authforge_guard._stores._fleet import Fleet

from .wire import Wire


def main() -> None:
    setting, url, app_id, public_key, lease, mode = sys.argv[1:7]
    secret = sys.stdin.readline().strip()
    tenants = json.loads(sys.stdin.readline())
    wire = Wire(url, app_id, secret, public_key)
    fleet = Fleet(store_from_setting(setting, app_id), online=False, login_lease=float(lease))

    def login_for(key, hwid):
        def login():
            signed = wire.validate(key, hwid)
            if mode == "hang":
                print("validated", flush=True)
                threading.Event().wait()
            return Answer(signed, None)

        return login

    if mode == "guard":
        serve_with_a_guard(setting, url, app_id, public_key, secret, tenants)
        return
    print("ready", flush=True)
    assert sys.stdin.readline().strip() == "go"
    with ThreadPoolExecutor(8) as pool:
        sessions = list(
            pool.map(
                lambda pair: fleet.obtain(
                    pair[0], pair[1], wire.trust, validate=login_for(*pair), confirm=None
                ),
                tenants,
            )
        )
    assert all(a.signed.token_body["licenseKey"] == k for a, (k, _h) in zip(sessions, tenants))
    print("done", fleet.logins, fleet.waited, flush=True)
    fleet.close()
    wire.close()


def serve_with_a_guard(setting, url, app_id, public_key, secret, tenants):
    """The replica as a user writes it: one Guard, a ``licensed`` block per request."""
    from authforge_guard import Guard, licensed

    guard = Guard(
        app_id=app_id,
        app_secret=secret,
        public_key=public_key,
        api_base_url=url,
        heartbeat="grace",
        session_store=setting,
    )
    print("ready", flush=True)
    assert sys.stdin.readline().strip() == "go"

    def serve(pair):
        with licensed(pair[0], hwid_override=pair[1], guard=guard) as session:
            return session.active

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(serve, tenants))
    fleet = guard._fleet
    print("done", fleet.logins, fleet.waited, flush=True)
    guard.logout()


if __name__ == "__main__":
    main()
