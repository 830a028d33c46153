"""What a license grants, computed once per session refresh so a feature gate is a set lookup.

A feature is granted when the license's tier is at or above it on the tier
ladder, when it is listed in the features variable (a JSON list or a
comma-separated string), or when the license variable of that name is truthy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

_TRUE_WORDS = frozenset({"true", "yes", "1", "on"})


def is_truthy(value: Any) -> bool:
    """Whether a license variable grants the feature of its name: JSON ``true``, a finite
    non-zero number (or its text, as a dashboard may store it), or the text
    ``true``/``yes``/``1``/``on`` (any case, spaces around).

    Nothing else: not ``nan`` or ``inf`` in any spelling (``float("nan") != 0`` is
    true, and a value a vendor never meant as "on" must not grant), not an empty
    string.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, float):
        return _finite_non_zero(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE_WORDS:
            return True
        try:
            return _finite_non_zero(float(text))
        except ValueError:
            return False
    return False


def _finite_non_zero(number: float) -> bool:
    return math.isfinite(number) and number != 0


def tier_of(variables: Mapping[str, Any] | None, tier_variable: str) -> str | None:
    """The license's tier name, normalised to lower case, or ``None``."""
    value = (variables or {}).get(tier_variable)
    if isinstance(value, str) and value.strip():
        return value.strip().lower()
    return None


def listed_features(variables: Mapping[str, Any] | None, features_variable: str) -> set[str]:
    value = (variables or {}).get(features_variable)
    if isinstance(value, str):
        items: Sequence[Any] = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        return set()
    return {item.strip().lower() for item in items if isinstance(item, str) and item.strip()}


def compute_grants(
    variables: Mapping[str, Any] | None,
    *,
    tiers: Sequence[str],
    tier_variable: str,
    features_variable: str,
) -> frozenset[str]:
    """Every feature name (lower case) the license grants."""
    grants = listed_features(variables, features_variable)
    tier = tier_of(variables, tier_variable)
    if tier is not None:
        grants.add(tier)
        if tier in tiers:
            grants.update(tiers[: tiers.index(tier) + 1])
    for name, value in (variables or {}).items():
        if (
            isinstance(name, str)
            and name not in (tier_variable, features_variable)
            and is_truthy(value)
        ):
            grants.add(name.strip().lower())
    return frozenset(grants)
