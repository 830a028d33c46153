"""One login and one heartbeat per session across every instance sharing a session store.

A fleet (prefork workers on one machine with the file store, replicas on many
machines with Redis) must not pay one validate per tenant per replica. This
module is the protocol between them, independent of the Guard:

- ``obtain``: the store's verified entry if there is one; otherwise the one
  instance that takes the ``login`` lease logs in and saves the answer, and
  the others wait for that entry instead of logging in too. A lease holder
  that dies lets its lease expire and the next instance proceeds; after
  ``login_wait`` an instance logs in by itself whatever happened.
- ``check_in``: the instance holding the session's ``heartbeat`` lease (kept
  by renewing it every check) asks the server and saves the refreshed answer;
  the others read it from the store. With the store down every instance
  checks in itself, as without a store.
- ``lost``: a definitive loss is tombstoned, and ``watch`` hands other
  instances' tombstones to the code that ends the matching session.

Nothing here believes the store: every entry comes through ``load``, which
verifies it (``_stores._entry.verify_entry``).
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from ._clock import elapsed
from ._protocol import SignedSession, TrustList
from ._stores import HEARTBEAT, LOGIN, SessionStore
from ._stores._entry import key_hash

logger = logging.getLogger("authforge_guard")

LOGIN_LEASE_SECONDS = 10.0  # longer than a login with its retries usually takes
POLL_FIRST_SECONDS = 0.05
POLL_MAX_SECONDS = 0.25

OnLost = Callable[[str, str, str], None]  # (license key, hwid, code)


class Fleet:
    """The coordination above a ``SessionStore`` (see the module docstring)."""

    def __init__(
        self,
        store: SessionStore,
        trust: TrustList,
        *,
        login_lease: float = LOGIN_LEASE_SECONDS,
        login_wait: float | None = None,
    ) -> None:
        self.store = store
        self._trust = trust
        self._login_lease = login_lease
        # Long enough for a dead holder's lease to expire and another instance to log in.
        self._login_wait = login_wait if login_wait is not None else login_lease + 2.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sessions: dict[tuple[str, str], tuple[str, OnLost]] = {}
        self._watching = False
        self.logins = 0  # validates this instance made (for tests and the bench)
        self.waited = 0  # sessions this instance took from another's login

    # ----------------------------------------------------------------- login

    def obtain(self, key: str, hwid: str, login: Callable[[], SignedSession]) -> SignedSession:
        """The session for ``(key, hwid)``: stored, another instance's fresh login, or
        ``login()`` here (its errors propagate; the lease is given back)."""
        found = self.store.load(key, hwid, trust=self._trust)
        if found.session is not None:
            return found.session
        deadline = elapsed() + self._login_wait
        pause = POLL_FIRST_SECONDS
        while elapsed() < deadline and not self._stop.is_set():
            if self.store.try_lease(key, hwid, LOGIN, self._login_lease):
                try:
                    # Another instance may have saved between our load and our lease.
                    found = self.store.load(key, hwid, trust=self._trust)
                    if found.session is not None:
                        return found.session
                    return self._login(key, hwid, login)
                finally:
                    self.store.release_lease(key, hwid, LOGIN)
            self._stop.wait(pause)
            pause = min(pause * 2, POLL_MAX_SECONDS)
            found = self.store.load(key, hwid, trust=self._trust)
            if found.session is not None:
                self.waited += 1
                return found.session
        logger.warning(
            "authforge_guard: no session from the fleet after %.0f s; logging in here",
            self._login_wait,
        )
        return self._login(key, hwid, login)

    def _login(self, key: str, hwid: str, login: Callable[[], SignedSession]) -> SignedSession:
        signed = login()
        self.logins += 1
        self.store.save(key, hwid, signed)
        return signed

    # ------------------------------------------------------------- heartbeat

    def check_in(
        self,
        key: str,
        hwid: str,
        check: Callable[[], SignedSession],
        interval: float,
    ) -> SignedSession | None:
        """One heartbeat round for ``(key, hwid)`` on this instance.

        The lease holder runs ``check()`` (the server heartbeat; a loss raises
        out of it) and saves the answer; another instance returns the holder's
        latest stored answer, or ``None`` when the store has none (then the
        caller checks in itself). The lease outlives one interval a little, so
        the holder keeps it while it lives and another takes over when it dies.
        """
        if self.store.try_lease(key, hwid, HEARTBEAT, interval * 1.5):
            signed = check()
            self.store.save(key, hwid, signed)
            return signed
        found = self.store.load(key, hwid, trust=self._trust)
        return found.session

    def release(self, key: str, hwid: str) -> None:
        """This instance no longer serves ``(key, hwid)``: let another check it in."""
        self.store.release_lease(key, hwid, HEARTBEAT)
        with self._lock:
            self._sessions.pop((key_hash(key), hwid), None)

    # ---------------------------------------------------------------- losses

    def lost(self, key: str, hwid: str, code: str) -> None:
        """A definitive loss seen here: every other instance ends the session too."""
        self.store.tombstone(key, hwid, code)
        with self._lock:
            self._sessions.pop((key_hash(key), hwid), None)

    def follow(self, key: str, hwid: str, on_lost: OnLost) -> None:
        """Call ``on_lost(key, hwid, code)`` when another instance tombstones the session
        (starts the store's watcher on first use)."""
        with self._lock:
            self._sessions[(key_hash(key), hwid)] = (key, on_lost)
            start, self._watching = not self._watching, True
        if start:
            self.store.watch(self._on_tombstone)

    def _on_tombstone(self, hashed: str, hwid: str, code: str) -> None:
        with self._lock:
            followed = self._sessions.pop((hashed, hwid), None)
        if followed is None:
            return
        key, on_lost = followed
        logger.info("authforge_guard: a session ended on another instance (%s)", code)
        on_lost(key, hwid, code)

    def close(self) -> None:
        """Stop waiting and watching; the store is closed too."""
        self._stop.set()
        self.store.close()
