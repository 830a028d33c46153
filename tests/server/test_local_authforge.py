"""``LocalAuthForge``: the throwaway server users put in their own tests."""

import os
import threading

import pytest

from authforge_guard.testing import LocalAuthForge

from .wire import Wire


def test_context_manager_serves_and_cleans_up_its_temporary_database():
    with LocalAuthForge() as af:
        db_path = af.server.db_path
        assert os.path.exists(db_path)
        assert af.url.startswith("http://127.0.0.1:")
        key = af.create_license()
        with Wire.to(af) as wire:
            assert wire.validate(key).status == 200
    assert not os.path.exists(os.path.dirname(db_path))
    assert not any(t.name.startswith("authforge-server") for t in threading.enumerate())


def test_explicit_start_and_stop_and_a_kept_database(tmp_path):
    path = tmp_path / "kept.sqlite3"
    af = LocalAuthForge(db_path=path, credits=10).start()
    try:
        app_id, secret = af.app_id, af.app_secret
        key = af.create_license({"tier": "pro"})
    finally:
        af.stop()
        af.stop()  # twice is fine
    assert path.exists()
    with LocalAuthForge(db_path=path) as again:  # the same app comes back
        assert (again.app_id, again.app_secret) == (app_id, secret)
        assert again.license_info(key)["variables"] == {"tier": "pro"}
        assert again.server.admin.credits(app_id)["credits"] == 10


def test_secrets_stay_out_of_repr():
    with LocalAuthForge() as af:
        key = af.create_license()
        second = af.create_app()
        texts = [repr(af), repr(af.server), repr(second)]
        for text in texts:
            assert af.app_secret not in text and second.app_secret not in text
            assert key not in text
    assert repr(af) == "LocalAuthForge(stopped)"


def test_using_it_before_start_says_so():
    af = LocalAuthForge()
    with pytest.raises(RuntimeError, match="not started"):
        af.url


def test_stop_closes_kept_alive_connections():
    af = LocalAuthForge().start()
    wire = Wire.to(af)
    assert wire.validate(af.create_license()).status == 200
    af.stop()  # returns although the client keeps its connection open
    wire.close()


def test_expires_at_takes_epoch_datetime_and_iso(af):
    from datetime import datetime, timezone

    moment = datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    for value in (moment.timestamp(), moment, moment.replace(tzinfo=None), "2031-05-06T07:08:09Z"):
        key = af.create_license(expires_at=value)
        assert af.license_info(key)["expires_at"] == "2031-05-06T07:08:09.000Z"
    with pytest.raises(ValueError):
        af.create_license(expires_at="next tuesday")
    with pytest.raises(ValueError):
        af.create_license(slots=-1)


def test_client_builds_our_client_for_this_server(af):
    pytest.importorskip(
        "authforge_guard._client._dropin", reason="AuthForgeClient lands with the client"
    )
    key = af.create_license({"tier": "pro"})
    client = af.client(hwid_override="machine-1")
    try:
        assert client.login(key)
        assert client.get_license_variables() == {"tier": "pro"}
    finally:
        client.logout()


def test_guard_builds_a_guard_for_this_server(af):
    pytest.importorskip(
        "authforge_guard._guard._facade", reason="Guard lands with the integration issue"
    )
    key = af.create_license({"tier": "pro"})
    guard = af.guard(license_key=key, hwid_override="machine-1")
    try:
        assert guard.ensure().license_variables == {"tier": "pro"}
    finally:
        guard.logout()


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_new_database_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "secret.sqlite3"
    with LocalAuthForge(db_path=path):
        pass
    assert path.stat().st_mode & 0o077 == 0
