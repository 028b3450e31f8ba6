"""Experiments for policy analysts: designs, sweeps, comparisons and sensitivity analysis.

* :mod:`.spec` — experiment files (``experiments/*.yaml``) and their validation;
* :mod:`.designs` — grid, cases, Latin hypercube (scipy.stats.qmc), Sobol and Morris (SALib);
* :mod:`.executors` — local process pool, Dask distributed, or any concurrent.futures executor;
* :mod:`.store` — the resumable Parquet results store;
* :mod:`.outcomes` — reductions of metric time series (final, mean of last n, time to detect);
* :mod:`.runner` — :func:`run_experiment` / :func:`sweep`;
* :mod:`.compare` — scenarios compared with confidence intervals and effect sizes;
* :mod:`.sensitivity` — Sobol and Morris indices (SALib).
"""

from .runner import SweepReport, run_experiment, sweep
from .spec import Experiment, ExperimentSpec, load_experiment
from .store import read_results

__all__ = [
    "Experiment",
    "ExperimentSpec",
    "SweepReport",
    "load_experiment",
    "read_results",
    "run_experiment",
    "sweep",
]
