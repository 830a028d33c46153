"""Which license variable values grant the feature of their name (issue 18: "nan" did)."""

import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from authforge_guard import has_feature
from authforge_guard._guard._grants import is_truthy

NOT_GRANTING = [
    "nan",
    "NaN",
    " -nan ",
    "inf",
    "-inf",
    "Infinity",
    "1e999",
    "",
    "   ",
    "0",
    "0.0",
    "-0",
    "false",
    "no",
    "off",
    "maybe",
    float("nan"),
    float("inf"),
    -float("inf"),
    0,
    0.0,
    False,
    None,
    [],
    {},
    [1],
    "tru e",
]
GRANTING = ["true", "TRUE", " Yes ", "1", "on", "On", "2", "0.5", "-3", True, 1, -1, 0.25, 1e308]


@pytest.mark.parametrize("value", NOT_GRANTING, ids=repr)
def test_these_do_not_grant(value):
    assert is_truthy(value) is False


@pytest.mark.parametrize("value", GRANTING, ids=repr)
def test_these_grant(value):
    assert is_truthy(value) is True


def _numeric_text_value(text):
    try:
        return float(text)
    except ValueError:
        return None


@given(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(),
        st.text(max_size=12),
        st.booleans(),
        st.none(),
    )
)
@example("nAn")
@example(" INF ")
@example("\u00a0nan")
def test_only_true_words_and_finite_non_zero_numbers_grant(value):
    if isinstance(value, bool):
        expected = value
    elif isinstance(value, (int, float)):
        expected = math.isfinite(value) and value != 0
    elif isinstance(value, str):
        number = _numeric_text_value(value.strip())
        expected = value.strip().lower() in {"true", "yes", "1", "on"} or (
            number is not None and math.isfinite(number) and number != 0
        )
    else:
        expected = False
    assert is_truthy(value) is expected


def test_a_nan_variable_grants_nothing_on_a_real_session(af):
    key = af.create_license({"beta": "NaN", "gamma": "inf", "delta": "", "sso": " yes "})
    guard = af.guard(license_key=key, hwid_override="truthiness")
    try:
        guard.ensure()
        assert [
            name for name in ("beta", "gamma", "delta", "sso") if has_feature(name, guard=guard)
        ] == ["sso"]
    finally:
        guard.logout()
