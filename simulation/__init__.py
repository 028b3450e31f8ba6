"""commnet: agent-based simulation of healthcare commissioning networks.

Data flows one way: scenario (:mod:`~simulation.scenario`, :mod:`~simulation.loader`) →
network (:mod:`~simulation.population`, :mod:`~simulation.network`) → model
(:mod:`~simulation.model`) → metrics (:mod:`~simulation.measures`,
:mod:`~simulation.reporters`) → results (:mod:`~simulation.results`) → figures
(:mod:`~simulation.figures`).  The exchange rules (:mod:`~simulation.exchange`) work on any
weighted network.
"""

from .experiment import run_experiment
from .loader import ScenarioError, load_scenario
from .model import CommissioningModel
from .reporters import METRICS
from .results import RunResult, run_replicate, run_scenario, write_results
from .scenario import Scenario, scenario_hash

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

__version__ = "0.1.0"
