"""Serve a LocalAuthForge (heartbeat rate limit off) for the benchmark.

Prints one JSON line with what a client needs, then serves until its stdin
closes; leaving the ``with`` block stops the server and removes its database.
"""

import json
import sys

from authforge_guard.testing import LocalAuthForge

with LocalAuthForge(heartbeat_rate_limit=None) as af:
    settings = {
        "url": af.url,
        "app_id": af.app_id,
        "app_secret": af.app_secret,
        "public_key": af.public_key,
        # One license for every client: any number of machines, tier "pro".
        "license_key": af.create_license({"tier": "pro"}, slots=None),
    }
    print(json.dumps(settings), flush=True)
    sys.stdin.read()
