"""Activation requests: byte-identical to the official SDK's, and parsed back with checks."""

import authforge as official
import pytest

from authforge_guard._protocol import (
    ActivationRequestError,
    format_activation_request,
    parse_activation_request,
)

FIELDS = dict(
    app_id="app_1",
    hwid="h" * 64,
    created_at="2026-11-27T10:00:00.000Z",
    machine_name='Zoë\'s "PC"\n',
    os="Linux 6.1",
    sdk="x/1",
    license_key="KEY-1",
)


def test_same_bytes_as_official_sdk():
    assert format_activation_request(**FIELDS) == official.format_activation_request(**FIELDS)
    minimal = dict(app_id="a", hwid="h", created_at="t")
    assert format_activation_request(**minimal) == official.format_activation_request(**minimal)


def test_round_trip_and_clipping():
    text = format_activation_request(**{**FIELDS, "license_key": "L" * 100})
    fields = parse_activation_request(text.replace("\n", "\r\n"))
    assert fields["appId"] == "app_1" and fields["machineName"] == FIELDS["machine_name"]
    assert fields["licenseKey"] == "L" * 64


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda t: "nothing here", "bad_armor"),
        (lambda t: t.replace("Checksum: ", "Checksum: 0"), "bad_checksum"),
        (lambda t: t[: len(t) // 2], "bad_armor"),
        (lambda t: None, "bad_armor"),
    ],
)
def test_damaged_requests_are_refused_with_a_code(mutate, code):
    with pytest.raises(ActivationRequestError) as info:
        parse_activation_request(mutate(format_activation_request(**FIELDS)))
    assert info.value.code == code
