"""``authforge-guard server`` and ``authforge-guard admin``, as an operator uses them."""

import json
import os
import signal
import sqlite3
import subprocess
import sys

import authforge
import pytest

from authforge_guard._protocol import format_activation_request, key_id_for, verify_license_file
from authforge_guard.cli import main
from authforge_guard.server import Admin


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "local.sqlite3")


def admin(capsys, db, *args):
    """Run ``admin --db DB --json ARGS``; returns (exit code, parsed JSON or text, stderr)."""
    code = main(["admin", "--db", db, "--json", *args])
    out, err = capsys.readouterr()
    try:
        return code, json.loads(out), err
    except ValueError:
        return code, out, err


def admin_text(capsys, db, *args):
    code = main(["admin", "--db", db, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_apps_licenses_and_credits(capsys, db):
    code, app, _ = admin(capsys, db, "app", "create", "--name", "shop", "--credits", "50")
    assert code == 0 and set(app) == {"app_id", "app_secret", "public_key"}
    code, created, _ = admin(
        capsys,
        db,
        "license",
        "create",
        "--var",
        "tier=pro",
        "--vars-json",
        '{"seats": 5}',
        "--slots",
        "3",
        "--expires",
        "2031-01-01",
        "--label",
        "Alice",
        "--count",
        "2",
    )
    assert code == 0 and len(created["license_keys"]) == 2
    key = created["license_keys"][0]
    code, shown, _ = admin(capsys, db, "license", "show", key)
    assert shown["variables"] == {"tier": "pro", "seats": 5}
    assert shown["slots"] == 3 and shown["label"] == "Alice"
    assert shown["expires_at"] == "2031-01-01T00:00:00.000Z"
    assert [lic["license_key"] for lic in admin(capsys, db, "license", "list")[1]] == created[
        "license_keys"
    ]
    assert admin(capsys, db, "license", "set-variables", key, "--var", "tier=max")[1][
        "variables"
    ] == {"tier": "max"}
    assert admin(capsys, db, "license", "revoke", key)[1]["revoked"] is True
    assert admin(capsys, db, "license", "reset-hwids", key)[1]["hwids_freed"] == 0
    assert admin(capsys, db, "credits", "show")[1]["credits"] == 50
    assert admin(capsys, db, "credits", "set", "unlimited")[1]["credits"] is None
    assert admin(capsys, db, "app", "disable")[1]["disabled"] is True
    assert admin(capsys, db, "app", "enable")[1]["disabled"] is False
    assert admin(capsys, db, "app", "offline-activation", "on")[1]["offline_activation"] is True
    rotated = admin(capsys, db, "app", "rotate-key")[1]
    assert rotated["public_keys"] == [rotated["public_key"], app["public_key"]]
    back = admin(capsys, db, "app", "activate-key", key_id_for(app["public_key"]))[1]
    assert back["public_keys"] == [app["public_key"], rotated["public_key"]]
    assert admin(capsys, db, "app", "show")[1]["key_id"] == key_id_for(app["public_key"])
    assert admin_text(capsys, db, "app", "activate-key", "k_nope")[0] == 1
    assert admin(capsys, db, "app", "set-variables", "--var", "motd=hi")[1]["variables"] == {
        "motd": "hi"
    }


def test_the_secret_is_shown_only_when_asked(capsys, db):
    secret = admin(capsys, db, "app", "create")[1]["app_secret"]
    code, text, _ = admin_text(capsys, db, "app", "show")
    assert code == 0 and "public key" in text and secret not in text
    assert secret not in admin_text(capsys, db, "app", "list")[1]
    assert admin(capsys, db, "app", "show", "--reveal-secret")[1]["app_secret"] == secret
    assert secret in admin_text(capsys, db, "app", "show", "--reveal-secret")[1]


def test_exit_codes(capsys, db, tmp_path):
    assert admin_text(capsys, db, "license", "list")[0] == 2  # no database yet
    admin(capsys, db, "app", "create")
    code, _, err = admin_text(capsys, db, "license", "show", "NOPE-NOPE-NOPE-NOPE")
    assert code == 1 and "no such license" in err
    assert admin_text(capsys, db, "license", "create", "--expires", "soonish")[0] == 2
    assert admin_text(capsys, db, "license", "create", "--vars-json", "[1]")[0] == 2
    assert admin_text(capsys, db, "license", "create", "--var", "novalue")[0] == 2
    admin(capsys, db, "app", "create")  # a second app: --app is needed now
    code, _, err = admin_text(capsys, db, "license", "create")
    assert code == 1 and "--app" in err
    with pytest.raises(SystemExit) as info:
        main(["admin", "--db", db, "mint", "KEY"])  # no --hwid/--any-machine/--from-request
    assert info.value.code == 2


def test_mint_for_machines_any_machine_and_an_activation_request(capsys, db, tmp_path):
    app = admin(capsys, db, "app", "create")[1]
    key = admin(capsys, db, "license", "create", "--var", "tier=pro")[1]["license_keys"][0]
    out = tmp_path / "bound.authforge"
    code, result, _ = admin(
        capsys,
        db,
        "mint",
        key,
        "--hwid",
        "box-1",
        "--hwid",
        "box-2",
        "-o",
        str(out),
        "--label",
        "Lab",
    )
    assert code == 0 and result["output"] == str(out)
    check = verify_license_file(out.read_text(), app["app_id"], app["public_key"], "box-2")
    assert check["ok"] and check["license"]["label"] == "Lab"

    code, text, _ = admin_text(capsys, db, "mint", key, "--any-machine", "--expires", "2035-01-01")
    assert code == 0 and text.startswith("-----BEGIN AUTHFORGE LICENSE-----")
    assert verify_license_file(text, app["app_id"], app["public_key"])["license"][
        "expires_at"
    ].startswith("2035")

    request = tmp_path / "box.authforge-request"
    request.write_text(
        format_activation_request(
            app_id=app["app_id"],
            hwid="air-gapped-box",
            created_at="2030-01-01T00:00:00.000Z",
            license_key=key,
        )
    )
    code, text, _ = admin_text(capsys, db, "mint", "--from-request", str(request))
    assert code == 0
    assert verify_license_file(text, app["app_id"], app["public_key"], "air-gapped-box")["ok"]

    other = admin(capsys, db, "app", "create")[1]
    request.write_text(
        format_activation_request(
            app_id=other["app_id"], hwid="h", created_at="2030-01-01T00:00:00.000Z"
        )
    )
    code, _, err = admin_text(capsys, db, "mint", key, "--from-request", str(request))
    assert code == 1 and "another app" in err
    request.write_text("not a request")
    assert admin_text(capsys, db, "mint", key, "--from-request", str(request))[0] == 2


def test_sdk_activation_request_round_trip(capsys, db):
    app = admin(capsys, db, "app", "create")[1]
    key = admin(capsys, db, "license", "create")[1]["license_keys"][0]
    client = authforge.AuthForgeClient(
        app["app_id"], None, app["public_key"], hwid_override="sdk-box"
    )
    path = os.path.join(os.path.dirname(db), "sdk.authforge-request")
    client.write_activation_request(path, license_key=key)
    out = os.path.join(os.path.dirname(db), "sdk.authforge")
    assert admin(capsys, db, "mint", "--from-request", path, "-o", out)[0] == 0
    assert client.login_from_file(out) is True


# --- the server in a real process -------------------------------------------------


def start_server(db, *extra):
    process = subprocess.Popen(
        [sys.executable, "-m", "authforge_guard", "server", "--db", db, "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    while not lines or not lines[-1].startswith("press Ctrl-C"):
        line = process.stdout.readline()
        assert line, process.stderr.read()
        lines.append(line.strip())
    url = lines[0].rsplit(" ", 1)[1]
    return process, url, lines


def sdk(url, app, hwid="box"):
    return authforge.AuthForgeClient(
        app["app_id"],
        app["app_secret"],
        app["public_key"],
        api_base_url=url,
        hwid_override=hwid,
        on_failure=lambda reason, exc: None,
    )


def test_server_survives_sigkill_without_losing_anything(capsys, db):
    process, url, lines = start_server(db)
    try:
        assert lines[1].endswith("(new)")
        info = admin(capsys, db, "app", "show", "--reveal-secret")[1]
        keys = admin(capsys, db, "license", "create", "--count", "5")[1]["license_keys"]
        admin(capsys, db, "license", "revoke", keys[0])
        client = sdk(url, info)
        for key in keys[1:]:
            assert client.validate_license(key)["valid"]
        assert client.login(keys[1])
        client.self_ban(blacklist_hwid=False, blacklist_ip=False)  # the server revokes keys[1]
        client.logout()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    reopened = Admin.open(db)
    try:
        listed = {lic["license_key"]: lic for lic in reopened.list_licenses(info["app_id"])}
        assert sorted(listed) == sorted(keys)
        assert [listed[k]["revoked"] for k in keys] == [True, True, False, False, False]
        assert [listed[k]["validates"] for k in keys] == [0, 2, 1, 1, 1]
        assert listed[keys[2]]["hwids"] == ["box"]
    finally:
        reopened.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_server_stops_cleanly_on_sigterm_and_hides_the_secret(capsys, db):
    process, url, lines = start_server(db)
    secret = admin(capsys, db, "app", "show", "--reveal-secret")[1]["app_secret"]
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "stopped; database closed" in out
    assert secret not in "\n".join(lines) + out + err
    assert lines[0] == f"AuthForge local server listening on {url}"

    process, _, lines = start_server(db, "--show-credentials")
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=10)
    assert process.returncode == 0
    assert f"app secret: {secret}" in lines and not lines[1].endswith("(new)")


def test_server_refuses_a_taken_port(db):
    process, url, _ = start_server(db)
    try:
        port = url.rsplit(":", 1)[1]
        taken = subprocess.run(
            [sys.executable, "-m", "authforge_guard", "server", "--db", db, "--port", port],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert taken.returncode == 2 and "cannot listen" in taken.stderr
    finally:
        process.terminate()
        process.communicate(timeout=10)
