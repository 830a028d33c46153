"""Inputs that once crashed a codec function documented never to raise on bad input.

Each was found by the property tests in ``test_hostile_input.py``; here each
is pinned as one plain case.
"""

import hashlib
import hmac

from authforge_guard._protocol import decode_token_body, token_expiry, verify_token
from authforge_guard._protocol._encoding import b64url_encode


def test_token_with_deeply_nested_body_is_not_a_token():
    # json.loads raises RecursionError, not ValueError, past ~1000 levels.
    head = b64url_encode(b"[" * 100_000)
    mac = hmac.new(b"key", head.encode("ascii"), hashlib.sha256).digest()
    token = f"{head}.{b64url_encode(mac)}"  # a right MAC: verify_token reads the body too
    assert decode_token_body(token) is None
    assert token_expiry(token) is None
    assert verify_token(token, b"key") is None
