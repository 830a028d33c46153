"""How a Guard gets a session for a call: which slot the call means, the login itself
(a license file offline, a key online, through the session store when there is
one), and the new session's installation in the table.

Why a part of its own: this is the one path a license key takes down the
layers: ``Guard.ensure`` -> ``LoginFlow.slot`` and ``obtain`` -> a flight of
the session table (``SessionTable.lead_flight``), which runs ``login``, handed
to it -> the engine or the store's ``Fleet`` (both the ``Upstream``'s) ->
``_install`` in the table, arming the session's checks. Nothing on that path
calls back into the Guard.

``LoginFlow`` is an object the Guard holds (``guard._login_flow``), knowing
nothing of the Guard class: it is given the settings, the session table, the
upstream, the checks, the loss path and the policy, and one weak callback,
``show``, that sets the Guard's hot-path session (``_fast_session``) without
the flow keeping the Guard alive. A login asked for by a coroutine runs on the
flow's own login threads (``pool``, a ``LoginPool``), never on the event
loop's default executor; ``reach`` remembers an outage of the server for
every login of this Guard.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from .._base._clock import Deadline
from .._base._scheduler import weak_method
from .._exceptions import AuthForgeError, LicenseError
from ._config import GuardSettings, missing_setting
from ._keystore import load_key
from ._logins import LoginPool, Reachability
from ._session import Session, license_end
from ._sessions import DEFAULT_SLOT, Entry, Slot, state_for

if TYPE_CHECKING:
    from .._client._engine import Answer
    from .._stores._fleet import Fleet
    from ._checks import SessionChecks
    from ._losses import LossPath
    from ._policy import LossPolicy
    from ._session_table import SessionTable
    from ._upstream import Upstream

logger = logging.getLogger("authforge_guard")


class LoginFlow:
    """From a call's arguments to a live, installed session."""

    def __init__(
        self,
        settings: GuardSettings,
        table: SessionTable,
        upstream: Upstream,
        checks: SessionChecks,
        losses: LossPath,
        policy: LossPolicy,
        show: Callable[[Session], None],
    ) -> None:
        self.settings = settings
        self._table = table
        self._upstream = upstream
        self._checks = checks
        self._losses = losses
        self._policy = policy
        # Makes a new default session the hot path's (under the table's lock). The
        # Guard gives a weak call: the flow must not keep its Guard alive.
        self._show = show
        # Logins asked for by coroutines run on threads of our own, never the loop's
        # default executor; a server found unreachable fails the other logins fast.
        self.pool = LoginPool(settings.login_workers)
        self.reach = Reachability()

    def slot(
        self, license_key: str | None, hwid_override: str | None, license_file: Any
    ) -> Slot | None:
        """Which session a call means. The configured key with the configured hwid is the
        default license, however it is named."""
        s = self.settings
        hwid = hwid_override.strip() if isinstance(hwid_override, str) else None
        hwid = hwid or None
        if license_key is not None and (not isinstance(license_key, str) or not license_key):
            raise LicenseError("invalid_key", "license refused: the license key is empty")
        if license_file is not None:
            return Slot(None, hwid, os.fspath(license_file))
        same_hwid = hwid is None or hwid == s.hwid_override
        if same_hwid and (license_key is None or license_key == s.license_key):
            return DEFAULT_SLOT
        if license_key is None:
            if s.license_key is None:
                raise missing_setting(
                    "license_key",
                    "argument license_key=",
                    "a session with hwid_override= needs a license key",
                )
            license_key = s.license_key
        return Slot(license_key, hwid)

    def obtain(
        self, slot: Slot | None, license_file: Any = None, *, by_block: bool = False
    ) -> Entry:
        """The live entry of ``slot``, or one login's (this thread's, or the flight it
        joins: racing callers share one login and its result)."""
        entry = self._table.live(slot)
        if entry is not None:
            return entry
        flight, lead = self._table.join_flight(slot)
        if not lead:
            return flight.result()
        return self._table.lead_flight(
            slot, flight, lambda: self.login(slot, license_file), by_block
        )

    async def obtain_async(
        self, slot: Slot | None, license_file: Any = None, *, by_block: bool = False
    ) -> Entry:
        """``obtain`` for coroutines: the login runs on a login thread (``pool``)."""
        entry = self._table.live(slot)
        if entry is not None:
            return entry
        table = self._table
        flight, lead = table.join_flight(slot)
        if lead:
            # The login is network I/O: one of our login threads does it (never the loop's
            # default executor, which the application's own jobs share); this coroutine and
            # any other caller of the same session wait on its flight. A login no thread
            # took within the request timeout is not started: its callers get ``timeout``.
            self.pool.submit(
                lambda: table.lead_flight_quietly(
                    slot, flight, lambda: self.login(slot, license_file), by_block
                ),
                lambda: table.fail_flight(slot, flight, LicenseError("timeout")),
                self.settings.request_timeout,
            )
        return await flight.wait_async()

    def login(self, slot: Slot | None, license_file: Any) -> Entry:
        """Log ``slot`` in (its file offline, else its key online) and install the session;
        run by the slot's flight, once for all its callers."""
        s = self.settings
        hwid_override = slot.hwid if slot is not None else None
        if slot is None:
            key, path = s.license_key, s.license_file
        elif slot.file is not None:
            key, path = None, license_file if license_file is not None else slot.file
        else:
            key, path = slot.key, None
        if key is None and path is None:
            key = load_key(self.settings.app_id)  # what the customer saved with `activate`
        if key is None and path is None:
            raise missing_setting(
                "license_key",
                "argument license_key=",
                "or license_file= (AUTHFORGE_LICENSE_FILE with offline=True) for an offline file",
            )
        hwid = self._upstream.hwid(hwid_override)
        if path is not None:
            try:
                return self._login_offline(slot, path, hwid)
            except LicenseError as exc:
                if key is None:
                    raise
                logger.info(
                    "authforge_guard: license file refused (%s); trying the license key", exc.code
                )
        assert key is not None
        return self._login_online(slot, key, hwid)

    def _login_offline(self, slot: Slot | None, path: Any, hwid: str) -> Entry:
        from .._client._offline import accept_file
        from .._protocol import parse_iso_utc

        try:
            result = accept_file(self._upstream.engine, path, hwid)
        except AuthForgeError as exc:
            raise LicenseError(exc.code, f"license file refused: {exc.code}") from exc
        lic = result["license"]
        expires = parse_iso_utc(lic["expires_at"])
        entry = self.new_entry(
            slot,
            lic["license_key"],
            hwid,
            "offline",
            lic["license_variables"],
            lic["app_variables"],
            expires,
            _utc(expires),
        )
        if expires is not None:
            entry.deadline = Deadline(expires)
        return self._install(entry)

    def _login_online(self, slot: Slot | None, key: str, hwid: str) -> Entry:
        if not self.settings.app_secret:
            raise missing_setting("app_secret", "argument app_secret=", "online licensing needs it")
        probe = self.reach.enter()  # raises at once while another login probes an outage
        try:
            fleet = self._upstream.fleet_for(hwid)
            if fleet is not None:
                answer = self._fleet_obtain(key, hwid, fleet)
            else:
                answer = self._upstream.engine.validate(key, hwid)
        except AuthForgeError as exc:
            self.reach.leave(probe, exc.code, exc)
            # The cause stays: a TLS reason, a timeout, for whoever reads the traceback.
            raise LicenseError(exc.code, f"license refused: {exc.code}") from exc
        except BaseException:
            self.reach.abandon(probe)  # no news about the server either way
            raise
        self.reach.leave(probe, None)
        signed = answer.signed
        entry = self.new_entry(
            slot,
            key,
            hwid,
            "online",
            signed.license_variables,
            signed.app_variables,
            signed.expires_at,
            license_end(signed.payload),
        )
        entry.signed = signed
        entry.deadline = Deadline(signed.expires_at, issued_at=answer.issued_at)
        entry = self._install(entry)
        if fleet is not None:
            fleet.follow(key, hwid, weak_method(self._losses, "lost_elsewhere"))
        return entry

    def new_entry(
        self,
        slot: Slot | None,
        key: str,
        hwid: str,
        kind: str,
        license_variables: dict[str, Any] | None,
        app_variables: dict[str, Any] | None,
        expires: float | None,
        license_expires: datetime | None,
    ) -> Entry:
        state = state_for(self.settings, license_variables, app_variables, expires, license_expires)
        return Entry(slot, key, hwid, Session(key, kind, state, hwid))

    def _install(self, entry: Entry) -> Entry:
        """Make ``entry`` the live session of its slot and start its timers."""
        with self._table.lock:
            previous, evicted = self._table.put_locked(entry)
            if previous is not None:  # cannot happen: one flight per slot
                return previous
            if entry.is_default:
                self._show(entry.session)
            self._checks.arm(entry)
        if evicted:
            logger.info(
                "authforge_guard: session limit reached; logged out the %d least recently used",
                len(evicted),
            )
        if entry.is_default:
            self._policy.session_started()
        logger.info(
            "authforge_guard: licensed (%s, tier %s%s)",
            entry.session.kind,
            entry.session.tier,
            "" if entry.is_default else ", a per-user session",
        )
        return entry

    def _fleet_obtain(self, key: str, hwid: str, fleet: Fleet) -> Answer:
        """A session from the store, from another instance's login, or a login here
        (``_fleet.py``). Online, a stored session is confirmed by one heartbeat without
        retries: a refusal just means a normal login is cheaper than waiting."""
        from .._transport._retry import NO_RETRY

        engine = self._upstream.engine
        return fleet.obtain(
            key,
            hwid,
            engine.trust,
            validate=lambda: engine.validate(key, hwid),
            confirm=lambda signed: engine.heartbeat(signed, hwid, retry=NO_RETRY),
        )


def _utc(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, tz=timezone.utc) if epoch is not None else None
