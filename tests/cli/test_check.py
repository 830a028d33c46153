"""``authforge-guard check``: validate with the settings a Guard would use."""

import json
import socket

from authforge_guard._guard._session import mask_key


def test_a_valid_license_shows_tier_variables_expiry_and_seats(af, cli):
    key = af.create_license(
        {"tier": "pro", "seats": 5}, slots=3, label="Alice", expires_at="2031-01-01T00:00:00Z"
    )
    code, out, err = cli("check", key, env=af.environ())
    assert code == 0, err
    assert f"{mask_key(key)}  valid" in out
    assert "pro (grants: free, pro, seats)" in out
    assert '{"tier": "pro", "seats": 5}' in out
    assert "2031-01-01T00:00:00.000Z" in out
    assert "1 of 3 machines in use" in out and "Alice" in out
    assert key not in out and af.app_secret not in out


def test_json_for_scripts(af, cli):
    key = af.create_license({"tier": "enterprise"}, slots=None)
    code, out, _ = cli("check", "--json", env=af.environ(key))
    result = json.loads(out)
    assert code == 0
    assert result["valid"] is True and result["kind"] == "online"
    assert result["license_key"] == mask_key(key)
    assert result["tier"] == "enterprise" and result["features"] == ["enterprise", "free", "pro"]
    assert result["license_expires_at"] is None  # a perpetual license
    assert result["seats"] == {"used": 1, "max": None}
    assert key not in out and af.app_secret not in out and "session_token" not in out


def test_refusals_exit_1_with_the_code(af, cli):
    key = af.create_license()
    env = {**af.environ(), "AUTHFORGE_HWID_OVERRIDE": "machine-a"}
    assert cli("check", key, env=env)[0] == 0
    code, out, _ = cli("check", key, env=dict(env, AUTHFORGE_HWID_OVERRIDE="machine-b"))
    assert (code, out) == (1, f"{mask_key(key)}  refused: hwid_mismatch\n")
    af.revoke(key)
    code, out, _ = cli("check", key, "--json", env=env)
    assert code == 1 and json.loads(out) == {
        "valid": False,
        "license_key": mask_key(key),
        "code": "revoked",
    }
    assert cli("check", "NOPE-NOPE-NOPE-NOPE", env=env)[:2] == (
        1,
        "NO…NOPE  refused: invalid_key\n",
    )


def test_no_answer_from_the_server_exits_3(af, cli):
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    key = af.create_license()
    nobody = {**af.environ(), "AUTHFORGE_API_URL": f"http://127.0.0.1:{port}"}
    code, out, err = cli("check", key, env=nobody)
    assert code == 3, err
    assert out.startswith(f"{mask_key(key)}  could not check: network_error (no answer from")


def test_configuration_errors_are_one_line_and_exit_2(af, cli):
    key = af.create_license()
    env = af.environ()
    cases = [
        ({"AUTHFORGE_PUBLIC_KEY": ""}, "public_key: missing", "AUTHFORGE_PUBLIC_KEY"),
        ({"AUTHFORGE_APP_SECRET": ""}, "app_secret: missing", "AUTHFORGE_APP_SECRET"),
        (
            {"AUTHFORGE_HEARTBEAT": "sometimes"},
            "heartbeat: must be 'online' or 'grace'",
            "AUTHFORGE_HEARTBEAT",
        ),
        ({"AUTHFORGE_API_URL": "http://example.com"}, "refusing plain http", ""),
    ]
    for override, message, variable in cases:
        code, out, err = cli("check", key, env=dict(env, **override))
        assert code == 2 and out == ""
        assert err.startswith("error: ") and message in err and variable in err
        assert err.count("\n") == 1 and "Traceback" not in err
    assert cli("check", env=env)[0] == 2  # no key anywhere


def test_an_offline_file_from_the_environment(af, cli, tmp_path):
    key = af.create_license({"tier": "pro"})
    path = tmp_path / "app.authforge"
    path.write_text(af.mint_offline_file(key))
    env = {**af.environ(), "AUTHFORGE_LICENSE_FILE": str(path), "AUTHFORGE_APP_SECRET": ""}
    code, out, _ = cli("check", env=env)
    assert code == 0 and "valid on this machine" in out and "pro (grants: free, pro)" in out
