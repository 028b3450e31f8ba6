"""Calibration to published figures with approximate Bayesian computation (pyabc's ABC-SMC).

``commnet calibrate CALIBRATION.yaml`` reads a calibration file (:class:`CalibrationSpec`):
a base scenario, the parameters to fit with uniform priors, and the targets — observed values
with their standard errors, each mapped to a model metric averaged over stated months. It
runs ABC-SMC (Toni et al. 2009; Klinger, Rickert & Hasenauer 2018, *Bioinformatics* 34:3591,
the ``pyabc`` library) with the distance

.. math:: d(x, y) = \\Big(\\sum_j \\big((x_j - y_j)/s_j\\big)^2\\Big)^{1/2}

(targets in units of their standard errors; held-out targets excluded) and quantile-based
tolerances, on the local process pool (pyabc's multicore sampler), one process, or a Dask
cluster (pyabc's Dask sampler).  Generations are stored in an SQLite database (``abc.db``)
as they finish, so an interrupted calibration resumes with ``--resume``.  Then it writes

* ``posterior.parquet`` — the last generation's particles and weights (and every earlier one,
  with its generation number);
* ``predictive.csv`` — a posterior predictive check: targets simulated at posterior draws
  with fresh seeds, median and 90% interval, against the observed values.  A target marked
  ``held_out: true`` is simulated and reported here but left out of the distance, so its row
  is a prediction, not a fit;
* ``calibration.png`` — posterior marginals over the prior ranges, and predicted vs observed;
* ``<base>_calibrated.yaml`` — a scenario that ``extends:`` the base with the posterior
  medians, the posterior summarised in a comment block;
* ``identification.csv`` — per parameter, posterior 90% interval width over prior width and
  posterior sd over prior sd (near 1: the targets do not identify it);
* ``correlations.csv`` — weighted pairwise correlations of the last generation's particles
  (a ridge between two parameters shows as a correlation near ±1);
* ``manifest.json`` — kind, calibration and base files, seed, generations, evaluations,
  package versions and git commit (what ``commnet report`` reads).

Every model evaluation is seeded from (calibration seed, the particle's parameter values),
so a particle's simulation is reproducible, and the predictive check draws from a generator
seeded from the calibration seed.  pyabc itself proposes particles from numpy's legacy global
generator, reseeded in each of its worker processes; commnet never seeds or touches that
global state, so two calibrations with the same file agree in distribution, not particle by
particle (a documented limitation of building on pyabc).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError, model_validator

from ..loader import ScenarioError, load_scenario, load_yaml_chain, validation_problems
from ..schema import Strict

__all__ = ["CalibrationSpec", "SurveyModel", "calibrate", "load_calibration"]


class Prior(Strict):
    """A parameter to fit: its dotted scenario path and a uniform prior on [low, high]."""

    path: str = Field(min_length=1, description="dotted scenario path, as for --set")
    low: float
    high: float
    integer: bool = Field(False, description="round draws to the nearest integer")

    def value(self, x: float) -> float | int:
        """A prior draw as the scenario field takes it."""
        return round(x) if self.integer else float(x)

    @model_validator(mode="after")
    def _order(self) -> Prior:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ValueError(f"low ({self.low}) must be finite and below high ({self.high})")
        return self


class Target(Strict):
    """An observed value and the model quantity it is compared with."""

    name: str = Field(min_length=1)
    metric: str = Field(min_length=1, description="a metric of the model (docs/ODD.md §8)")
    months: tuple[int, int] = Field(description="first and last month averaged (inclusive)")
    group: str = Field("overall", description="group whose value is used")
    observed: float
    sd: Annotated[float, Field(gt=0.0)] = Field(description="standard error of the observation")
    source: str = ""
    held_out: bool = Field(
        False, description="simulated and reported in the posterior predictive check but left "
        "out of the distance: a statement the fit predicts rather than reproduces")


class ABCSettings(Strict):
    """ABC-SMC settings."""

    population_size: Annotated[int, Field(ge=10, le=10_000)] = 100
    generations: Annotated[int, Field(ge=1, le=50)] = 6
    min_epsilon: Annotated[float, Field(ge=0.0)] = 0.0
    replicates: Annotated[int, Field(ge=1, le=20)] = Field(
        1, description="model runs averaged per particle")
    predictive_draws: Annotated[int, Field(ge=2, le=1000)] = 40


class CalibrationSpec(Strict):
    """A calibration file."""

    name: str = Field(min_length=1)
    description: str = ""
    base: str = Field(description="base scenario file, relative to the calibration file")
    set: dict[str, Any] = Field(default_factory=dict,
                                description="fixed changes for the fit (dotted path: value)")
    seed: Annotated[int, Field(ge=0)] = 0
    parameters: list[Prior] = Field(min_length=1)
    targets: list[Target] = Field(min_length=1)
    abc: ABCSettings = ABCSettings()

    @model_validator(mode="after")
    def _unique(self) -> CalibrationSpec:
        for what, names in (("parameters", [p.path for p in self.parameters]),
                            ("targets", [t.name for t in self.targets])):
            if len(set(names)) != len(names):
                raise ValueError(f"{what} must be unique: {names}")
        for t in self.targets:
            if t.months[0] > t.months[1] or t.months[0] < 0:
                raise ValueError(f"target {t.name}: months {t.months} must be 0 <= first <= last")
        if all(t.held_out for t in self.targets):
            raise ValueError("every target is held out: at least one must be fitted")
        return self

    @property
    def fitted(self) -> list[Target]:
        """The targets in the distance (not held out)."""
        return [t for t in self.targets if not t.held_out]


def _fixed(spec: CalibrationSpec) -> list[str]:
    """The calibration's fixed changes as ``--set`` overrides (values as JSON, valid YAML)."""
    import json

    return [f"{k}={json.dumps(v)}" for k, v in spec.set.items()]


def load_calibration(path: str | Path) -> tuple[CalibrationSpec, list[str], Path]:
    """Read and validate a calibration file; returns (spec, fixed overrides, base path).

    Every prior's path (at both ends of its range) and every target's metric, months and group
    are checked against the base scenario before anything runs.
    """
    from ..reporters import METRICS

    path = Path(path)
    raw = load_yaml_chain(path)[0][1]
    try:
        spec = CalibrationSpec.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(validation_problems(exc, raw, [(str(path), raw)])) from None
    base_path = path.parent / spec.base
    fixed = _fixed(spec)
    scenario = load_scenario(base_path, fixed)
    for i, prior in enumerate(spec.parameters):
        for value in (prior.low, prior.high):
            try:
                load_scenario(base_path, [*fixed, f"{prior.path}={value!r}"])
            except ScenarioError as exc:
                raise ScenarioError([(str(path), f"parameters[{i}]", f"{prior.path}={value}: "
                                      + "; ".join(m for _, _, m in exc.problems))]) from None
    for i, t in enumerate(spec.targets):
        if t.metric not in METRICS:
            raise ScenarioError([(str(path), f"targets[{i}].metric",
                                  f"unknown metric {t.metric!r}; see docs/ODD.md §8")])
        if t.months[1] > scenario.steps:
            raise ScenarioError([(str(path), f"targets[{i}].months",
                                  f"month {t.months[1]} is after the run's {scenario.steps} steps")])
        groups = [g.name for g in scenario.groups] + ["overall"]
        if t.group not in groups:
            raise ScenarioError([(str(path), f"targets[{i}].group",
                                  f"unknown group {t.group!r}; known: {', '.join(groups)}")])
    return spec, fixed, base_path


class SurveyModel:
    """The model as pyabc sees it: parameters in, target values out (picklable)."""

    def __init__(self, spec: CalibrationSpec, fixed: list[str], base_path: Path) -> None:
        self.spec = spec
        self.fixed = list(fixed)
        self.base_path = str(base_path)

    def scenario(self, params: dict[str, float]):
        """The base scenario with the fixed changes and the parameter values set."""
        over = [f"{p.path}={p.value(params[p.path])!r}" for p in self.spec.parameters]
        return load_scenario(self.base_path, [*self.fixed, *over], check_memory=False)

    def seeds(self, params: dict[str, float], salt: int = 0) -> list[int]:
        """Replicate seeds from (calibration seed, parameter values, salt)."""
        key = ",".join(f"{float(params[p.path]):.17g}" for p in self.spec.parameters)
        digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
        ss = np.random.SeedSequence([self.spec.seed, digest, salt])
        return [int(s.generate_state(1, np.uint64)[0] >> np.uint64(1))
                for s in ss.spawn(self.spec.abc.replicates)]

    def simulate(self, params: dict[str, float], salt: int = 0) -> dict[str, float]:
        """Target values (mean over the replicates) at ``params``."""
        from ..model import CommissioningModel

        scenario = self.scenario(params)
        names = [g.name for g in scenario.groups] + ["overall"]
        sums = {t.name: 0.0 for t in self.spec.targets}
        seeds = self.seeds(params, salt)
        metrics: dict[str, set[int]] = {}  # each metric computed at its targets' months only
        for t in self.spec.targets:
            metrics.setdefault(t.metric, set()).update(range(t.months[0], t.months[1] + 1))
        for seed in seeds:
            model = CommissioningModel(scenario, seed=seed, metrics=metrics)
            for _ in range(scenario.steps):
                model.step()
            data = model.datacollector.model_vars
            for t in self.spec.targets:
                col = names.index(t.group)
                series = np.asarray([v[col] for v in data[t.metric][t.months[0]: t.months[1] + 1]],
                                    float)
                sums[t.name] += float(np.nanmean(series)) if np.isfinite(series).any() else np.nan
        return {k: v / len(seeds) for k, v in sums.items()}

    def __call__(self, params: Any) -> dict[str, float]:
        """The model interface for pyabc: a Parameter mapping in, the fitted targets' values
        out (held-out targets are left to the predictive check)."""
        values = self.simulate(dict(params))
        return {t.name: values[t.name] for t in self.spec.fitted}


def _sampler(executor: str, workers: int | None, scheduler: str | None):
    import pyabc

    if executor == "serial":
        return pyabc.sampler.SingleCoreSampler(), None
    if executor == "dask" or scheduler:
        from distributed import Client, LocalCluster

        if scheduler:
            client = Client(scheduler, timeout="30s")
            cluster = None
        else:
            cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None)
            client = Client(cluster)
        return pyabc.sampler.DaskDistributedSampler(client, batch_size=1), (client, cluster)
    return pyabc.sampler.MulticoreEvalParallelSampler(n_procs=workers or 2), None


def calibrate(path: str | Path, out: Path, *, workers: int | None = None, executor: str = "local",
              scheduler: str | None = None, resume: bool = False, generations: int | None = None,
              population_size: int | None = None, console: Any = None) -> dict[str, Any]:
    """Run (or resume) a calibration and write its outputs to ``out`` (module docstring)."""
    import logging

    import pyabc

    spec, fixed, base_path = load_calibration(path)
    if generations is not None or population_size is not None:
        spec = spec.model_copy(update={"abc": spec.abc.model_copy(update={
            k: v for k, v in (("generations", generations), ("population_size", population_size))
            if v is not None})})
    out.mkdir(parents=True, exist_ok=True)
    db_file = out / "abc.db"
    if db_file.exists() and not resume:
        raise ScenarioError([(str(out), "--resume", "a calibration is stored here already: "
                              "use --resume to continue it or choose another --out")])
    logging.getLogger("ABC").setLevel(logging.WARNING)
    model = SurveyModel(spec, fixed, base_path)
    prior = pyabc.Distribution(**{p.path: pyabc.RV("uniform", p.low, p.high - p.low)
                                  for p in spec.parameters})
    weights = {t.name: 1.0 / t.sd for t in spec.fitted}
    observed = {t.name: t.observed for t in spec.fitted}
    sampler, dask = _sampler(executor, workers, scheduler)
    try:
        abc = pyabc.ABCSMC(model, prior, pyabc.PNormDistance(p=2, fixed_weights=weights),
                           population_size=spec.abc.population_size, sampler=sampler,
                           eps=pyabc.QuantileEpsilon(alpha=0.5))
        db = f"sqlite:///{db_file.resolve()}"
        if resume and db_file.exists():
            history = abc.load(db, 1)
            done = history.max_t + 1
        else:
            history = abc.new(db, observed)
            done = 0
        remaining = spec.abc.generations - done
        if remaining > 0:
            history = abc.run(max_nr_populations=remaining, minimum_epsilon=spec.abc.min_epsilon)
    finally:
        if dask is not None:
            client, cluster = dask
            client.close()
            if cluster is not None:
                cluster.close()
    return write_outputs(spec, model, history, out, base_path, Path(path), console)


def _write_manifest(spec: CalibrationSpec, out: Path, base_path: Path, spec_path: Path,
                    history: Any) -> None:
    """``manifest.json``: what was fitted to what, seed, generations, versions (read by
    ``commnet report``)."""
    import json
    import platform
    import time

    from ..results import git_commit, package_versions

    manifest = {
        "kind": "commnet calibration results", "name": spec.name,
        "calibration_file": str(spec_path), "base_scenario": str(base_path.resolve()),
        "seed": spec.seed, "generations": history.max_t + 1,
        "evaluations": int(history.total_nr_simulations),
        "spec": spec.model_dump(mode="json"), "versions": package_versions(),
        "git_commit": git_commit(), "platform": platform.platform(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))


def weighted_correlations(particles: pd.DataFrame, w: np.ndarray,
                          columns: Sequence[str]) -> pd.DataFrame:
    """Weighted Pearson correlations between the columns of a weighted particle sample."""
    x = particles[list(columns)].to_numpy(float)
    w = np.asarray(w, float) / np.sum(w)
    d = x - w @ x
    cov = (d * w[:, None]).T @ d
    sd = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(sd, sd)
    return pd.DataFrame(corr, index=list(columns), columns=list(columns))


def _weighted_quantile(x: np.ndarray, w: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """Weighted quantiles (midpoint rule on the cumulative weights)."""
    order = np.argsort(x)
    ws = w[order] / w.sum()
    cw = np.cumsum(ws) - ws / 2
    return np.interp(q, cw, x[order])


def write_outputs(spec: CalibrationSpec, model: SurveyModel, history: Any, out: Path,
                  base_path: Path, spec_path: Path, console: Any = None) -> dict[str, Any]:
    """Posterior table, predictive check, identification table, figure, calibrated scenario."""
    frames = []
    for t in range(history.max_t + 1):
        df, w = history.get_distribution(t=t)
        df = df.reset_index(drop=True)
        df["weight"] = np.asarray(w)
        df["generation"] = t
        frames.append(df)
    posterior = pd.concat(frames, ignore_index=True)
    posterior.to_parquet(out / "posterior.parquet")
    last = posterior[posterior.generation == history.max_t]
    w = last["weight"].to_numpy(float)
    w = w / w.sum()
    summary = {}
    ident = []
    for p in spec.parameters:
        x = last[p.path].to_numpy(float)
        q05, q50, q95 = _weighted_quantile(x, w, [0.05, 0.5, 0.95])
        mean = float(np.sum(w * x))
        sd = float(np.sqrt(np.sum(w * (x - mean) ** 2)))
        summary[p.path] = {"median": float(q50), "q05": float(q05), "q95": float(q95)}
        ident.append({"parameter": p.path, "prior_low": p.low, "prior_high": p.high,
                      "median": q50, "q05": q05, "q95": q95, "mean": mean, "sd": sd,
                      "sd_ratio": sd / ((p.high - p.low) / math.sqrt(12.0)),
                      "width_ratio": (q95 - q05) / (0.9 * (p.high - p.low))})
    ident = pd.DataFrame(ident)
    ident.to_csv(out / "identification.csv", index=False)
    weighted_correlations(last, w, [p.path for p in spec.parameters]).to_csv(
        out / "correlations.csv")
    # posterior predictive check: weighted draws, fresh seeds
    rng = np.random.default_rng(np.random.SeedSequence([spec.seed, 7]))
    draws = rng.choice(len(last), size=spec.abc.predictive_draws, p=w)
    sims = []
    for k, i in enumerate(draws):
        params = {p.path: float(last[p.path].iloc[i]) for p in spec.parameters}
        sims.append(model.simulate(params, salt=1000 + k))
    sims = pd.DataFrame(sims)
    pred = []
    for t in spec.targets:
        v = sims[t.name].to_numpy(float)
        v = v[np.isfinite(v)]
        lo, med, hi = np.quantile(v, [0.05, 0.5, 0.95]) if v.size else (np.nan,) * 3
        pred.append({"target": t.name, "metric": t.metric, "months": f"{t.months[0]}-{t.months[1]}",
                     "held_out": t.held_out, "observed": t.observed, "sd": t.sd,
                     "predicted_median": med,
                     "predicted_q05": lo, "predicted_q95": hi,
                     "covered": bool(lo <= t.observed <= hi) if v.size else False})
    pred = pd.DataFrame(pred)
    pred.to_csv(out / "predictive.csv", index=False)
    _figure(spec, last, w, pred, out / "calibration.png")
    scenario_file = out / f"{base_path.stem}_calibrated.yaml"
    _calibrated_scenario(spec, summary, ident, pred, scenario_file, base_path, spec_path)
    _write_manifest(spec, out, base_path, spec_path, history)
    return {"posterior": last, "identification": ident, "predictive": pred,
            "scenario": scenario_file, "generations": history.max_t + 1,
            "evaluations": int(history.total_nr_simulations)}


def _figure(spec: CalibrationSpec, last: pd.DataFrame, w: np.ndarray, pred: pd.DataFrame,
            path: Path) -> None:
    from matplotlib.figure import Figure  # no pyplot: the backend is never switched

    n = len(spec.parameters)
    fig = Figure(figsize=(3.0 * (n + 1), 3.0))
    axes = fig.subplots(1, n + 1)
    for ax, p in zip(axes[:n], spec.parameters, strict=True):
        ax.hist(last[p.path].to_numpy(float), bins=15, range=(p.low, p.high), weights=w,
                color="C0", alpha=0.8)
        ax.set_xlim(p.low, p.high)
        ax.set_title(p.path, fontsize=8)
        ax.set_yticks([])
    ax = axes[n]
    y = np.arange(len(pred))
    ax.errorbar(pred.predicted_median, y, xerr=[pred.predicted_median - pred.predicted_q05,
                                                pred.predicted_q95 - pred.predicted_median],
                fmt="o", color="C0", label="posterior predictive (90%)")
    ax.errorbar(pred.observed, y + 0.2, xerr=1.96 * pred.sd, fmt="s", color="C3",
                label="observed (95%)")
    ax.set_yticks(y, [f"{t} (held out)" if h else t
                      for t, h in zip(pred.target, pred.held_out, strict=True)], fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.6, len(pred) + 0.9)  # room above the targets for the legend
    ax.legend(fontsize=6, loc="upper left")
    ax.set_title("targets", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _calibrated_scenario(spec: CalibrationSpec, summary: dict[str, dict[str, float]],
                         ident: pd.DataFrame, pred: pd.DataFrame, path: Path, base_path: Path,
                         spec_path: Path) -> None:
    import os

    import yaml

    nested: dict[str, Any] = {}
    for p in spec.parameters:
        node = nested
        parts = p.path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        median = summary[p.path]["median"]
        node[parts[-1]] = p.value(median) if p.integer else round(median, 4)
    lines = [f"# Calibrated by `commnet calibrate {spec_path}` ({spec.name}): posterior medians.",
             "# Posterior (weighted 5% / 50% / 95%; width = 90% interval / 90% of the prior):"]
    for r in ident.itertuples():
        lines.append(f"#   {r.parameter}: {r.q05:.4g} / {r.median:.4g} / {r.q95:.4g}"
                     f"  (prior {r.prior_low:g}-{r.prior_high:g}, width {r.width_ratio:.2f})")
    lines.append("# Targets: observed vs posterior predictive median [90%]:")
    for r in pred.itertuples():
        lines.append(f"#   {r.target}: {r.observed:.3f} vs {r.predicted_median:.3f} "
                     f"[{r.predicted_q05:.3f}, {r.predicted_q95:.3f}]"
                     + ("  (held out)" if r.held_out else ""))
    rel = os.path.relpath(base_path.resolve(), path.parent.resolve())
    body = {"extends": rel, "name": f"{base_path.stem}_calibrated",
            "description": f"{base_path.stem} with parameters fitted by {spec.name}", **nested}
    path.write_text("\n".join(lines) + "\n" + yaml.safe_dump(body, sort_keys=False))
