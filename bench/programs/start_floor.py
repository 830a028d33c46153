"""The floor for a urllib3 client: a minimal hand-written login, then the first licensed call.

What any urllib3 + cryptography client must do at least: one pooled POST of a
validate request with a fresh nonce, the JSON answer read, the payload's
Ed25519 signature checked and its nonce compared. No retries, no session, no
heartbeat, no error mapping: a row to compare start-up with, not a client.
"""

import base64
import json
import os
import secrets

import urllib3
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

nonce = secrets.token_hex(16)
body = {
    "appId": os.environ["BENCH_APP_ID"],
    "appSecret": os.environ["BENCH_APP_SECRET"],
    "licenseKey": os.environ["BENCH_LICENSE_KEY"],
    "hwid": "bench-machine",
    "nonce": nonce,
}
pool = urllib3.PoolManager(headers={"Content-Type": "application/json"})
response = pool.request(
    "POST",
    os.environ["BENCH_URL"] + "/auth/validate",
    body=json.dumps(body, separators=(",", ":")).encode("utf-8"),
)
answer = json.loads(response.data)
assert answer["status"] == "ok", answer
key = Ed25519PublicKey.from_public_bytes(base64.b64decode(os.environ["BENCH_PUBLIC_KEY"]))
key.verify(base64.b64decode(answer["signature"]), answer["payload"].encode("utf-8"))
payload = json.loads(base64.b64decode(answer["payload"]))
assert payload["nonce"] == nonce


def main() -> int:
    return 42


assert main() == 42
