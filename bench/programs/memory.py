"""RSS that a live session adds to a process: ``memory.py ours|sdk SECONDS``.

Imports come first (their footprint is reported apart); then the RSS is read,
the client logs in with online heartbeats every 0.2 s, and after SECONDS of
heartbeats it is read again. Prints one JSON line.
"""

import gc
import json
import os
import sys
import time


def rss() -> int:
    """Resident set size in bytes (Linux ``/proc``; elsewhere the peak, as an approximation)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


which, seconds = sys.argv[1], float(sys.argv[2])
env = os.environ
start = rss()
# Loaded by the first connection to a host name, whichever the client.
import encodings.idna  # noqa: E402, F401

if which == "ours":
    # Everything a login loads lazily, so the window below holds the session alone.
    import cryptography.exceptions
    import cryptography.hazmat.primitives.asymmetric.ed25519  # noqa: F401
    import urllib3  # noqa: F401

    from authforge_guard import AuthForgeClient

    client = AuthForgeClient(
        env["BENCH_APP_ID"],
        env["BENCH_APP_SECRET"],
        env["BENCH_PUBLIC_KEY"],
        heartbeat_interval=0.2,
        api_base_url=env["BENCH_URL"],
        hwid_override="bench-machine",
        online_heartbeat=True,
    )
else:
    import urllib.request  # noqa: F401

    from authforge import AuthForgeClient as SdkClient

    # The SDK refuses intervals under 10 s; its loop reads the attribute each time.
    client = SdkClient(
        env["BENCH_APP_ID"],
        env["BENCH_APP_SECRET"],
        env["BENCH_PUBLIC_KEY"],
        heartbeat_interval=10,
        api_base_url=env["BENCH_URL"],
        hwid_override="bench-machine",
        online_heartbeat=True,
    )
    client.heartbeat_interval = 0.2  # type: ignore[assignment]

gc.collect()
modules = set(sys.modules)
before = rss()
assert client.login(env["BENCH_LICENSE_KEY"])
time.sleep(seconds)
gc.collect()
after = rss()
late_imports = sorted(set(sys.modules) - modules)
client.logout()
print(json.dumps({"imports": before - start, "session": after - before, "late": late_imports}))
