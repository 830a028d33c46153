"""``Session``: what the program knows about its live license, safe to print and log.

One ``Session`` per login. A heartbeat that brings new variables (a tier
upgrade) swaps its state in place, so code holding the object sees the change
at once. The full license key never appears in ``repr``/``str``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, FrozenSet, Mapping, Optional

from ._grants import compute_grants, tier_of
from ._protocol import mask_key

_lineages = itertools.count(1)


@dataclass(frozen=True)
class _State:
    license_variables: Dict[str, Any]
    app_variables: Dict[str, Any]
    tier: Optional[str]
    grants: FrozenSet[str]
    expires_at: Optional[datetime]


class Session:
    """A live (or ended) license session of a ``Guard``.

    Attributes read the newest state: ``license_variables``, ``app_variables``,
    ``tier``, ``features``, ``expires_at`` (UTC, ``None`` for a lifetime
    offline file), ``kind`` (``"online"``/``"offline"``). ``license_key`` is
    masked; ``reveal_license_key()`` returns it whole for the rare caller that
    needs it.
    """

    __slots__ = ("_key", "_lost_code", "_state", "kind", "lineage")

    def __init__(self, license_key: str, kind: str, state: _State) -> None:
        self._key = license_key
        self.kind = kind
        self._state = state
        self._lost_code: Optional[str] = None
        self.lineage = next(_lineages)

    # -- what the license says ------------------------------------------------
    @property
    def license_key(self) -> str:
        return mask_key(self._key)

    def reveal_license_key(self) -> str:
        return self._key

    @property
    def license_variables(self) -> Dict[str, Any]:
        return dict(self._state.license_variables)

    @property
    def app_variables(self) -> Dict[str, Any]:
        return dict(self._state.app_variables)

    @property
    def tier(self) -> Optional[str]:
        return self._state.tier

    @property
    def features(self) -> FrozenSet[str]:
        """Everything this license grants: its tier and the tiers below, listed features,
        and truthy variables (what ``has_feature`` checks)."""
        return self._state.grants

    @property
    def expires_at(self) -> Optional[datetime]:
        return self._state.expires_at

    # -- lifecycle ----------------------------------------------------------
    @property
    def active(self) -> bool:
        """False once the session was lost or logged out."""
        return self._lost_code is None

    @property
    def lost_code(self) -> Optional[str]:
        """Why the session ended (``revoked``, ``logout``, ...), or ``None`` while active."""
        return self._lost_code

    def _end(self, code: str) -> None:
        if self._lost_code is None:
            self._lost_code = code

    def __repr__(self) -> str:
        state = "active" if self.active else f"ended:{self._lost_code}"
        return (
            f"Session(license_key={self.license_key!r}, kind={self.kind!r}, "
            f"tier={self.tier!r}, expires_at={self.expires_at!r}, {state})"
        )

    __str__ = __repr__


def build_state(
    license_variables: Optional[Mapping[str, Any]],
    app_variables: Optional[Mapping[str, Any]],
    expires_at_epoch: Optional[float],
    *,
    tiers: Any,
    tier_variable: str,
    features_variable: str,
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
    )
