"""Inputs that once crashed a codec function documented never to raise on bad input.

Each was found by the property tests in ``test_hostile_input.py``; here each
is pinned as one plain case.
"""

import hashlib
import hmac

import pytest

from authforge_guard._exceptions import AuthForgeError
from authforge_guard._protocol import (
    SigningKey,
    TrustList,
    decode_token_body,
    is_success_status,
    judge_signed_response,
    token_expiry,
    verify_token,
)
from authforge_guard._protocol._encoding import b64encode, b64url_encode


def test_token_with_deeply_nested_body_is_not_a_token():
    # json.loads raises RecursionError, not ValueError, past ~1000 levels.
    head = b64url_encode(b"[" * 100_000)
    mac = hmac.new(b"key", head.encode("ascii"), hashlib.sha256).digest()
    token = f"{head}.{b64url_encode(mac)}"  # a right MAC: verify_token reads the body too
    assert decode_token_body(token) is None
    assert token_expiry(token) is None
    assert verify_token(token, b"key") is None


def test_a_huge_integer_status_is_not_success():
    # str() of an int past 4300 digits raises ValueError (CPython's conversion limit).
    assert is_success_status(10**5000) is False
    assert is_success_status(1) is True
    with pytest.raises(AuthForgeError) as info:
        judge_signed_response({"status": 10**5000}, expected_nonce="n", trust=None, asked=None)
    assert info.value.code == "unexpected_response"


def test_verify_of_a_message_with_a_lone_surrogate_is_false():
    # "\ud800" has no UTF-8 encoding; str.encode raised UnicodeEncodeError.
    trust = TrustList(SigningKey.generate().public_key_b64)
    assert trust.verify("\ud800", b64encode(bytes(64))) is False
