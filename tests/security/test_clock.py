"""Setting the clock back before an offline file was issued does not make it valid
(``issued_in_future``); a few minutes of ordinary skew do not matter."""

import time

import pytest

from authforge_guard import verify_license_file
from authforge_guard._protocol._license_file import MAX_CLOCK_SKEW_SECONDS, OFFLINE_LICENSE_ERRORS

from .conftest import clean_environment, fake_clock, run, with_pythonpath

DAY = 86400.0


def test_the_code_is_one_of_the_file_codes_and_comes_before_expired():
    assert OFFLINE_LICENSE_ERRORS.index("issued_in_future") == (
        OFFLINE_LICENSE_ERRORS.index("expired") - 1
    )


@pytest.mark.parametrize(
    ("shift", "verdict"),
    [
        (-2 * DAY, "issued_in_future"),
        (-(MAX_CLOCK_SKEW_SECONDS + 60), "issued_in_future"),
        (-(MAX_CLOCK_SKEW_SECONDS - 60), None),
        (30 * DAY, None),
    ],
)
def test_verify_license_file_against_a_moved_clock(af, shift, verdict):
    key = af.create_license()
    text = af.mint_offline_file(key)
    result = verify_license_file(text, af.app_id, af.public_key, now=time.time() + shift)
    assert result.get("error") == verdict and result["ok"] is (verdict is None)


def test_a_program_on_a_clock_set_back_refuses_the_file(vendor, vendor_program, tmp_path):
    """The user sets the machine's clock two days back: the vendor's program refuses the
    file, end to end (the clock of the child process, as ``date -s`` would set it)."""
    key = vendor.create_license({"tier": "pro"}, expires_at=time.time() + 3 * DAY)
    path = tmp_path / "app.authforge"
    path.write_text(vendor.mint_offline_file(key), encoding="utf-8")
    env = clean_environment(tmp_path, AUTHFORGE_LICENSE_FILE=str(path))
    program = vendor_program(offline=True)

    assert run(program, env)[0]["kind"] == "offline"
    set_back = with_pythonpath(env, fake_clock(tmp_path, -2 * DAY))
    assert run(program, set_back)[0] == {"refused": "issued_in_future"}
