"""The session cache as the Guard called it before the store seam (``_stores``).

A thin adapter kept while the Guard still calls ``SessionCache.from_setting``,
``load(key, trust=, hwid=)``, ``store(key, signed)`` and ``forget(key)``: each
call goes to a ``SessionStore`` (the file store, or Redis for a ``redis://``
setting), which keys entries by ``(key, hwid)`` and verifies them
(``_stores._entry.verify_entry``). Remove it once the Guard uses the seam.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from ._protocol import SignedSession, TrustList
from ._stores import SessionStore, store_from_setting
from ._stores._entry import FORMAT, MAX_CLOCK_SKEW_SECONDS, MIN_REMAINING_SECONDS, NO_ENTRY, Found
from ._stores._file import MAX_FILE_BYTES, FileStore, default_cache_root

Lookup = Found

__all__ = [
    "FORMAT",
    "MAX_CLOCK_SKEW_SECONDS",
    "MAX_FILE_BYTES",
    "MIN_REMAINING_SECONDS",
    "NO_ENTRY",
    "Lookup",
    "SessionCache",
    "default_cache_root",
]


class SessionCache:
    """The pre-seam calls over a ``SessionStore``: the HWID of ``store``/``forget`` is the
    one the session was signed for, or the one last loaded for that key."""

    def __init__(self, store: SessionStore | str, app_id: str | None = None) -> None:
        if isinstance(store, str):  # SessionCache(directory, app_id), as before
            if app_id is None:
                raise TypeError("SessionCache(directory, app_id) needs the app id")
            store = FileStore(store, app_id)
        self.backend: SessionStore = store
        self._hwids: dict[str, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_setting(
        cls,
        setting: bool | str,
        app_id: str,
        environ: Mapping[str, str] | None = None,
    ) -> SessionCache | None:
        """The cache a ``session_cache`` setting asks for (see ``store_from_setting``)."""
        store = store_from_setting(setting, app_id, environ)
        return cls(store) if store is not None else None

    @property
    def directory(self) -> str | None:
        return getattr(self.backend, "directory", None)

    def __repr__(self) -> str:
        return f"SessionCache({self.backend!r})"

    def path_for(self, license_key: str, hwid: str) -> str:
        """The file of ``(license_key, hwid)`` (file stores only)."""
        path_for: Any = getattr(self.backend, "path_for")  # noqa: B009
        return str(path_for(license_key, hwid))

    def load(self, license_key: str, *, trust: TrustList, hwid: str) -> Found:
        with self._lock:
            self._hwids[license_key] = hwid
        lookup = getattr(self.backend, "lookup", None)  # the Guard logs the refusal itself
        if lookup is not None:
            found: Found = lookup(license_key, hwid, trust=trust)
            return found
        return self.backend.load(license_key, hwid, trust=trust)

    def store(self, license_key: str, signed: SignedSession) -> bool:
        hwid = signed.token_body.get("hwid")
        if not isinstance(hwid, str):
            with self._lock:
                hwid = self._hwids.get(license_key)
        if not isinstance(hwid, str):
            return False
        with self._lock:
            self._hwids[license_key] = hwid
        save_entry = getattr(self.backend, "save_entry", None)
        if save_entry is not None:
            return bool(save_entry(license_key, hwid, signed))
        self.backend.save(license_key, hwid, signed)
        return True

    def forget(self, license_key: str) -> None:
        with self._lock:
            hwid = self._hwids.get(license_key)
        forget_key = getattr(self.backend, "forget_key", None)
        if forget_key is not None:
            forget_key(license_key)
        elif hwid is not None:
            self.backend.forget(license_key, hwid)
