"""Serve a LocalAuthForge (heartbeat rate limit off) for the benchmark, over HTTP and HTTPS.

Prints one JSON line with what a client needs, then serves until its stdin
closes; leaving the ``with`` blocks stops the servers and removes the database
and the throwaway certificate. Both servers answer from the same database (a
second LocalAuthForge on a database reuses its app), so one license works on
either: ``url`` is plain HTTP, ``tls_url`` HTTPS with a self-signed certificate
whose PEM file is ``ca_bundle``.
"""

import json
import sys

from authforge_guard.testing import LocalAuthForge

with LocalAuthForge(heartbeat_rate_limit=None) as af:
    tls = LocalAuthForge(db_path=af.server.db_path, heartbeat_rate_limit=None, tls=True)
    with tls as af_tls:
        assert af_tls.app_id == af.app_id
        settings = {
            "url": af.url,
            "tls_url": af_tls.url,
            "ca_bundle": af_tls.ca_bundle,
            "app_id": af.app_id,
            "app_secret": af.app_secret,
            "public_key": af.public_key,
            # One license for every client: any number of machines, tier "pro".
            "license_key": af.create_license({"tier": "pro"}, slots=None),
        }
        print(json.dumps(settings), flush=True)
        sys.stdin.read()
