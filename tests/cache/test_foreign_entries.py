"""Entries that are genuine but not ours (another machine, another license) are never resumed."""

import logging
import shutil

from .conftest import counts, the_entry


def test_an_entry_copied_from_another_machine_is_ignored(af, make_guard, tmp_path, caplog):
    key = af.create_license({"tier": "pro"}, slots=2)
    here, there = tmp_path / "here", tmp_path / "there"
    make_guard(heartbeat="grace", hwid_override="machine-b", session_cache=str(there)).ensure(key)
    here.mkdir()
    guard = make_guard(heartbeat="grace", hwid_override="machine-a", session_cache=str(here))
    # Entries are named by the HWID too: the copy is renamed to this machine's name.
    shutil.copy(the_entry(there), guard._fleet.store.path_for(key, "machine-a"))

    with caplog.at_level(logging.INFO, logger="authforge_guard"):
        assert guard.ensure(key).tier == "pro"

    assert "not resuming a cached session: issued to another machine" in caplog.text
    assert counts(af, key) == (2, 0)


def test_another_licenses_entry_under_this_keys_name_is_ignored(af, make_guard, cache_dir, caplog):
    mine, theirs = af.create_license({"tier": "free"}), af.create_license({"tier": "enterprise"})
    guard = make_guard(heartbeat="grace", session_cache=str(cache_dir))
    guard.ensure(theirs)
    guard.logout()
    entry = the_entry(cache_dir)
    entry.rename(guard._fleet.store.path_for(mine, "test-machine"))

    with caplog.at_level(logging.INFO, logger="authforge_guard"):
        assert (
            make_guard(heartbeat="grace", session_cache=str(cache_dir)).ensure(mine).tier == "free"
        )

    assert "issued for another license key" in caplog.text
    assert counts(af, mine) == (1, 0)
