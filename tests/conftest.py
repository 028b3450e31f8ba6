"""Shared fixtures: small scenarios that run in a fraction of a second."""

from pathlib import Path

import pytest

from simulation.loader import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"

TINY = """
name: tiny
seed: 5
steps: 24
burn_in: 24
need: {locality_concentration: 25, practice_concentration: 50}
groups:
  - {name: A, population: 60000, practices: {count: 8}, localities: {count: 2},
     commissioning_managers: 4}
  - {name: B, population: 90000, practices: {count: 12}, localities: {count: 3},
     commissioning_managers: 5}
providers:
  - {name: Acute, kind: acute, serves: [A, B]}
  - {name: MH, kind: mental_health, serves: [B]}
local_authorities:
  - {name: LA, serves: [A, B]}
"""

#: one commissioning group: the base scenario of the experiment, store and report tests
ONE_GROUP = """
name: tiny
seed: 5
steps: 24
burn_in: 24
groups:
  - {name: A, population: 60000, practices: {count: 8}, localities: {count: 2},
     commissioning_managers: 4}
providers: [{name: Acute, kind: acute, serves: [A]}]
local_authorities: [{name: LA, serves: [A]}]
"""


@pytest.fixture
def tiny_path(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY)
    return p


@pytest.fixture
def tiny(tiny_path):
    return load_scenario(tiny_path)


# ------------------------------------------------------------------ compiled kernels
try:
    import numba  # noqa: F401

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - numba is a dependency
    HAVE_NUMBA = False


@pytest.fixture(params=["python", pytest.param("numba", marks=pytest.mark.skipif(
    not HAVE_NUMBA, reason="numba not installed"))])
def kern(request, monkeypatch):
    """The kernels as plain Python and compiled by numba (tests of simulation._kernels)."""
    from types import SimpleNamespace

    from simulation import _kernels

    if request.param == "numba":
        monkeypatch.setenv("COMMNET_KERNELS", "numba")
        return _kernels.kernels()
    return SimpleNamespace(**_kernels._KERNELS)
