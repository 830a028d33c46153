"""``authforge-guard activate KEY`` / ``deactivate``: a customer stores their key once."""

import os
import stat

import pytest

from authforge_guard import ConfigurationError, LicenseError, activate, deactivate
from authforge_guard._guard._keystore import key_path, load_key

from .conftest import run_module


@pytest.fixture
def config_home(tmp_path, monkeypatch):
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


def test_activate_checks_then_stores_the_key_for_this_user_only(af, cli, config_home):
    key = af.create_license({"tier": "pro"})
    code, out, err = cli("activate", key, "--hwid-override", "m1", env=af.environ())
    assert (code, err) == (0, "")
    path = config_home / "authforge" / af.app_id / "license-key"
    assert out.splitlines() == [
        f"Activated: license {out.split()[2]} (tier pro).",
        f"Stored in {path}",
    ]
    assert key not in out  # masked
    assert path.read_text() == key + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert af.stats()["licenses"][key]["validates"] == 1

    # A program with no key configured now runs on the stored one.
    guard = af.guard(hwid_override="m1")
    try:
        assert guard.ensure().tier == "pro"
    finally:
        guard.logout()

    code, out, err = cli("deactivate", env=af.environ())
    assert (code, out) == (0, "Deactivated: the stored license key was removed.\n")
    assert not path.exists()
    assert cli("deactivate", env=af.environ())[1] == "No license key was stored.\n"
    guard = af.guard(hwid_override="m1")
    with pytest.raises(ConfigurationError) as info:
        guard.ensure()
    assert info.value.argument == "license_key"


def test_a_refused_key_is_not_stored(af, cli, config_home):
    key = af.create_license()
    af.revoke(key)
    code, out, err = cli("activate", key, env=af.environ())
    assert (code, out) == (1, "")
    assert err == "This license was revoked.\nPlease contact the vendor of this program.\n"
    assert key not in err
    code, out, err = cli("activate", "NOT-A-KEY", env=af.environ())
    assert code == 1 and err.startswith("This license key is not valid.\n")
    assert not (config_home / "authforge" / af.app_id / "license-key").exists()
    assert load_key(af.app_id) is None


def test_a_refusal_names_the_support_hint(af, cli, config_home):
    # Issue 22: the vendor's support hint reaches activate's refusals too.
    key = af.create_license()
    af.revoke(key)
    code, _, err = cli("activate", key, "--support-hint", "help@vendor.example", env=af.environ())
    assert code == 1
    assert err == "This license was revoked.\nPlease contact help@vendor.example.\n"
    guard = af.guard(support_hint="help@vendor.example", hwid_override="m1")
    with pytest.raises(LicenseError) as info:
        activate(key, guard=guard)
    assert "contact help@vendor.example" in info.value.user_message


def test_activate_without_an_answer_exits_3(af, cli, config_home):
    env = {
        **af.environ(),
        "AUTHFORGE_API_URL": "http://127.0.0.1:9",
        "AUTHFORGE_REQUEST_TIMEOUT": "2",
    }
    code, out, err = cli("activate", "SOME-KEY", env=env)
    assert code == 3
    assert err.startswith("Could not reach the license server to check your license (")


def test_activate_as_a_command_and_the_environment_still_wins(af, config_home, tmp_path):
    stored, configured = af.create_license({"tier": "pro"}), af.create_license({"tier": "free"})
    env = {**af.environ(), "XDG_CONFIG_HOME": str(config_home)}
    result = run_module("activate", stored, env=env)
    assert result.returncode == 0, result.stderr
    guard = af.guard(license_key=configured, hwid_override="m2")
    try:
        assert guard.ensure().tier == "free"  # the vendor's or the environment's key first
    finally:
        guard.logout()


def test_the_api_an_app_offers_as_its_own_activate_command(af, config_home):
    guard = af.guard(hwid_override="m3")
    key = af.create_license({"tier": "enterprise"})
    try:
        session = activate(key, guard=guard)
        assert session.tier == "enterprise" and guard.session is session
        assert load_key(af.app_id) == key
        assert key_path(af.app_id) == str(config_home / "authforge" / af.app_id / "license-key")
        assert deactivate(guard=guard) is True
        assert guard.session is None and load_key(af.app_id) is None
        with pytest.raises(TypeError, match=r"activate\(guard=\.\.\.\) takes a Guard"):
            activate(key, guard="not a guard")  # type: ignore[arg-type]
    finally:
        guard.logout()


def test_a_stored_file_that_is_not_a_key_is_ignored(af, config_home):
    path = config_home / "authforge" / af.app_id / "license-key"
    os.makedirs(path.parent)
    path.write_bytes(b"two words\n")
    assert load_key(af.app_id) is None
