"""The background checks of a Guard's sessions: when each runs, what one does, and what
an answer or a failure does to the session.

Why a part of its own: this is the only code of a Guard that runs on the timer
thread and the check workers (``_scheduler``), never in the program's own
threads. A check heartbeats (online) or re-verifies the stored signed answer
(grace, offline files); a refused one hands the session to the loss path
(``_losses``); an accepted one swaps in the new license variables and tells the
``changed`` hooks; one that keeps failing for ``max_unreachable`` is a loss
too, so a proxy answering 502 cannot keep a revoked license running.

``SessionChecks`` is an object the Guard holds (``guard._checks``): it is given
the Guard's settings, session table, upstream (engine and stores) and hooks,
and the loss path to call (a weak reference: the checks do not keep the Guard
alive). Its timers hold it weakly too.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Any, Callable

from .._base._clock import Deadline, elapsed
from .._base._scheduler import (
    END_MARGIN,
    UNREACHABLE_INTERVALS,
    first_delay,
    next_delay,
    shared_timers,
    silence_bound,
    weak_call,
)
from .._delivery._hooks import CHANGED, HookRegistry, LicenseEvent
from .._exceptions import AuthForgeError
from ._session import license_end
from ._sessions import state_for

if TYPE_CHECKING:
    from .._base._scheduler import Job
    from .._client._engine import Answer
    from ._config import GuardSettings
    from ._session_table import SessionTable
    from ._sessions import Entry
    from ._upstream import Upstream

logger = logging.getLogger("authforge_guard")


class SessionChecks:
    """Arms, runs and answers the checks and deadlines of a Guard's sessions."""

    def __init__(
        self,
        settings: GuardSettings,
        table: SessionTable,
        upstream: Upstream,
        hooks: HookRegistry,
        lose: Callable[[Entry, AuthForgeError], None],
    ) -> None:
        self.settings = settings
        self._table = table
        self._upstream = upstream
        self._hooks = hooks
        # The loss path (the Guard's): a refused check or a passed deadline ends the session.
        self._lose = lose
        # Online checks are network I/O: a small worker pool runs them. A grace check only
        # re-verifies a signature: the timer thread runs it (no thread per anything).
        self._online = settings.online
        self._rng = random.Random()

    def _timers_call(self, delay: float, method: str, *args: Any, worker: bool = False) -> Job:
        return shared_timers().call_later(delay, weak_call(self, method, args), worker=worker)

    def arm(self, entry: Entry) -> None:
        """Schedule ``entry``'s next check and its deadline (under the lock)."""
        if entry.session.kind == "online":
            delay = self._upstream.within_interval(
                entry, first_delay(self.settings.heartbeat_interval, self._rng)
            )
            entry.heartbeat_job = self._timers_call(
                delay, "_check", entry, worker=self._upstream.online_for(entry)
            )
        self._arm_deadline(entry)

    def _arm_deadline(self, entry: Entry) -> None:
        if entry.expiry_job is not None:
            entry.expiry_job.cancel()
            entry.expiry_job = None
        if entry.deadline is not None:
            entry.expiry_job = self._timers_call(
                entry.deadline.remaining() + END_MARGIN, "_deadline_due", entry
            )

    def _deadline_due(self, entry: Entry) -> None:
        """The session's signed end (timer thread): lost now, even if a check is stuck."""
        if not entry.session.active or entry.deadline is None:
            return
        if not entry.deadline.passed():  # moved by a refresh meanwhile
            with self._table.lock:
                if entry.session.active:
                    self._arm_deadline(entry)
            return
        code = "session_expired" if entry.session.kind == "online" else "expired"
        self._lose(entry, AuthForgeError(code))

    def _check(self, entry: Entry) -> None:
        """One background check of ``entry`` (a worker thread): heartbeat or grace check."""
        session = entry.session
        if not session.active:
            return
        try:
            answer = self._check_once(entry)
        except AuthForgeError as exc:
            error = exc
            if error.transient and entry.deadline is not None and entry.deadline.passed():
                expired = AuthForgeError("session_expired")
                expired.__cause__ = error
                error = expired
            elif error.transient and self._online:
                error = self._silence_bound(entry, error)
            if error.fatal:
                self._lose(entry, error)
                return
            logger.warning("authforge_guard: license check failed (%s); will retry", error.code)
            self._hooks.run_transient(LicenseEvent("transient", error.code, False, error, session))
        else:
            if answer is not None:
                self._refresh(entry, answer)
        with self._table.lock:
            if entry.session.active and self._table.entries.get(entry.slot) is entry:
                delay = self._upstream.within_interval(
                    entry, next_delay(self.settings.heartbeat_interval, self._rng)
                )
                entry.heartbeat_job = self._timers_call(
                    delay, "_check", entry, worker=self._upstream.online_for(entry)
                )

    def _check_once(self, entry: Entry) -> Answer | None:
        signed = entry.signed
        assert signed is not None
        if self._upstream.online_for(entry):
            engine = self._upstream.engine
            deadline = entry.deadline

            def heartbeat() -> Answer:
                # Never past the signed end: a late answer could not save the session.
                ends_in = deadline.remaining() if deadline is not None else None
                return engine.heartbeat(signed, entry.hwid, ends_in=ends_in)

            fleet = self._upstream.fleet_for(entry.hwid)
            if fleet is not None:  # one instance checks in, the others read its answer
                return fleet.check_in(
                    entry.key,
                    entry.hwid,
                    engine.trust,
                    heartbeat,
                    alive=lambda: entry.session.active,
                )
            return heartbeat()
        self._upstream.engine.reverify(signed)  # the stored answer, not memory, is trusted
        if entry.deadline is not None and entry.deadline.passed():
            raise AuthForgeError("session_expired")
        return None

    def _silence_bound(self, entry: Entry, error: AuthForgeError) -> AuthForgeError:
        """``server_unreachable`` once online checks have failed for ``max_unreachable``
        seconds (three intervals by default), else ``error`` (``_scheduler.silence_bound``)."""
        limit = self.settings.max_unreachable
        if limit is None:
            limit = UNREACHABLE_INTERVALS * self.settings.heartbeat_interval
        return silence_bound(entry.confirmed, limit, error)

    def _refresh(self, entry: Entry, answer: Answer) -> None:
        """A heartbeat was accepted: new variables (a tier change) and end time."""
        entry.confirmed = elapsed()
        signed = answer.signed
        state = state_for(
            self.settings,
            signed.license_variables,
            signed.app_variables,
            signed.expires_at,
            license_end(signed.payload),
        )
        with self._table.lock:
            if not entry.session.active:
                return  # ended while the check was in flight: this answer belongs to no one
            changed = _variables_changed(entry.session._state, state)
            entry.signed = signed
            entry.session._state = state
            entry.deadline = Deadline(signed.expires_at, issued_at=answer.issued_at)
            self._arm_deadline(entry)
        if changed:  # after the swap: a hook reads the new tier from the session
            self._hooks.run_changed(LicenseEvent("changed", CHANGED, False, None, entry.session))


def _variables_changed(old: Any, new: Any) -> bool:
    """True when a heartbeat's state grants or says something new (a tier change)."""
    return bool(
        old.license_variables != new.license_variables
        or old.app_variables != new.app_variables
        or old.grants != new.grants
    )
