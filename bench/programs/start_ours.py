"""A fresh process that logs in with authforge_guard and makes its first licensed call."""

import os

from authforge_guard import Guard, requires_license

guard = Guard(
    app_id=os.environ["BENCH_APP_ID"],
    app_secret=os.environ["BENCH_APP_SECRET"],
    public_key=os.environ["BENCH_PUBLIC_KEY"],
    api_base_url=os.environ["BENCH_URL"],
    license_key=os.environ["BENCH_LICENSE_KEY"],
    hwid_override="bench-machine",
)


@requires_license(guard=guard)
def main() -> int:
    return 42


assert main() == 42
