"""``Session``: what the program knows about its live license, safe to print and log.

One ``Session`` per login of a ``(license key, hwid)``. A heartbeat that
brings new variables (a tier upgrade) swaps its state in place, so code
holding the object sees the change at once. The full license key never appears in ``repr``/``str``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Callable

from .._exceptions import LicenseLost
from .._protocol import mask_key, parse_iso_utc
from .._records import Record
from ._grants import compute_grants, tier_of

_lineages = itertools.count(1)


class _State(Record):
    __slots__ = (
        "app_variables",
        "expires_at",
        "grants",
        "license_expires_at",
        "license_variables",
        "tier",
    )

    license_variables: dict[str, Any]
    app_variables: dict[str, Any]
    tier: str | None
    grants: frozenset[str]
    expires_at: datetime | None
    license_expires_at: datetime | None

    def __init__(
        self,
        *,
        license_variables: dict[str, Any],
        app_variables: dict[str, Any],
        tier: str | None,
        grants: frozenset[str],
        expires_at: datetime | None,
        license_expires_at: datetime | None = None,
    ) -> None:
        self._assign(
            license_variables=license_variables,
            app_variables=app_variables,
            tier=tier,
            grants=grants,
            expires_at=expires_at,
            license_expires_at=license_expires_at,
        )


class Loss:
    """A fatal loss of one session: its code, and when its hooks have finished.

    Anything that meets the loss (a guarded call, a block's exit) waits for
    ``hooks_done`` first, so the program cannot leave a block and exit while
    a cleanup is still saving the user's work.
    """

    __slots__ = ("_lock", "_wakers", "code", "error", "hooks_done", "raises")

    def __init__(self, code: str, error: BaseException, *, raises: bool) -> None:
        self.code = code
        self.error = error
        self.hooks_done = threading.Event()
        self._lock = threading.Lock()
        self._wakers: list[Callable[[], None]] | None = []
        # False under on_lost="warn": the program carries on, blocks do not raise.
        self.raises = raises

    def finish_hooks(self) -> None:
        """The hooks have run: release the threads waiting on ``hooks_done`` and call the
        ``when_hooks_done`` wakers (on this, the loss's thread)."""
        with self._lock:
            self.hooks_done.set()
            wakers, self._wakers = self._wakers, None
        for wake in wakers or ():
            wake()

    def when_hooks_done(self, wake: Callable[[], None]) -> None:
        """Call ``wake()`` once the hooks have run, at once if they have. For an event loop
        waiting without a thread of its own (``wake`` must not block or raise)."""
        with self._lock:
            if self._wakers is not None:
                self._wakers.append(wake)
                return
        wake()

    def exception(self, lineage: int) -> LicenseLost:
        """A fresh ``LicenseLost`` for this loss (one per raise: threads never share one)."""
        lost = LicenseLost(self.code)
        lost.lineage = lineage
        return lost


class Session:
    """A live (or ended) license session of a ``Guard``.

    Attributes read the newest state: ``license_variables``, ``app_variables``,
    ``tier``, ``features``, ``expires_at`` (UTC, ``None`` for a lifetime
    offline file), ``license_expires_at``, ``kind`` (``"online"``/``"offline"``),
    ``hwid`` (whom the session is for). ``license_key`` is masked;
    ``reveal_license_key()`` returns it whole for the rare caller that needs it.

    A session ends in one step: ``_end`` sets ``_ending``, which every block on
    the session reads. So "the session ended" and "its blocks are lost" can
    never be seen apart (there is no moment between them for a log call or a
    thread switch to fall into).
    """

    __slots__ = ("__weakref__", "_ending", "_key", "_state", "hwid", "kind", "lineage")

    def __init__(self, license_key: str, kind: str, state: _State, hwid: str = "") -> None:
        self._key = license_key
        self.kind = kind
        # The HWID the session was issued to: a machine's, or a chat user's subject
        # (``tg:<id>``), so a hook can tell whose license it was.
        self.hwid = hwid
        self._state = state
        # None while live; then (code, Loss or None for an end that is not a loss).
        self._ending: tuple[str, Loss | None] | None = None
        self.lineage = next(_lineages)

    # -- what the license says ------------------------------------------------
    @property
    def license_key(self) -> str:
        return mask_key(self._key)

    def reveal_license_key(self) -> str:
        return self._key

    @property
    def license_variables(self) -> dict[str, Any]:
        return dict(self._state.license_variables)

    @property
    def app_variables(self) -> dict[str, Any]:
        return dict(self._state.app_variables)

    @property
    def tier(self) -> str | None:
        return self._state.tier

    @property
    def features(self) -> frozenset[str]:
        """Everything this license grants: its tier and the tiers below, listed features,
        and truthy variables (what ``has_feature`` checks)."""
        return self._state.grants

    @property
    def expires_at(self) -> datetime | None:
        """When this *session* ends (UTC): the signed session's end, renewed by every
        heartbeat. Not the subscription's end: that is ``license_expires_at``."""
        return self._state.expires_at

    @property
    def license_expires_at(self) -> datetime | None:
        """When the *license* ends (UTC, from the signed ``licenseExpiresAt``); ``None`` for
        a lifetime license. What a ``/status`` command shows a subscriber."""
        return self._state.license_expires_at

    # -- lifecycle ----------------------------------------------------------
    @property
    def active(self) -> bool:
        """False once the session was lost or logged out."""
        return self._ending is None

    @property
    def lost_code(self) -> str | None:
        """Why the session ended (``revoked``, ``logout``, ...), or ``None`` while active."""
        ending = self._ending
        return ending[0] if ending is not None else None

    @property
    def _loss(self) -> Loss | None:
        """The loss its blocks must raise, or ``None`` (live, logged out, or ``warn``)."""
        ending = self._ending
        if ending is None or ending[1] is None or not ending[1].raises:
            return None
        return ending[1]

    def _end(self, code: str, loss: Loss | None = None) -> bool:
        """End the session (once); True if this call ended it. The caller holds its
        guard's lock, so two ends cannot both win."""
        if self._ending is not None:
            return False
        self._ending = (code, loss)
        return True

    def __repr__(self) -> str:
        ending = self._ending
        state = "active" if ending is None else f"ended:{ending[0]}"
        return (
            f"Session(license_key={self.license_key!r}, kind={self.kind!r}, "
            f"tier={self.tier!r}, expires_at={self.expires_at!r}, {state})"
        )

    __str__ = __repr__


def build_state(
    license_variables: Mapping[str, Any] | None,
    app_variables: Mapping[str, Any] | None,
    expires_at_epoch: float | None,
    *,
    tiers: Any,
    tier_variable: str,
    features_variable: str,
    license_expires_at: datetime | None = None,
) -> _State:
    variables = dict(license_variables or {})
    return _State(
        license_variables=variables,
        app_variables=dict(app_variables or {}),
        tier=tier_of(variables, tier_variable),
        grants=compute_grants(
            variables, tiers=tiers, tier_variable=tier_variable, features_variable=features_variable
        ),
        expires_at=(
            datetime.fromtimestamp(expires_at_epoch, tz=timezone.utc)
            if expires_at_epoch is not None
            else None
        ),
        license_expires_at=license_expires_at,
    )


def license_end(payload: Mapping[str, Any] | None) -> datetime | None:
    """The signed ``licenseExpiresAt`` of an answer as an aware UTC datetime; ``None`` for a
    lifetime license, or when the field is absent or not a time (never raises)."""
    value = payload.get("licenseExpiresAt") if isinstance(payload, Mapping) else None
    if not isinstance(value, str) or not value:
        return None
    epoch = parse_iso_utc(value)
    if epoch is None:
        return None
    try:
        return datetime.fromtimestamp(epoch, tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
