"""Trust lists: construction errors are immediate, rotation accepts any listed key."""

import base64

import pytest

from authforge_guard._protocol import SigningKey, TrustList, key_id_for


def test_single_key_list_and_comma_string_are_equivalent():
    a, b = SigningKey.generate(), SigningKey.generate()
    message = "eyJub25jZSI6Im4ifQ=="
    sig_a, sig_b = a.sign(message), b.sign(message)
    for arg in ([a.public_key_b64, b.public_key_b64], f"{a.public_key_b64}, {b.public_key_b64}"):
        trust = TrustList(arg)
        assert trust.verify(message, sig_a)
        assert trust.verify(message, sig_b)
    only_a = TrustList(a.public_key_b64)
    assert only_a.verify(message, sig_a)
    assert not only_a.verify(message, sig_b)


@pytest.mark.parametrize(
    "bad",
    ["", " , ", "not base64!!", base64.b64encode(b"x" * 31).decode(), [], [123], None, 42],
)
def test_bad_key_is_a_value_error_at_construction(bad):
    with pytest.raises(ValueError):
        TrustList(bad)


def test_signature_is_over_the_base64_string_not_the_json():
    key = SigningKey.generate()
    trust = TrustList(key.public_key_b64)
    payload_b64 = base64.b64encode(b'{"a":1}').decode()
    assert trust.verify(payload_b64, key.sign(payload_b64))
    assert not trust.verify(payload_b64, key.sign('{"a":1}'))


@pytest.mark.parametrize("signature", [None, "", "@@@", base64.b64encode(b"s" * 63).decode(), 5])
def test_malformed_signature_is_rejected_without_raising(signature):
    trust = TrustList(SigningKey.generate().public_key_b64)
    assert trust.verify("abc", signature) is False


def test_lenient_list_keeps_only_usable_keys():
    key = SigningKey.generate()
    trust = TrustList.lenient(["junk", key.public_key_b64, 7])
    assert trust.keys_b64 == (key.public_key_b64,)
    assert TrustList.lenient(None).verify("a", key.sign("a")) is False


def test_private_key_round_trip_and_key_id_is_stable():
    key = SigningKey.generate()
    again = SigningKey.from_private_bytes(key.private_bytes())
    assert again.public_key_b64 == key.public_key_b64
    assert again.key_id == key_id_for(key.public_key_b64)
    assert key.public_key_b64 not in repr(key)
