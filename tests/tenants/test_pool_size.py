"""The connection pool is as large as the threads that use it (issue 26, defect 7).

A guard's requests go through one pool: its background checks (the timers'
worker threads) and the logins of whatever threads call it (a web server's).
A pool smaller than that opens a connection for each extra request and throws
it away afterwards ("Connection pool is full, discarding connection"): against
the hosted service, a TLS handshake wasted each time.
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from authforge_guard._base._scheduler import shared_timers
from tests.support.fault_proxy import Fault

from ..support.waiting import wait_for

THREADS = 12


def test_a_dozen_threads_on_one_pool_discard_no_connection(af, proxy, make_guard, caplog):
    guard = make_guard(api_base_url=proxy.url, heartbeat_interval=0.05)
    keys = [af.create_license({"tier": "pro"}) for _ in range(THREADS)]
    # Every request takes a while: the dozen logins, then the checks, are in flight together.
    proxy.arm(Fault.delay(0.3), always=True)
    start = threading.Barrier(THREADS)

    def login(key):
        start.wait(10)
        return guard.ensure(key, hwid_override="tenant")

    caplog.set_level(logging.WARNING, logger="urllib3")
    with ThreadPoolExecutor(THREADS) as pool:
        sessions = list(pool.map(login, keys))
    assert all(session.active for session in sessions)
    heartbeats = proxy.forwarded_count("/auth/heartbeat")  # a few rounds, on every worker:
    assert wait_for(lambda: proxy.forwarded_count("/auth/heartbeat") >= heartbeats + 24, 60)
    guard.logout()
    assert shared_timers().settle(30)

    discarded = [r for r in caplog.records if "pool is full" in r.getMessage()]
    assert discarded == [], f"{len(discarded)} connections discarded"
    assert proxy.forwarded_count("/auth/validate") == THREADS
