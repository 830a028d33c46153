"""What a Guard talks to: AuthForge (its ``Engine``, built at first use) and the session
stores its sessions are shared through (the Guard's own ``Fleet``, and one per served user).

Why an object of its own: the login flow and the checks ask it the same
questions (which HWID, which engine, which store, checked online or not) with
a key and a HWID, and none of it needs the rest of the Guard: the Guard holds
one (``guard._upstream``) and hands nothing back.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .._exceptions import ConfigurationError
from ._config import GuardSettings

if TYPE_CHECKING:
    from .._client._engine import Engine
    from .._stores._fleet import Fleet
    from .._transport._http import Transport
    from .._transport._retry import RetryPolicy
    from ._sessions import Entry


class Upstream:
    """A Guard's engine and session stores, and what each of its sessions is checked against."""

    def __init__(
        self,
        settings: GuardSettings,
        retry_policy: RetryPolicy | None,
        environ: Mapping[str, str] | None,
    ) -> None:
        self.settings = settings
        self._retry_policy = retry_policy
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._online = settings.online
        # Session reuse across restarts and replicas (opt-in): the session store, and the
        # protocol over it (one login, one heartbeat per session, losses fanned out).
        self.fleet: Fleet | None = None
        if settings.session_store:
            from .._stores._fleet import Fleet

            self.fleet = Fleet.from_setting(
                settings.session_store,
                settings.app_id,
                environ,
                online=self._online,
                interval=settings.heartbeat_interval,
            )
        # Per-user licensing (``UserLicenses``) keeps its users' sessions in a store of its
        # own and has them checked online whatever the guard's mode: {hwid: its fleet}.
        self._served: dict[str, Fleet] = {}

    @property
    def engine(self) -> Engine:
        """The AuthForge calls of this Guard's app (built on first use: no import before)."""
        engine = self._engine
        if engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = self._build_engine()
                engine = self._engine
        return engine

    def _build_engine(self) -> Engine:
        from .._client._engine import Engine
        from .._protocol import TrustList

        s = self.settings
        try:
            trust = TrustList(
                list(s.public_key) if isinstance(s.public_key, tuple) else s.public_key
            )
        except ValueError as exc:  # settings are checked at construction: a last guard
            raise ConfigurationError(f"cannot build the AuthForge client: {exc}") from exc
        ttl = s.ttl_seconds if isinstance(s.ttl_seconds, int) and s.ttl_seconds > 0 else None
        return Engine(
            app_id=s.app_id,
            app_secret=s.app_secret or "",
            trust=trust,
            transport=self._build_transport,  # at the first request, not before
            ttl_seconds=ttl,
        )

    def _build_transport(self) -> Transport:
        from .._transport._http import Transport

        s = self.settings
        try:
            return Transport(
                s.api_base_url,
                timeout=s.request_timeout,
                proxy_url=s.proxy_url,
                ca_bundle=s.ca_bundle,
                retry=self._retry_policy,
            )
        except ValueError as exc:  # settings are checked at construction: a last guard
            raise ConfigurationError(f"cannot build the AuthForge client: {exc}") from exc

    def hwid(self, hwid_override: str | None = None) -> str:
        """The HWID the Guard sends for ``hwid_override`` (default: its configured one)."""
        return self.engine.hwid(
            hwid_override if hwid_override is not None else self.settings.hwid_override
        )

    def serve(self, hwid: str, fleet: Fleet | None) -> None:
        """Sessions for ``hwid`` (a chat user's subject) live in ``fleet``'s store and are
        checked online every interval, whatever the guard's mode; ``None`` undoes it."""
        if fleet is None:
            self._served.pop(hwid, None)
        else:
            self._served[hwid] = fleet

    def fleet_for(self, hwid: str) -> Fleet | None:
        return self._served.get(hwid, self.fleet) if self._served else self.fleet

    def online_for(self, entry: Entry) -> bool:
        """Whether ``entry``'s checks ask the server (a served user's always do)."""
        return self._online or entry.hwid in self._served

    def within_interval(self, entry: Entry, delay: float) -> float:
        """A served user's checks keep the jitter below the interval, never above it: a
        revoked user is refused within one interval (what ``UserLicenses`` promises)."""
        if entry.hwid in self._served:
            return min(delay, self.settings.heartbeat_interval)
        return delay

    def after_fork(self) -> None:
        """In a forked child: a fresh lock (another thread may have held it), and the
        store's connections and watcher are the child's own."""
        self._lock = threading.Lock()
        if self.fleet is not None:
            self.fleet.after_fork()
