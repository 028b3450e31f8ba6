"""Designs: the points of an experiment.

* ``grid`` — full factorial of the parameters' values (the first parameter varies slowest);
* ``cases`` — named cases (scenario files and/or changes);
* ``latin_hypercube`` — :class:`scipy.stats.qmc.LatinHypercube`;
* ``sobol`` — Saltelli's scheme, :func:`SALib.sample.sobol.sample`;
* ``morris`` — Morris trajectories, :func:`SALib.sample.morris.sample`.

Sampled designs draw points in the unit hypercube and map each coordinate through the inverse
CDF of its parameter's distribution (:mod:`scipy.stats` ``ppf``); a list of values is a set of
equally likely categories.  The unit coordinates are kept (sensitivity analysis uses them).
Every random choice comes from a generator seeded from the experiment's root seed, so the
same file always gives the same points; global random state is never touched.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .spec import ParameterSpec

if TYPE_CHECKING:  # pragma: no cover
    from .spec import Experiment

__all__ = [
    "Design",
    "build_design",
    "design_rng",
    "grid_points",
    "latin_hypercube_unit",
    "morris_unit",
    "run_seeds",
    "sobol_unit",
    "to_values",
]

#: ``spawn_key`` prefix of the seed sequences derived from an experiment's root seed (chosen
#: not to collide with :func:`simulation.results.replicate_seeds`, whose keys are ``(i,)``).
_KEY = 0xC0FFEE
_DESIGN, _RUNS, _ANALYSIS = 1, 2, 3


def design_rng(root: int) -> np.random.Generator:
    """The generator that draws a design's points, derived from the root seed."""
    return np.random.default_rng(np.random.SeedSequence(root, spawn_key=(_KEY, _DESIGN)))


def analysis_seed(root: int) -> int:
    """A positive integer seed for bootstrap confidence intervals (SALib)."""
    ss = np.random.SeedSequence(root, spawn_key=(_KEY, _ANALYSIS))
    return int(ss.generate_state(1, np.uint32)[0]) | 1


def _seeds(ss: np.random.SeedSequence, n: int) -> list[int]:
    return [int(c.generate_state(1, np.uint64)[0] >> np.uint64(1)) for c in ss.spawn(n)]


def run_seeds(root: int, points: int, replicates: int, scheme: str = "common") -> np.ndarray:
    """Seed of every run, shape (replicates, points).

    ``common``: replicate *r* has the same seed at every point — the seeds of
    :func:`simulation.results.replicate_seeds` ``(root, replicates)``, so replicate *r* of a
    point equals ``commnet run --seed root`` replicate *r* of its scenario.  ``independent``:
    each point spawns its own replicate seeds.
    """
    if scheme == "common":
        row = _seeds(np.random.SeedSequence(root), replicates)
        return np.repeat(np.asarray(row, np.int64)[:, None], points, axis=1)
    out = np.empty((replicates, points), np.int64)
    for p in range(points):
        out[:, p] = _seeds(np.random.SeedSequence(root, spawn_key=(_KEY, _RUNS, p)), replicates)
    return out


# --------------------------------------------------------------------------- samplers


def latin_hypercube_unit(d: int, n: int, rng: np.random.Generator,
                         optimization: str | None = None) -> np.ndarray:
    """``n`` Latin hypercube points in [0, 1)^d (scipy.stats.qmc)."""
    from scipy.stats import qmc

    return qmc.LatinHypercube(d, optimization=optimization, rng=rng).random(n)


def sobol_unit(d: int, n: int, rng: np.random.Generator, second_order: bool = False
               ) -> np.ndarray:
    """Saltelli's cross-sampled Sobol' points in [0, 1]^d (SALib): N·(D+2) rows, or
    N·(2D+2) with ``second_order``; blocks of D+2 (2D+2) rows belong to one base sample."""
    from SALib.sample import sobol

    problem = {"num_vars": d, "names": [f"x{i}" for i in range(d)], "bounds": [[0.0, 1.0]] * d}
    return sobol.sample(problem, n, calc_second_order=second_order, scramble=True, seed=rng)


def morris_unit(d: int, trajectories: int, rng: np.random.Generator, levels: int = 4
                ) -> np.ndarray:
    """Morris trajectories on a ``levels`` grid in [0, 1]^d (SALib): r·(D+1) rows."""
    from SALib.sample import morris

    problem = {"num_vars": d, "names": [f"x{i}" for i in range(d)], "bounds": [[0.0, 1.0]] * d}
    return morris.sample(problem, trajectories, num_levels=levels, seed=rng)


def to_values(spec: ParameterSpec, u: np.ndarray) -> list[Any]:
    """Map unit coordinates to parameter values (inverse CDF, or categories)."""
    from scipy import stats

    u = np.asarray(u, float)
    if spec.is_values:
        k = len(spec.values)
        idx = np.minimum((u * k).astype(int), k - 1)
        return [spec.values[i] for i in idx]
    dist = spec.distribution
    if dist == "uniform" and spec.integer:
        lo, hi = int(spec.low), int(spec.high)
        return [int(v) for v in np.minimum(np.floor(lo + u * (hi - lo + 1)), hi)]
    if dist == "uniform":
        x = spec.low + u * (spec.high - spec.low)
    elif dist == "loguniform":
        x = stats.loguniform(spec.low, spec.high).ppf(u)
    elif dist == "triangular":
        width = spec.high - spec.low
        x = stats.triang((spec.mode - spec.low) / width, loc=spec.low, scale=width).ppf(u)
    else:  # normal, optionally truncated
        uc = np.clip(u, 1e-12, 1 - 1e-12)
        if spec.low is None and spec.high is None:
            x = stats.norm(spec.mean, spec.sd).ppf(uc)
        else:
            a = -np.inf if spec.low is None else (spec.low - spec.mean) / spec.sd
            b = np.inf if spec.high is None else (spec.high - spec.mean) / spec.sd
            x = stats.truncnorm(a, b, loc=spec.mean, scale=spec.sd).ppf(uc)
    if spec.integer:
        return [int(v) for v in np.rint(x)]
    return [float(v) for v in x]


def grid_points(parameters: dict[str, ParameterSpec]) -> dict[str, list[Any]]:
    """Full factorial of the parameters' values (first parameter slowest).

    A range with ``levels`` gives evenly spaced values (geometric for loguniform).
    """
    axes = []
    for spec in parameters.values():
        if spec.is_values:
            axes.append(list(spec.values))
        else:
            space = np.geomspace if spec.distribution == "loguniform" else np.linspace
            vals = space(spec.low, spec.high, spec.levels)
            axes.append([int(v) for v in np.rint(vals)] if spec.integer
                        else [float(v) for v in vals])
    combos = list(itertools.product(*axes))
    return {name: [c[i] for c in combos] for i, name in enumerate(parameters)}


# --------------------------------------------------------------------------- the design


def _lookup(data: Any, path: str) -> Any:
    node = data
    for part in path.split("."):
        if isinstance(node, list):
            try:
                node = node[int(part)]
            except (ValueError, IndexError):
                return None
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def _leaves(changes: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of the leaf values of a ``set:`` mapping (nested mappings flattened)."""
    out = []
    for key, value in changes.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.extend(_leaves(value, path + "."))
        else:
            out.append(path)
    return out


@dataclass
class Design:
    """The points of an experiment.

    Attributes
    ----------
    kind : str
    names : list of str
        Parameter paths (the columns of the design).
    columns : dict of str to list
        Each parameter's value at each point, as applied to the scenario.
    case : list of int
        Index of the base scenario of each point (cases designs; else all 0).
    case_names : list of str or None
        Case name of each point (cases designs).
    unit : ndarray or None
        Unit-hypercube coordinates of sampled designs, shape (points, parameters).
    """

    kind: str
    names: list[str]
    columns: dict[str, list[Any]]
    case: list[int]
    case_names: list[str] | None = None
    unit: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.case)

    def values(self, point: int) -> dict[str, Any]:
        """Parameter values to set on the base scenario for ``point``."""
        if self.kind == "cases":
            return {}  # the case's changes are already in its base
        return {name: self.columns[name][point] for name in self.names}

    def frame(self) -> pd.DataFrame:
        """One row per point: ``point``, ``case`` (cases designs), parameters, and the unit
        coordinates (``unit:<parameter>``) of sampled designs."""
        cols: dict[str, Any] = {"point": np.arange(len(self), dtype=np.int64)}
        if self.case_names is not None:
            cols["case"] = list(self.case_names)
        for name in self.names:
            cols[name] = self.columns[name]
        if self.unit is not None:
            for i, name in enumerate(self.names):
                cols[f"unit:{name}"] = self.unit[:, i]
        return pd.DataFrame(cols)


def build_design(exp: Experiment) -> Design:
    """Generate the design of an experiment from its spec and root seed."""
    spec = exp.spec
    kind = spec.design.kind
    params = spec.parameters
    names = list(params)
    if kind == "grid":
        cols = grid_points(params)
        n = len(next(iter(cols.values())))
        return Design(kind, names, cols, [0] * n)
    if kind == "cases":
        keys = list(dict.fromkeys(k for c in spec.cases
                                  for k in _leaves({**spec.set, **c.set})))
        cols = {k: [_lookup(exp.bases[i], k) for i in range(len(spec.cases))] for k in keys}
        return Design(kind, keys, cols, list(range(len(spec.cases))),
                      [c.name for c in spec.cases])
    rng = design_rng(spec.seed)
    d = len(names)
    if kind == "latin_hypercube":
        unit = latin_hypercube_unit(d, spec.design.samples, rng, spec.design.optimization)
    elif kind == "sobol":
        unit = sobol_unit(d, spec.design.samples, rng, spec.design.second_order)
    else:
        unit = morris_unit(d, spec.design.samples, rng, spec.design.levels)
    cols = {name: to_values(params[name], unit[:, i]) for i, name in enumerate(names)}
    return Design(kind, names, cols, [0] * unit.shape[0], None, unit)
