"""Issue 25, item 4: a license file from the environment cannot turn an online program
into an offline one.

The vendor's program is pinned to ``heartbeat="online"``; the user holds an offline file
for this machine (self-activated with the app secret the environment holds) and puts it
in ``AUTHFORGE_LICENSE_FILE``. After a revocation the program must be refused, not run
"licensed (offline)": the variable counts only where the code says ``offline=True``.
"""

from __future__ import annotations

from .conftest import clean_environment, run


def offline_file_for_this_machine(vendor, key, tmp_path):
    vendor.set_offline_activation(True)
    path = tmp_path / "self-activated.authforge"
    client = vendor.client()
    assert client.activate_offline(key, str(path))
    return path


def warned_once(stderr, variable):
    lines = [line for line in stderr.splitlines() if line.startswith("WARNING")]
    return sum(variable in line for line in lines) == 1


def test_an_online_program_ignores_a_license_file_from_the_environment(
    vendor, vendor_program, tmp_path
):
    key = vendor.create_license({"tier": "pro"}, slots=1)
    path = offline_file_for_this_machine(vendor, key, tmp_path)
    vendor.revoke(key)
    env = clean_environment(tmp_path, **vendor.environ(key), AUTHFORGE_LICENSE_FILE=str(path))

    result, stderr = run(vendor_program(heartbeat="online"), env)
    assert result == {"refused": "revoked"}
    assert warned_once(stderr, "AUTHFORGE_LICENSE_FILE")


def test_a_program_that_takes_offline_files_says_so_in_code(vendor, vendor_program, tmp_path):
    key = vendor.create_license({"tier": "pro"}, slots=1)
    path = offline_file_for_this_machine(vendor, key, tmp_path)
    env = clean_environment(tmp_path, **vendor.environ(key), AUTHFORGE_LICENSE_FILE=str(path))

    result, stderr = run(vendor_program(offline=True), env)
    assert result["kind"] == "offline" and result["tier"] == "pro"
    assert "AUTHFORGE_LICENSE_FILE" not in stderr


def test_a_license_file_given_in_code_needs_no_other_setting(vendor, vendor_program, tmp_path):
    key = vendor.create_license({"tier": "pro"}, slots=1)
    path = offline_file_for_this_machine(vendor, key, tmp_path)
    env = clean_environment(tmp_path)  # nothing in the environment at all

    result, _ = run(vendor_program(license_file=str(path)), env)
    assert result["kind"] == "offline"
