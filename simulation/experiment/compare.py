"""Comparing scenarios: means with 95% confidence intervals, differences and effect sizes.

``commnet compare a.yaml b.yaml c.yaml --replicates 30`` runs every scenario with the same
replicate seeds (common random numbers, derived from the first scenario's seed unless
``--seed`` is given) through the experiment machinery (so a comparison is stored, resumable
and can use any executor), then reports for each metric:

* per scenario: the mean over replicates and its 95% t-interval;
* per scenario after the first: the difference from the first, its 95% interval and Hedges'
  g.  When both scenarios ran the same replicate seeds the difference is *paired* by
  replicate (the interval of the mean paired difference); otherwise Welch's interval.

Hedges' g is the difference over the pooled standard deviation, times the small-sample
correction J = 1 − 3 / (4 (n₁ + n₂) − 9).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..loader import load_scenario
from ..reporters import METRICS
from .runner import SweepReport, sweep
from .spec import ExperimentSpec, experiment_from_spec

__all__ = ["CompareResult", "compare_table", "hedges_g", "mean_ci", "run_compare"]

#: Metrics shown by default (the CSV has every metric).
SHOWN = (
    "relevance_skill",
    "misallocated_per_head",
    "accuracy_board",
    "board_uncertainty",
    "reach",
    "coherence_internal",
    "coherence_external",
    "tie_persistence",
    "retention",
    "relevance_patient",
    "relevance_localities",
    "wasted_spend",
    "engagement_gp",
)


def mean_ci(x: Sequence[float], conf: float = 0.95) -> tuple[float, float, float, float, int]:
    """Mean, sd, and the t-interval of the mean of the finite values: (mean, sd, lo, hi, n)."""
    v = np.asarray(x, float)
    v = v[np.isfinite(v)]
    n = v.size
    if n == 0:
        return (np.nan, np.nan, np.nan, np.nan, 0)
    mean = float(v.mean())
    if n == 1:
        return (mean, np.nan, np.nan, np.nan, 1)
    sd = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.5 + conf / 2, n - 1) * sd / math.sqrt(n))
    return (mean, sd, mean - half, mean + half, n)


def hedges_g(x: Sequence[float], y: Sequence[float]) -> float:
    """Hedges' g of ``x`` relative to ``y``: (mean x − mean y) / pooled sd × J."""
    a = np.asarray(x, float)
    b = np.asarray(y, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    n1, n2 = a.size, b.size
    if n1 < 2 or n2 < 2:
        return np.nan
    diff = float(a.mean() - b.mean())
    pooled = math.sqrt(((n1 - 1) * a.var(ddof=1) + (n2 - 1) * b.var(ddof=1)) / (n1 + n2 - 2))
    if pooled == 0:
        return 0.0 if diff == 0 else float(np.copysign(np.inf, diff))
    return diff / pooled * (1 - 3 / (4 * (n1 + n2) - 9))


def _difference(x: pd.Series, y: pd.Series, paired: bool, conf: float
                ) -> tuple[float, float, float, str]:
    """Difference of means x − y with its interval: (diff, lo, hi, method)."""
    if paired:
        mean, _, lo, hi, _ = mean_ci((x - y).to_numpy(float), conf)
        return mean, lo, hi, "paired"
    a = x.to_numpy(float)
    b = y.to_numpy(float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size < 2 or b.size < 2:
        return float(a.mean() - b.mean()) if a.size and b.size else np.nan, np.nan, np.nan, "welch"
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    diff = float(a.mean() - b.mean())
    se = math.sqrt(va + vb)
    if se == 0:
        return diff, diff, diff, "welch"
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    half = float(stats.t.ppf(0.5 + conf / 2, df) * se)
    return diff, diff - half, diff + half, "welch"


def compare_table(frame: pd.DataFrame, metrics: Sequence[str], by: str = "case",
                  order: Sequence[str] | None = None, conf: float = 0.95) -> pd.DataFrame:
    """Each metric's mean and CI per scenario, and the difference from the first scenario.

    Parameters
    ----------
    frame : DataFrame
        One row per run: ``by`` (the scenario), ``replicate``, ``seed`` and the metric
        columns (failed runs are ignored when ``status`` is present).
    metrics : sequence of str
        Columns to compare.
    order : sequence of str, optional
        Scenario order (the first is the reference); default: order of appearance.

    Returns
    -------
    DataFrame
        metric, scenario, n, mean, sd, ci_low, ci_high, diff, diff_ci_low, diff_ci_high,
        hedges_g, method (``paired`` or ``welch``; empty for the reference).
    """
    if "status" in frame.columns:
        frame = frame[frame["status"] == "ok"]
    order = list(order or dict.fromkeys(frame[by]))
    ref = order[0]
    rows = []
    by_case = {c: frame[frame[by] == c].set_index("replicate").sort_index() for c in order}
    for m in metrics:
        base = by_case[ref]
        for c in order:
            sub = by_case[c]
            mean, sd, lo, hi, n = mean_ci(sub[m], conf)
            row: dict[str, Any] = {"metric": m, "scenario": c, "n": n, "mean": mean, "sd": sd,
                                   "ci_low": lo, "ci_high": hi}
            if c == ref:
                row.update(diff=np.nan, diff_ci_low=np.nan, diff_ci_high=np.nan,
                           hedges_g=np.nan, method="")
            else:
                common = sub.index.intersection(base.index)
                paired = ("seed" in sub.columns and len(common) >= 2
                          and len(common) == len(sub) == len(base)
                          and (sub.loc[common, "seed"] == base.loc[common, "seed"]).all())
                if paired:
                    diff, dlo, dhi, method = _difference(sub.loc[common, m],
                                                         base.loc[common, m], True, conf)
                else:
                    diff, dlo, dhi, method = _difference(sub[m], base[m], False, conf)
                row.update(diff=diff, diff_ci_low=dlo, diff_ci_high=dhi,
                           hedges_g=hedges_g(sub[m], base[m]), method=method)
            rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class CompareResult:
    """Results of :func:`run_compare`."""

    table: pd.DataFrame
    shown: list[str]
    reduce: str
    report: SweepReport
    csv: Path | None = None
    figure: Path | None = None


def _case_names(names: list[str]) -> list[str]:
    out: list[str] = []
    for n in names:
        name, k = n, 2
        while name in out:
            name, k = f"{n}_{k}", k + 1
        out.append(name)
    return out


def default_out(paths: Sequence[str | os.PathLike[str]]) -> Path:
    """``results/compare/<stem>_vs_<stem>...`` (shortened if long)."""
    stems = "_vs_".join(Path(p).stem for p in paths)
    stems = re.sub(r"[^A-Za-z0-9_.-]", "_", stems)
    if len(stems) > 80:
        stems = stems[:60] + f"_and_{len(paths) - 1}_more"
    return Path("results") / "compare" / stems


def run_compare(
    paths: Sequence[str | os.PathLike[str]],
    *,
    replicates: int = 10,
    steps: int | None = None,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    metrics: Sequence[str] | None = None,
    reduce: str = "final",
    out: str | os.PathLike[str] | None = None,
    figures: bool = True,
    **options: Any,
) -> CompareResult:
    """Run scenarios side by side and compare them (see the module docstring).

    Parameters
    ----------
    paths : scenario files; the first is the reference.
    replicates, steps, seed : runs per scenario, months, root seed (default: the first
        scenario's seed).
    overrides : ``dotted.path=value`` applied to every scenario.
    metrics : metrics shown (default :data:`SHOWN`); the table has every metric.
    reduce : ``final`` (value at the last month) or ``last12`` (mean of the last 12 months).
    out : results folder (default ``results/compare/<names>``).
    options : passed to :func:`~simulation.experiment.runner.sweep` (executor, workers,
        scheduler, resume, overwrite, quiet, ...).
    """
    if reduce not in ("final", "last12"):
        raise ValueError("reduce must be 'final' or 'last12'")
    scenarios = [load_scenario(p, list(overrides)) for p in paths]
    root = scenarios[0].seed if seed is None else seed
    names = _case_names([s.name for s in scenarios])
    outcomes = [{"metric": m} for m in METRICS]
    outcomes += [{"metric": m, "reduce": "mean_last", "last": 12} for m in METRICS]
    spec = ExperimentSpec.model_validate({
        "name": "compare_" + "_vs_".join(names),
        "description": "commnet compare " + " ".join(str(p) for p in paths),
        "design": {"kind": "cases"},
        "cases": [{"name": n, "scenario": str(Path(p).resolve())}
                  for n, p in zip(names, paths, strict=True)],
        "steps": steps, "replicates": replicates, "seed": root, "outcomes": outcomes,
        "keep_timeseries": True,
    })
    exp = experiment_from_spec(spec, ".", overrides=overrides)
    out = Path(out) if out is not None else default_out(paths)
    report = sweep(exp, out=out, **options)
    frame = report.frame
    columns = [m if reduce == "final" else f"{m}__last12" for m in METRICS]
    table = compare_table(frame, columns, by="case", order=names)
    table["metric"] = table["metric"].str.removesuffix("__last12")
    shown = list(metrics or SHOWN)
    result = CompareResult(table, shown, reduce, report)
    out.mkdir(parents=True, exist_ok=True)
    result.csv = out / "compare.csv"
    table.to_csv(result.csv, index=False)
    if figures:
        from ..figures import plot_trajectories

        ts = report.store.read("timeseries")
        if not ts.empty:
            cases = frame.set_index("run_id")["case"]
            ts["scenario"] = pd.Categorical(ts["run_id"].map(cases), categories=names)
            ts = ts.sort_values(["scenario", "run_id", "step"], kind="stable")
            result.figure = plot_trajectories(
                ts, out / "trajectories.png", metrics=shown, label_column="scenario",
                title=f"{' vs '.join(names)}: mean and 5–95% of {replicates} replicates")
    return result


def print_compare(result: CompareResult, console: Any) -> None:
    """Print the comparison as a rich table (the metrics in ``result.shown``)."""
    from rich.table import Table

    tab = result.table
    first = tab["scenario"].iloc[0] if len(tab) else ""
    what = "final month" if result.reduce == "final" else "mean of the last 12 months"
    t = Table(title=f"{what}, overall: mean ± 95% CI half-width; difference from {first} "
              "(paired by replicate when seeds are shared) and Hedges' g; bold: CI excludes 0")
    for col in ("metric", "scenario", "mean", "Δ vs first", "g"):
        t.add_column(col, justify="left" if col in ("metric", "scenario") else "right")

    def fmt(v: float) -> str:
        return "–" if not np.isfinite(v) else (f"{v:.3f}" if abs(v) < 1000 else f"{v:,.0f}")

    for metric in result.shown:
        rows = tab[tab["metric"] == metric]
        for i, r in enumerate(rows.itertuples()):
            mean = f"{fmt(r.mean)} ± {fmt((r.ci_high - r.ci_low) / 2)}"
            if r.method:
                sig = np.isfinite(r.diff_ci_low) and (r.diff_ci_low > 0 or r.diff_ci_high < 0)
                d = f"{fmt(r.diff)} ± {fmt((r.diff_ci_high - r.diff_ci_low) / 2)}"
                d = f"[bold]{d}[/]" if sig else d
                g = fmt(r.hedges_g)
            else:
                d, g = "", ""
            t.add_row(metric if i == 0 else "", str(r.scenario), mean, d, g,
                      end_section=i == len(rows) - 1)
    console.print(t)
