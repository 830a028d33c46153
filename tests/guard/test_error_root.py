"""One root for every error the package raises (issue 26): ``except AuthForgeGuardError``
catches a bad setting, a refused license and a closed gate alike, the SDK's errors stay
``ValueError``s, and a refusal keeps the failure that caused it."""

import pickle

import pytest

from authforge_guard import (
    AuthForgeError,
    AuthForgeGuardError,
    ConfigurationError,
    FeatureNotLicensed,
    Guard,
    LicenseError,
    LicenseLost,
    feature,
    licensed,
)


def test_every_public_error_is_under_the_root_and_the_sdks_stay_value_errors():
    for error in (
        AuthForgeError,
        ConfigurationError,
        LicenseError,
        LicenseLost,
        FeatureNotLicensed,
    ):
        assert issubclass(error, AuthForgeGuardError)
    assert issubclass(AuthForgeError, ValueError) and issubclass(ConfigurationError, ValueError)
    assert issubclass(LicenseLost, LicenseError) and issubclass(FeatureNotLicensed, LicenseError)


def test_the_root_catches_what_a_program_meets(af, make_guard, tmp_path):
    caught = []

    def attempt(call):
        try:
            call()
        except AuthForgeGuardError as exc:
            caught.append(type(exc))

    attempt(lambda: Guard(app_id="a", public_key="not a key"))  # a bad setting
    attempt(lambda: make_guard(license_key="NOT-A-REAL-KEY").ensure())  # a refused key
    guard = make_guard(license_key=af.create_license({"tier": "free"}))
    attempt(feature("enterprise", guard=guard)(lambda: None))  # a gate
    assert caught == [ConfigurationError, LicenseError, FeatureNotLicensed]


def test_a_refused_license_file_keeps_its_cause(af, make_guard, tmp_path):
    key = af.create_license()
    path = tmp_path / "other.authforge"
    path.write_text(af.mint_offline_file(key, hwids=["another-machine"]))
    guard = Guard(app_id=af.app_id, public_key=af.public_key, license_file=str(path))
    with pytest.raises(LicenseError) as info:
        with licensed(guard=guard):
            pass
    assert info.value.code == "hwid_mismatch"
    assert isinstance(info.value.__cause__, AuthForgeError)
    assert info.value.__cause__.code == "hwid_mismatch"


def test_errors_under_the_root_still_pickle():
    for error in (LicenseLost("revoked"), FeatureNotLicensed("pro", "free"), AuthForgeError("x")):
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error) and str(again) == str(error)
