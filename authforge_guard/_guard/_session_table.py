"""A Guard's table of sessions: one live ``Entry`` per ``Slot``, the logins in flight, the
failures remembered, and the rules that take sessions out of it.

Why a part of its own: every way a session enters or leaves a Guard goes
through this table under its one lock, so no thread sees a session live
without its entry, or the reverse. It decides:
- one login per slot at a time (``Flight``): racing first calls, threads and
  coroutines alike, share one validate and its result;
- a refusal is remembered (``REFUSAL_MEMORY_SECONDS``) and a transient failure
  shared (``TRANSIENT_SHARE_SECONDS``), so a burst of calls after a revocation
  or during an outage does not send a login each;
- ``max_sessions`` logs out the least recently used per-user sessions, and the
  idle sweep those unused for ``session_idle_timeout``; a session a block is
  using is never taken.

``SessionTable`` is an object a Guard holds (``guard._table``), not a part of
it: it knows nothing of the Guard. The login itself is handed to
``lead_flight`` by its caller (the login flow), so a license key goes down
once: ``Guard.ensure`` -> the login flow -> this table's flight -> the login
-> the engine. The Guard's other parts (the checks, the loss path) take the
table's ``lock`` for what they change in an entry.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import TYPE_CHECKING, Callable

from .._base._scheduler import shared_timers, weak_call
from .._exceptions import LicenseError
from ._sessions import Entry, Flight, Slot, copy_error

if TYPE_CHECKING:
    from .._base._scheduler import Job
    from .._stores._fleet import Fleet

logger = logging.getLogger("authforge_guard")

# A definitive refusal is remembered this long, so code that keeps calling a
# gated function after a revocation does not send a login per call.
REFUSAL_MEMORY_SECONDS = 30.0
_REMEMBERED_CODES = frozenset({"invalid_key"})
# A transient failure (network, 5xx, rate limit) of a login is shared this long
# with every caller that asks for the same session: during an outage a burst of
# requests fails fast instead of each repeating the whole retry cycle.
TRANSIENT_SHARE_SECONDS = 5.0


class SessionTable:
    """The sessions of a Guard by slot, the logins in flight and the failures remembered."""

    def __init__(self, *, fleet: Fleet | None, idle_timeout: float, max_sessions: int) -> None:
        self.lock = threading.Lock()
        self.entries: dict[Slot | None, Entry] = {}
        self._flights: dict[Slot | None, Flight] = {}
        self._failures: dict[Slot | None, tuple[float, LicenseError]] = {}
        self._idle_job: Job | None = None
        # The store's watcher follows each online session; a session leaving the table
        # is no longer followed, whatever ended it (a logout, idleness, the session limit).
        self._fleet = fleet
        self._idle_timeout = idle_timeout
        self._max_sessions = max_sessions

    def live(self, slot: Slot | None) -> Entry | None:
        """The live entry of ``slot`` (now its most recent use), or ``None``."""
        entry = self.entries.get(slot)
        if entry is not None and entry.session.active:
            entry.last_used = time.monotonic()
            return entry
        return None

    # ---------------------------------------------------------------- flights

    def join_flight(self, slot: Slot | None) -> tuple[Flight, bool]:
        """The login in flight for ``slot`` and whether this caller leads it; raises a
        recently remembered failure instead."""
        with self.lock:
            entry = self.entries.get(slot)
            if entry is not None and entry.session.active:
                landed = Flight()
                landed.finish(entry, None)
                return landed, False
            remembered = self._failures.get(slot)
            if remembered is not None:
                if time.monotonic() < remembered[0]:
                    raise copy_error(remembered[1])
                del self._failures[slot]
            in_flight = self._flights.get(slot)
            if in_flight is not None:
                return in_flight, False
            flight = self._flights[slot] = Flight()
            return flight, True

    def lead_flight(
        self,
        slot: Slot | None,
        flight: Flight,
        login: Callable[[], Entry],
        by_block: bool = False,
    ) -> Entry:
        """Run ``login`` for the flight this caller leads; every waiter gets its result."""
        try:
            entry = login()
            if by_block and entry.is_default:
                # The default session logs out with the last block only if a block
                # logged it in: one opened by ensure() or a guarded call lives on.
                entry.close_when_unused = True
        except BaseException as exc:
            if isinstance(exc, LicenseError) and _is_per_user(slot):
                exc.per_user = True  # a person's license: no "this computer" in its words
            with self.lock:
                self._flights.pop(slot, None)
                if isinstance(exc, LicenseError):
                    self._remember_failure(slot, exc)
            flight.finish(None, exc)
            raise
        with self.lock:
            self._flights.pop(slot, None)
            self._failures.pop(slot, None)
        flight.finish(entry, None)
        return entry

    def lead_flight_quietly(
        self, slot: Slot | None, flight: Flight, login: Callable[[], Entry], by_block: bool
    ) -> None:
        with contextlib.suppress(BaseException):  # the waiters get it from the flight
            self.lead_flight(slot, flight, login, by_block)

    def fail_flight(self, slot: Slot | None, flight: Flight, error: LicenseError) -> None:
        if _is_per_user(slot):
            error.per_user = True
        with self.lock:
            self._flights.pop(slot, None)
        flight.finish(None, error)

    # ------------------------------------------------------- failures remembered

    def forget_failure(self, slot: Slot | None) -> None:
        """The next login of ``slot`` asks AuthForge again: the stored key changed (an
        activation), so a refusal remembered for the old key says nothing about it."""
        with self.lock:
            self._failures.pop(slot, None)

    def _remember_failure(self, slot: Slot | None, error: LicenseError) -> None:
        if error.fatal or error.code in _REMEMBERED_CODES:
            self._failures[slot] = (time.monotonic() + REFUSAL_MEMORY_SECONDS, error)
        elif error.transient:
            self._failures[slot] = (time.monotonic() + TRANSIENT_SHARE_SECONDS, error)

    # ------------------------------------------------------- entering and leaving

    def put_locked(self, entry: Entry) -> tuple[Entry | None, list[Entry]]:
        """Make ``entry`` its slot's session (under the lock): ``(the live entry already
        there, [])`` if there is one, else ``(None, the sessions evicted to make room)``.
        A per-user session also starts the idle sweep."""
        previous = self.entries.get(entry.slot)
        if previous is not None and previous.session.active:  # cannot happen: one flight
            return previous, []
        evicted = [] if entry.is_default else self._make_room_locked()
        self.entries[entry.slot] = entry
        if not entry.is_default and self._idle_job is None:
            self._idle_job = self._sweep_later()
        return None, evicted

    def _make_room_locked(self) -> list[Entry]:
        """Sessions to log out so one more fits ``max_sessions`` (least recently used first,
        never one a block is using)."""
        tenants = [e for e in self.entries.values() if not e.is_default]
        excess = len(tenants) + 1 - self._max_sessions
        if excess <= 0:
            return []
        idle = sorted((e for e in tenants if not e.blocks), key=lambda e: e.last_used)
        evicted = idle[:excess]
        for old in evicted:
            self.drop_locked(old, "evicted")
        if len(evicted) < excess:
            logger.warning(
                "authforge_guard: more sessions in use than max_sessions=%d", self._max_sessions
            )
        return evicted

    def drop_locked(self, entry: Entry, code: str) -> None:
        """Take ``entry`` out of the table and end its session (``code``: why), in one step
        under the lock: no thread sees the session live without its entry, or the reverse.
        A session already ended (a loss) keeps its first code."""
        if self.entries.get(entry.slot) is entry:
            del self.entries[entry.slot]
        entry.cancel_jobs()
        if self._fleet is not None:
            self._fleet.unfollow(entry.key, entry.hwid)
        entry.session._end(code)

    def clear_locked(self) -> None:
        """After every session was dropped (a full logout): no failure remembered, no sweep."""
        self._failures.clear()
        if self._idle_job is not None:
            self._idle_job.cancel()
            self._idle_job = None

    def after_fork(self) -> list[Entry]:
        """In a forked child: a fresh lock (another thread may have held it) and an empty
        table; returns the parent's entries, for the caller to end."""
        self.lock = threading.Lock()
        entries, self.entries = list(self.entries.values()), {}
        self._flights = {}
        self._failures = {}
        self._idle_job = None
        return entries

    # --------------------------------------------------------------- idle sweep

    def _sweep_later(self) -> Job:
        period = max(0.05, min(self._idle_timeout / 4.0, 60.0))
        return shared_timers().call_later(period, weak_call(self, "sweep_idle", ()))

    def sweep_idle(self) -> None:
        """Log out per-user sessions no block has used for ``session_idle_timeout``."""
        now = time.monotonic()
        with self.lock:
            idle = [
                e
                for e in self.entries.values()
                if not e.is_default and not e.blocks and now - e.last_used >= self._idle_timeout
            ]
            for entry in idle:
                self.drop_locked(entry, "idle")
            more = any(not e.is_default for e in self.entries.values())
            self._idle_job = self._sweep_later() if more else None
        if idle:
            logger.debug("authforge_guard: logged out %d idle sessions", len(idle))


def _is_per_user(slot: Slot | None) -> bool:
    """A session for someone other than this machine: a user's or tenant's HWID."""
    return slot is not None and slot.per_user


def cancel_all_entries(entries: dict[Slot | None, Entry]) -> None:
    """Stop the timers of a Guard no one references any more and end its sessions."""
    for entry in list(entries.values()):
        entry.cancel_jobs()
        entry.session._end("logout")
