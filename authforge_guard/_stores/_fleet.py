"""One login and one heartbeat per session across every instance sharing a session store.

A fleet (prefork workers on one machine with the file store, replicas on many
machines with Redis) must not pay one validate per tenant per replica. This
module is the protocol between them; the Guard calls it at four points (login,
check, loss, logout) and knows nothing of leases or tombstones:

- ``obtain``: the store's verified entry if there is one (in online mode
  confirmed by one heartbeat, as a restart after a revocation must be);
  otherwise the one instance that takes the ``login`` lease logs in and saves
  the answer, and the others wait for that entry instead of logging in too. A
  lease holder that dies lets its lease expire and the next instance proceeds;
  after ``login_wait`` an instance logs in by itself whatever happened.
- ``check_in``: the instance holding the session's ``heartbeat`` lease (kept
  by renewing it every check) asks the server and saves the refreshed answer;
  the others read it from the store, and check in themselves only when the
  store has nothing. With the store down every instance checks in itself, as
  without a store.
- ``lost``, and a login or confirmation refused for good: a definitive verdict
  (revoked, expired, blocked...) is tombstoned,
  and ``follow`` hands other instances' tombstones to the code that ends the
  matching session here, with no call to AuthForge.

Nothing here believes the store: every entry comes through ``load``, which
verifies it (``_stores._entry.verify_entry``). The same code serves a single
process with the file cache: it is the fleet of one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Callable

from .._base._clock import elapsed
from .._client._engine import Answer
from .._exceptions import AuthForgeError
from .._protocol import SignedSession, TrustList
from . import HEARTBEAT, LOGIN, SessionStore, StoreSetting, store_from_setting
from ._entry import key_hash
from ._report import closed_store

logger = logging.getLogger("authforge_guard")

LOGIN_LEASE_SECONDS = 10.0  # longer than a login with its retries usually takes
POLL_FIRST_SECONDS = 0.05
POLL_MAX_SECONDS = 0.25
# Verdicts about the license itself, true on every instance: fanned out. A session that
# ran out here (session_expired) or an answer that failed its signature check here
# says nothing about the other instances' copies.
FANOUT_CODES = frozenset(
    {"revoked", "expired", "blocked", "hwid_mismatch", "app_disabled", "invalid_app"}
)

OnLost = Callable[[str, str, str], None]  # (license key, hwid, code)


class Fleet:
    """The coordination above a ``SessionStore`` (see the module docstring)."""

    def __init__(
        self,
        store: SessionStore,
        *,
        online: bool = True,
        interval: float = 900.0,
        login_lease: float = LOGIN_LEASE_SECONDS,
        login_wait: float | None = None,
    ) -> None:
        self.store = store
        self.online = online
        self.interval = interval
        self._login_lease = login_lease
        # Long enough for a dead holder's lease to expire and another instance to log in.
        self._login_wait = login_wait if login_wait is not None else login_lease + 2.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._followed: dict[tuple[str, str], tuple[str, OnLost]] = {}
        self._ended_elsewhere: set[tuple[str, str]] = set()
        self._watching = False
        # For tests and the bench: validates made here, logins taken from another
        # instance, check rounds, and heartbeats sent from here.
        self.logins = 0
        self.waited = 0
        self.check_ins = 0
        self.heartbeats = 0

    @classmethod
    def from_setting(
        cls,
        setting: StoreSetting,
        app_id: str,
        environ: Mapping[str, str] | None = None,
        *,
        online: bool = True,
        interval: float = 900.0,
    ) -> Fleet | None:
        """The fleet over the store a ``session_store`` setting names, or ``None``."""
        store = store_from_setting(setting, app_id, environ)
        return cls(store, online=online, interval=interval) if store is not None else None

    # ----------------------------------------------------------------- login

    def obtain(
        self,
        key: str,
        hwid: str,
        trust: TrustList,
        *,
        validate: Callable[[], Answer],
        confirm: Callable[[SignedSession], Answer],
    ) -> Answer:
        """The session for ``(key, hwid)``: stored, another instance's fresh login, or
        ``validate()`` here (its errors propagate; the lease is given back).

        ``confirm(signed)`` is the one heartbeat that confirms a stored session in
        online mode (a refusal means a login)."""
        answer = self._stored(key, hwid, trust, confirm)
        if answer is not None:
            return answer
        deadline = elapsed() + self._login_wait
        pause = POLL_FIRST_SECONDS
        while elapsed() < deadline and not self._stop.is_set():
            if self.store.try_lease(key, hwid, LOGIN, self._login_lease):
                try:
                    # Another instance may have saved between our load and our lease.
                    answer = self._stored(key, hwid, trust, confirm)
                    return answer if answer is not None else self._login(key, hwid, validate)
                finally:
                    self.store.release_lease(key, hwid, LOGIN)
            self._stop.wait(pause)
            pause = min(pause * 2, POLL_MAX_SECONDS)
            found = self.store.load(key, hwid, trust=trust)
            if found.session is not None:  # just logged in by another instance
                with self._lock:  # from many login threads: ``+=`` alone loses counts
                    self.waited += 1
                return Answer(found.session, None)
        logger.warning(
            "authforge_guard: no session from the fleet after %.0f s; logging in here",
            self._login_wait,
        )
        return self._login(key, hwid, validate)

    def _stored(
        self, key: str, hwid: str, trust: TrustList, confirm: Callable[[SignedSession], Answer]
    ) -> Answer | None:
        found = self.store.load(key, hwid, trust=trust)
        signed = found.session
        if signed is None:
            return None
        if not self.online:
            logger.info("authforge_guard: resumed the cached session (grace: no network call)")
            return Answer(signed, None)
        # Confirmed even when another instance checks it in: this may be a restart after
        # a revocation, and a dead instance's lease does not say the session is alive.
        try:
            fresh = confirm(signed)
        except AuthForgeError as refusal:
            logger.info("authforge_guard: cached session refused (%s); logging in", refusal.code)
            if refusal.fatal:
                self._drop(key, hwid, refusal.code)
            return None
        self.store.save(key, hwid, fresh.signed)
        logger.info("authforge_guard: resumed the cached session (online: one heartbeat)")
        return fresh

    def _login(self, key: str, hwid: str, validate: Callable[[], Answer]) -> Answer:
        try:
            answer = validate()
        except AuthForgeError as refusal:
            # A definitive verdict seen online: no start, here or on another instance,
            # may resume the stored copy (a clock set back would make it look alive).
            if refusal.fatal:
                self._drop(key, hwid, refusal.code)
            raise
        with self._lock:  # from many login threads: ``+=`` alone loses counts
            self.logins += 1
        self.store.save(key, hwid, answer.signed)
        return answer

    # ------------------------------------------------------------- heartbeat

    def check_in(
        self,
        key: str,
        hwid: str,
        trust: TrustList,
        heartbeat: Callable[[], Answer],
        *,
        alive: Callable[[], bool] = lambda: True,
    ) -> Answer:
        """One heartbeat round for ``(key, hwid)`` on this instance.

        The lease holder runs ``heartbeat()`` (a loss raises out of it) and saves
        the answer; another instance takes the holder's latest stored answer, or
        checks in itself when the store has none. The lease outlives one
        interval a little, so the holder keeps it while it lives and another
        takes over when it dies. The answer is saved only while ``alive()``: a
        logout that forgot the entry during the heartbeat must not see it back.
        """
        with self._lock:  # from many login threads: ``+=`` alone loses counts
            self.check_ins += 1
        if not self.store.try_lease(key, hwid, HEARTBEAT, self.interval * 1.5):
            found = self.store.load(key, hwid, trust=trust)
            if found.session is not None:
                return Answer(found.session, None)
        with self._lock:  # from many login threads: ``+=`` alone loses counts
            self.heartbeats += 1
        answer = heartbeat()
        if alive():
            self.store.save(key, hwid, answer.signed)
        return answer

    def save(self, key: str, hwid: str, signed: SignedSession) -> None:
        self.store.save(key, hwid, signed)

    def forget(self, key: str, hwid: str | None = None) -> None:
        """Delete the stored session (every HWID's, without ``hwid``, where the store can)."""
        if hwid is not None:
            self.store.forget(key, hwid)
            return
        forget_key = getattr(self.store, "forget_key", None)
        if forget_key is not None:
            forget_key(key)

    def release(self, key: str, hwid: str) -> None:
        """This instance no longer serves ``(key, hwid)``: let another check it in."""
        self.store.release_lease(key, hwid, HEARTBEAT)
        with self._lock:
            self._followed.pop((key_hash(key), hwid), None)

    # ---------------------------------------------------------------- losses

    def lost(self, key: str, hwid: str, code: str) -> None:
        """A loss seen here. A definitive verdict ends the session on every instance
        (unless it came from one of them); any other just drops the stored copy."""
        hashed = (key_hash(key), hwid)
        with self._lock:
            self._followed.pop(hashed, None)
            relayed = hashed in self._ended_elsewhere
            self._ended_elsewhere.discard(hashed)
        if relayed:
            return
        self.store.release_lease(key, hwid, HEARTBEAT)
        self._drop(key, hwid, code)

    def _drop(self, key: str, hwid: str, code: str) -> None:
        """Remove the stored session for good: tombstoned (every instance refuses older
        copies and ends its own) for a verdict about the license, else just deleted."""
        if code in FANOUT_CODES:
            self.store.tombstone(key, hwid, code)
        else:
            self.store.forget(key, hwid)

    def follow(self, key: str, hwid: str, on_lost: OnLost) -> None:
        """Call ``on_lost(key, hwid, code)`` when another instance tombstones the session
        (starts the store's watcher on first use). A closed fleet raises
        ``ConfigurationError``: it would follow nothing."""
        if self._stop.is_set():
            raise closed_store("this fleet")
        with self._lock:
            self._followed[(key_hash(key), hwid)] = (key, on_lost)
            start, self._watching = not self._watching, True
        if start:
            self.store.watch(self._on_tombstone)

    def unfollow(self, key: str, hwid: str) -> None:
        """Stop following ``(key, hwid)``: its session ended here (any way). No I/O (the
        Guard calls it under its lock, also on the timer thread); a heartbeat lease held
        here is given back by ``release`` on a logout, else it expires on its own."""
        with self._lock:
            self._followed.pop((key_hash(key), hwid), None)

    def _on_tombstone(self, hashed: str, hwid: str, code: str) -> None:
        with self._lock:
            followed = self._followed.pop((hashed, hwid), None)
            if followed is not None:
                self._ended_elsewhere.add((hashed, hwid))
        if followed is None:
            return
        key, on_lost = followed
        logger.info("authforge_guard: a session ended on another instance (%s)", code)
        on_lost(key, hwid, code)

    def after_fork(self) -> None:
        """In a forked child: nothing followed (its sessions are gone), a fresh lock, and
        the watcher (a thread that did not survive) started again on the next follow."""
        self._lock = threading.Lock()
        self._followed = {}
        self._ended_elsewhere = set()
        self._watching = False

    def close(self) -> None:
        """Stop waiting and watching; the store is closed too."""
        self._stop.set()
        self.store.close()
