"""The lower bounds ``setup.cfg`` declares are the releases ``tests/versions`` runs (its
``OLDEST``): a bound raised or lowered without the test, or the other way round, fails here."""

from __future__ import annotations

import configparser
import re

import pytest

from tests.versions import (
    test_flask_versions,
    test_typer_versions,
    test_urllib3_versions,
    test_wrapt_versions,
)
from tests.versions.conftest import ROOT


def lower_bounds() -> dict[str, str]:
    """Every ``name>=version`` of ``setup.cfg``'s requirements and extras, by name."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    text = config["options"]["install_requires"] + "\n"
    text += "\n".join(config["options.extras_require"].values())
    bounds: dict[str, str] = {}
    for name, version in re.findall(r"^\s*([A-Za-z0-9_.-]+)>=([\d.]+)", text, re.MULTILINE):
        assert bounds.setdefault(name.lower(), version) == version, f"{name}: two lower bounds"
    return bounds


def release(version: str) -> tuple[int, ...]:
    parts = [int(part) for part in version.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


@pytest.mark.parametrize(
    ("distribution", "module"),
    [
        ("wrapt", test_wrapt_versions),
        ("urllib3", test_urllib3_versions),
        ("typer", test_typer_versions),
        ("flask", test_flask_versions),
    ],
)
def test_setup_cfg_lower_bound_is_the_oldest_release_tested(distribution, module):
    assert release(lower_bounds()[distribution]) == release(module.OLDEST)
