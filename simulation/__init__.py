"""commnet: agent-based simulation of healthcare commissioning networks.

Data flows one way: scenario (:mod:`~simulation.scenario`, :mod:`~simulation.loader`) →
network (:mod:`~simulation.population`, :mod:`~simulation.network`) → model
(:mod:`~simulation.model`) → metrics (:mod:`~simulation.measures`,
:mod:`~simulation.reporters`) → results (:mod:`~simulation.results`) → figures
(:mod:`~simulation.figures`).  The exchange rules (:mod:`~simulation.exchange`) work on any
weighted network.

The public names below are imported on first use (PEP 562 module ``__getattr__``), so that
``import simulation`` -- and with it ``commnet --help`` and ``commnet validate`` -- does not
pay for Mesa, pandas, pyarrow, scipy and networkx until a model is built or a result written.
``from simulation import CommissioningModel`` and ``simulation.run_scenario(...)`` work as
before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.3.3"

#: public name -> submodule that defines it (imported on first access)
_LAZY = {
    "METRICS": "reporters",
    "CommissioningModel": "model",
    "RunResult": "results",
    "Scenario": "scenario",
    "ScenarioError": "loader",
    "load_scenario": "loader",
    "run_experiment": "experiment",
    "run_replicate": "results",
    "run_scenario": "results",
    "scenario_hash": "scenario",
    "write_results": "results",
}

__all__ = [
    "METRICS",
    "CommissioningModel",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "run_experiment",
    "run_replicate",
    "run_scenario",
    "scenario_hash",
    "write_results",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .experiment import run_experiment
    from .loader import ScenarioError, load_scenario
    from .model import CommissioningModel
    from .reporters import METRICS
    from .results import RunResult, run_replicate, run_scenario, write_results
    from .scenario import Scenario, scenario_hash


def __getattr__(name: str) -> Any:
    """Import a public name's submodule on first access (PEP 562) and cache the name."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'simulation' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
