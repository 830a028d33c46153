"""The shared conformance vectors: our verifier and HWID derivation agree with every SDK."""

import json
from pathlib import Path

import pytest

from authforge_guard._protocol import TrustList, hwid_from_machine_id, normalize_machine_id

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
ED25519 = json.loads((VECTORS / "ed25519_vectors.json").read_text())
HWID = json.loads((VECTORS / "hwid_vectors.json").read_text())


@pytest.mark.parametrize("case", ED25519["cases"], ids=lambda c: c["id"])
def test_ed25519_vector(case):
    trust = TrustList(ED25519["publicKey"])
    assert trust.verify(case["payload"], case["signature"]) is case["shouldVerify"]


@pytest.mark.parametrize("case", HWID["cases"], ids=lambda c: repr(c["raw_machine_id"]))
def test_hwid_vector(case):
    normalized = normalize_machine_id(case["raw_machine_id"])
    assert normalized == case["normalized"]
    if normalized is not None:
        assert hwid_from_machine_id(case["app_id"], normalized) == case["hwid"]


def test_vectors_cover_both_verdicts():
    verdicts = {case["shouldVerify"] for case in ED25519["cases"]}
    assert verdicts == {True, False}
