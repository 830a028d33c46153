"""A fresh process that logs in with authforge_guard and makes its first licensed call.

With ``BENCH_SESSION_CACHE`` set (a directory) it is the same program with the session
cache on: a restart that resumes the cached session instead of logging in.
"""

import os

from authforge_guard import Guard, requires_license

guard = Guard(
    app_id=os.environ["BENCH_APP_ID"],
    app_secret=os.environ["BENCH_APP_SECRET"],
    public_key=os.environ["BENCH_PUBLIC_KEY"],
    api_base_url=os.environ["BENCH_URL"],
    license_key=os.environ["BENCH_LICENSE_KEY"],
    hwid_override="bench-machine",
    session_cache=os.environ.get("BENCH_SESSION_CACHE") or False,
)


@requires_license(guard=guard)
def main() -> int:
    return 42


assert main() == 42
