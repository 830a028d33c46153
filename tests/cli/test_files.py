"""``verify-file`` and ``activation-request``: the air-gapped path, with no network at all."""

import json
import time

import pytest

from authforge_guard._guard._session import mask_key
from authforge_guard._protocol import (
    SigningKey,
    format_license_file,
    iso_utc,
    license_payload,
    parse_activation_request,
    resolve_hwid,
)

NO_SERVER = "http://127.0.0.1:9"  # offline commands must never need one


def offline_env(af, **extra):
    return {**af.environ(), "AUTHFORGE_API_URL": NO_SERVER, "AUTHFORGE_APP_SECRET": "", **extra}


def test_a_file_bound_to_this_machine_is_valid(af, cli, tmp_path):
    key = af.create_license({"tier": "pro"}, label="Air-gapped lab")
    path = tmp_path / "lab.authforge"
    path.write_text(af.mint_offline_file(key, hwids=[resolve_hwid(af.app_id, None)]))
    code, out, err = cli("verify-file", str(path), env=offline_env(af))
    assert code == 0, err
    assert "valid on this machine" in out and mask_key(key) in out and key not in out
    assert "never (lifetime file)" in out and "bound to 1 machine(s)" in out
    # the same with flags instead of the environment
    code, out, _ = cli(
        "verify-file", str(path), "--json", "--app-id", af.app_id, "--public-key", af.public_key
    )
    result = json.loads(out)
    assert code == 0 and result["valid"] and result["tier"] == "pro" and result["machines"] == 1


def expired_file(app_id):
    """A well-signed file that expired a minute ago (the server refuses to mint one), and its
    public key."""
    signer = SigningKey.generate()
    payload = license_payload(
        app_id=app_id,
        license_key="EXPI-RED0-0000-0000",
        jti="j1",
        key_id=signer.key_id,
        issued_at=iso_utc(time.time() - 120),
        expires_at=iso_utc(time.time() - 60),
        hwids=None,
    )
    return format_license_file(payload, signer), signer.public_key_b64


@pytest.mark.parametrize(
    "problem", ["hwid_mismatch", "expired", "wrong_app", "bad_signature", "bad_armor"]
)
def test_every_refusal_exits_1_with_its_code(af, cli, tmp_path, problem):
    key = af.create_license()
    text = af.mint_offline_file(
        key, hwids=["another-machine"] if problem == "hwid_mismatch" else None
    )
    env = offline_env(af)
    if problem == "expired":
        text, env["AUTHFORGE_PUBLIC_KEY"] = expired_file(af.app_id)
    if problem == "wrong_app":
        env["AUTHFORGE_APP_ID"] = "another-app"
    if problem == "bad_signature":
        env["AUTHFORGE_PUBLIC_KEY"] = SigningKey.generate().public_key_b64
    if problem == "bad_armor":
        text = "this is not a license\n"
    path = tmp_path / "x.authforge"
    path.write_text(text)
    code, out, _ = cli("verify-file", str(path), env=env)
    assert code == 1 and f"refused: {problem}" in out
    code, out, _ = cli("verify-file", str(path), "--json", env=env)
    assert code == 1 and json.loads(out)["code"] == problem


def test_an_unreadable_file_exits_2(af, cli, tmp_path):
    code, out, err = cli("verify-file", str(tmp_path / "missing.authforge"), env=offline_env(af))
    assert code == 2 and out == "" and "cannot read" in err


def test_request_mint_verify_round_trip(af, cli, tmp_path):
    """A customer writes a request, the vendor mints from it, the file works on that machine."""
    key = af.create_license({"tier": "pro"})
    request = tmp_path / "lab.authforge-request"
    code, out, _ = cli(
        "activation-request", "-o", str(request), "--license-key", key, env=offline_env(af)
    )
    assert code == 0 and "hostname  not included" in out and key not in out
    fields = parse_activation_request(request.read_text())
    assert fields["hwid"] == resolve_hwid(af.app_id, None) and fields["licenseKey"] == key
    assert "machineName" not in fields

    license_file = tmp_path / "lab.authforge"
    code, _, err = cli(
        "admin",
        "--db",
        af.server.db_path,
        "mint",
        "--from-request",
        str(request),
        "-o",
        str(license_file),
    )
    assert code == 0, err
    assert cli("verify-file", str(license_file), env=offline_env(af))[0] == 0


def test_the_hostname_only_when_asked(af, cli, tmp_path):
    code, out, _ = cli("activation-request", "-o", "-", "--include-hostname", env=offline_env(af))
    assert code == 0 and parse_activation_request(out).get("machineName")
    code, out, _ = cli("activation-request", "-o", "-", env=offline_env(af))
    assert "machineName" not in parse_activation_request(out)
    assert cli("activation-request", "-o", str(tmp_path / "r"))[0] == 2  # no app id
