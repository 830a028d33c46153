"""Issue 18's environment attacks, end to end as the end user would run them: the shipped
CLI, environment variables, a second process. Each is shown working against a program
configured the old quick-start way (``before=True``) and ignored or refused by a program
that pins its trust settings in code without ``trust_environment``."""

import hashlib
import json
import subprocess
import sys

from .conftest import clean_environment, run, shipped_cli

ELSEWHERE = "machine-elsewhere"


def ignored(stderr, *variables):
    """Each variable named in exactly one WARNING line."""
    warnings = [line for line in stderr.splitlines() if line.startswith("WARNING")]
    return all(sum(variable in line for line in warnings) == 1 for variable in variables)


# ---------------------------------------------- 1. the attacker's own app and file


def test_a_swapped_app_id_and_public_key_with_a_minted_enterprise_file(
    vendor, vendor_program, tmp_path
):
    # The attacker's own "AuthForge": the admin CLI that ships in the package.
    db = str(tmp_path / "attacker.sqlite3")
    app = json.loads(shipped_cli("admin", "--db", db, "--json", "app", "create", "--name", "x"))
    key = json.loads(
        shipped_cli("admin", "--db", db, "--json", "license", "create", "--var", "tier=enterprise")
    )["license_keys"][0]
    forged = tmp_path / "enterprise.authforge"
    shipped_cli("admin", "--db", db, "mint", key, "--any-machine", "-o", str(forged))
    attack = {
        "AUTHFORGE_APP_ID": app["app_id"],
        "AUTHFORGE_PUBLIC_KEY": app["public_key"],
        "AUTHFORGE_LICENSE_FILE": str(forged),
    }
    # The vendor's program is installed with its own settings in its environment...
    installed = {
        "AUTHFORGE_APP_ID": vendor.app_id,
        "AUTHFORGE_PUBLIC_KEY": vendor.public_key,
        "AUTHFORGE_API_URL": vendor.url,
    }
    env = clean_environment(tmp_path, **{**installed, **attack})

    before, _ = run(vendor_program(before=True), env)
    assert before == {"tier": "enterprise", "kind": "offline", "enterprise": True, "online": False}

    after, stderr = run(vendor_program(offline=True), env)  # a program that takes files
    assert after == {"refused": "bad_signature"}  # checked with the vendor's key
    assert ignored(stderr, "AUTHFORGE_APP_ID", "AUTHFORGE_PUBLIC_KEY")
    assert app["app_id"] not in stderr and app["public_key"] not in stderr


def test_a_program_without_its_app_in_code_says_how_to_set_it(vendor, tmp_path):
    program = tmp_path / "unpinned.py"
    program.write_text("from authforge_guard import Guard\nGuard()\n", encoding="utf-8")
    env = clean_environment(tmp_path, **vendor.environ())
    done = subprocess.run(
        [sys.executable, str(program)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert "ConfigurationError: app_id: missing from the program's code" in last
    assert "trust_environment=True" in last and vendor.app_id not in done.stderr


# ------------------------------------------------------- 2. one seat, many machines


def test_an_hwid_override_shares_a_one_seat_license(vendor, vendor_program, tmp_path):
    key = vendor.create_license({"tier": "pro"}, slots=1)
    elsewhere = vendor.client(hwid_override=ELSEWHERE)
    assert elsewhere.login(key)  # the seat belongs to the machine that bought it
    elsewhere.logout()
    env = clean_environment(tmp_path, **vendor.environ(key), AUTHFORGE_HWID_OVERRIDE=ELSEWHERE)

    before, _ = run(vendor_program(before=True), env)
    assert before["tier"] == "pro"  # this machine rode on the other's seat

    after, stderr = run(vendor_program(), env)
    assert after == {"refused": "hwid_mismatch"}
    assert ignored(stderr, "AUTHFORGE_HWID_OVERRIDE") and ELSEWHERE not in stderr


def test_an_hwid_override_moves_an_offline_file_to_another_machine(
    vendor, vendor_program, tmp_path
):
    key = vendor.create_license({"tier": "enterprise"})
    hwid = vendor.client(hwid_override=ELSEWHERE).get_hwid()
    path = tmp_path / "bound.authforge"
    path.write_text(vendor.mint_offline_file(key, hwids=[hwid]), encoding="utf-8")
    # The HWID is in the file's payload for anyone to read; the attacker copies it.
    env = clean_environment(
        tmp_path, **vendor.environ(), AUTHFORGE_LICENSE_FILE=str(path), AUTHFORGE_HWID_OVERRIDE=hwid
    )

    before, _ = run(vendor_program(before=True), env)
    assert before["kind"] == "offline" and before["enterprise"]

    after, stderr = run(vendor_program(offline=True), env)
    assert after == {"refused": "hwid_mismatch"}
    assert ignored(stderr, "AUTHFORGE_HWID_OVERRIDE")


def test_a_copied_cache_entry_and_an_override_keep_a_revoked_license(
    vendor, vendor_program, tmp_path
):
    cache = tmp_path / "sessions"
    key = vendor.create_license({"tier": "pro"})
    # The session cache of the machine that holds the license, copied here.
    there = vendor.guard(license_key=key, hwid_override=ELSEWHERE, session_cache=str(cache))
    there.ensure()
    there.logout()
    vendor.revoke(key)
    env = clean_environment(tmp_path, **vendor.environ(key), AUTHFORGE_HWID_OVERRIDE=ELSEWHERE)
    validates = vendor.stats()["licenses"][key]["validates"]

    before, _ = run(vendor_program(before=True, session_cache=str(cache)), env)
    assert before["tier"] == "pro"  # revoked, and still running
    assert vendor.stats()["licenses"][key]["validates"] == validates  # not even asked

    after, stderr = run(vendor_program(session_cache=str(cache)), env)
    assert after == {"refused": "revoked"}
    assert ignored(stderr, "AUTHFORGE_HWID_OVERRIDE")


# --------------------------------------------- 3. switching online checking off


def test_grace_and_a_session_cache_from_the_environment_do_not_weaken_an_online_program(
    vendor, vendor_program, tmp_path
):
    key = vendor.create_license({"tier": "pro"})
    vendor_env = {**vendor.environ(key), "AUTHFORGE_HEARTBEAT": "online"}
    attack = {"AUTHFORGE_HEARTBEAT": "grace", "AUTHFORGE_SESSION_CACHE": "1"}
    env = clean_environment(tmp_path, **{**vendor_env, **attack})

    # Before: the first run stores a session; after the revocation the next runs resume
    # it in grace mode, with no network at all.
    before = vendor_program(before=True)
    assert run(before, env)[0] == {
        "tier": "pro",
        "kind": "online",
        "enterprise": False,
        "online": False,
    }
    vendor.revoke(key)
    assert run(before, env)[0]["tier"] == "pro"
    assert run(before, env)[0]["tier"] == "pro"
    counts = vendor.stats()["licenses"][key]
    assert (counts["validates"], counts["heartbeats"]) == (1, 0)

    # After: the vendor's online program, same environment, a new license.
    key = vendor.create_license({"tier": "pro"})
    env = clean_environment(tmp_path, **{**vendor.environ(key), **attack})
    program = vendor_program(heartbeat="online", heartbeat_interval=0.2, wait=True)
    child = subprocess.Popen(
        [sys.executable, str(program)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = json.loads(child.stdout.readline())
        assert first == {"tier": "pro", "kind": "online", "enterprise": False, "online": True}
        vendor.revoke(key)  # seen by the next online heartbeat, in the blocked program
        last = json.loads(child.stdout.readline())
        stderr = child.communicate(timeout=60)[1]
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert last == {"lost": "revoked"}
    assert ignored(stderr, "AUTHFORGE_HEARTBEAT", "AUTHFORGE_SESSION_CACHE")
    # And no session was kept to resume: the next start asks the server and is refused.
    assert run(program, env, stdin="\n")[0] == {"refused": "revoked"}
    digest = hashlib.sha256(key.encode()).hexdigest()
    assert list((tmp_path / "xdg-cache").rglob(f"*{digest}.session")) == []


def test_the_environment_may_still_make_checking_stricter(vendor, vendor_program, tmp_path):
    key = vendor.create_license({"tier": "pro"})
    env = clean_environment(tmp_path, **vendor.environ(key), AUTHFORGE_HEARTBEAT="online")
    after, stderr = run(vendor_program(), env)  # the vendor left the mode at its default
    assert after["online"] and "WARNING" not in stderr
