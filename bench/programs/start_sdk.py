"""A fresh process that logs in with the official SDK and makes its first licensed call."""

import os

from authforge import AuthForgeClient

client = AuthForgeClient(
    os.environ["BENCH_APP_ID"],
    os.environ["BENCH_APP_SECRET"],
    os.environ["BENCH_PUBLIC_KEY"],
    api_base_url=os.environ["BENCH_URL"],
    hwid_override="bench-machine",
)


def main() -> int:
    return 42


assert client.login(os.environ["BENCH_LICENSE_KEY"])
assert main() == 42
