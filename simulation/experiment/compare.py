"""Comparing scenarios: means with 95% t-intervals, and differences in the metric's units.

``commnet compare a.yaml b.yaml c.yaml --replicates 30`` runs every scenario with the same
replicate seeds (common random numbers, derived from the first scenario's seed unless
``--seed`` is given) through the experiment machinery (so a comparison is stored, resumable
and can use any executor), then reports for each metric:

* per scenario: the mean over replicates and its 95% t-interval, clipped to the metric's
  range (:func:`simulation.statistics.mean_interval`);
* per scenario after the first: the difference from the first **in the metric's own units**
  and its 95% interval — *paired* by replicate when both scenarios ran the same replicate
  seeds (the interval of the mean paired difference), otherwise Welch's interval
  (:func:`simulation.statistics.difference`);
* then Hedges' g, *standardised by replicate noise* (the pooled sd of replicates of the same
  scenario, a property of the model's randomness, not of the world); it is not reported when
  that sd is practically 0.

The statistics live in :mod:`simulation.statistics`; ``mean_ci`` and ``hedges_g`` are
re-exported here for existing callers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..loader import load_scenario
from ..reporters import METRICS
from ..statistics import (
    difference,
    format_interval,
    hedges_g,
    mean_ci,
    mean_interval,
    ratio_difference,
    ratio_interval,
)
from .runner import SweepReport, sweep
from .spec import ExperimentSpec, experiment_from_spec

__all__ = ["REDUCTIONS", "CompareResult", "compare_table", "compare_warnings", "hedges_g", "mean_ci",
           "reduction_name", "run_compare"]  # stats re-exported

#: How a run's monthly values become one number, by ``--reduce`` key, as named on screen, in
#: ``compare.csv`` (column ``reduction``) and in the report.  The default is ``last12``.
REDUCTIONS = {"last12": "mean of the last 12 months", "final": "final month"}

#: Fewer replicates than this per scenario draws a warning (intervals are wide).
FEW_REPLICATES = 10


def reduction_name(reduce: str, steps: int | None = None) -> str:
    """The reduction's name in words ("mean of the last 12 months"); when a run has fewer
    than 12 months the mean is over all of them, and the name says so."""
    if reduce == "last12" and steps is not None and steps < 12:
        return f"mean of all {steps} months (runs shorter than 12 months)"
    return REDUCTIONS[reduce]

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


def compare_table(frame: pd.DataFrame, metrics: Sequence[str], by: str = "case",
                  order: Sequence[str] | None = None, conf: float = 0.95,
                  bounds: Mapping[str, tuple[float, float]] | None = None,
                  min_span: float = 0.01) -> pd.DataFrame:
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
    bounds : mapping of column to (lower, upper), optional
        Metric ranges the intervals are clipped to (default: the metric registry's range
        of each column, ``__last12`` suffix removed).
    min_span : float
        ``decisions.min_span``: decision skill (when the frame has its parts,
        ``relevance_patient``, ``relevance_floor``, ``relevance_ceiling`` with the same
        reduction) is the ratio of the mean gain over the mean span across replicates, with a
        bootstrap interval, and not interpretable below this mean span.

    Returns
    -------
    DataFrame
        metric, scenario, n, mean, sd, ci_low, ci_high, note (why an interval is missing or
        clipped), diff, diff_ci_low, diff_ci_high, diff_note, method (``paired`` or
        ``welch``; empty for the reference), hedges_g (standardised by replicate noise),
        noise_sd (the pooled replicate sd it divides by), g_note.
    """
    from ..reporters import metric_bounds

    if "status" in frame.columns:
        frame = frame[frame["status"] == "ok"]
    order = list(order or dict.fromkeys(frame[by]))
    ref = order[0]
    rows = []
    by_case = {c: frame[frame[by] == c].set_index("replicate").sort_index() for c in order}
    for m in metrics:
        rng = (bounds or {}).get(m) or metric_bounds(m)
        base = by_case[ref]
        parts = _skill_parts(m, frame.columns)
        for c in order:
            sub = by_case[c]
            if parts:
                rows.append(_pooled_skill_row(m, c, c == ref, sub, base, parts, conf, min_span))
                continue
            iv = mean_interval(sub[m], conf, rng)
            row: dict[str, Any] = {"metric": m, "scenario": c, "n": iv.n, "mean": iv.mean,
                                   "sd": iv.sd, "ci_low": iv.low, "ci_high": iv.high,
                                   "note": iv.note}
            if c == ref:
                row.update(diff=np.nan, diff_ci_low=np.nan, diff_ci_high=np.nan, diff_note="",
                           method="", hedges_g=np.nan, noise_sd=np.nan, g_note="")
            else:
                common = sub.index.intersection(base.index)
                paired = ("seed" in sub.columns and len(common) >= 2
                          and len(common) == len(sub) == len(base)
                          and (sub.loc[common, "seed"] == base.loc[common, "seed"]).all())
                if paired:
                    d = difference(sub.loc[common, m], base.loc[common, m], paired=True,
                                   conf=conf, bounds=rng)
                else:
                    d = difference(sub[m], base[m], paired=False, conf=conf, bounds=rng)
                row.update(diff=d.diff, diff_ci_low=d.low, diff_ci_high=d.high,
                           diff_note=d.note, method=d.method, hedges_g=d.g,
                           noise_sd=d.noise_sd, g_note=d.g_note)
            rows.append(row)
    return pd.DataFrame(rows)


#: Decision skill's parts: gain and span over replicates are pooled (ratio of means).
_SKILL = "relevance_skill"
_PARTS = ("relevance_patient", "relevance_floor", "relevance_ceiling")
def _skill_parts(metric: str, columns: Any) -> tuple[str, str, str] | None:
    """The (relevance, floor, ceiling) columns of a skill column (same reduction suffix), if
    the frame has them: skill across replicates is then the ratio of the mean gain over the
    mean span (:func:`simulation.statistics.ratio_interval`), not the mean of ratios."""
    if not metric.startswith(_SKILL):
        return None
    suffix = metric[len(_SKILL):]
    cols = tuple(f"{p}{suffix}" for p in _PARTS)
    return cols if all(c in columns for c in cols) else None  # type: ignore[return-value]


def _pooled_skill_row(metric: str, case: str, is_ref: bool, sub: pd.DataFrame,
                      base: pd.DataFrame, parts: tuple[str, str, str], conf: float,
                      min_span: float) -> dict[str, Any]:
    r, lo, hi = (sub[p].to_numpy(float) for p in parts)
    iv = ratio_interval(r - lo, hi - lo, conf, min_den=min_span)
    row: dict[str, Any] = {"metric": metric, "scenario": case, "n": iv.n, "mean": iv.mean,
                           "sd": iv.sd, "ci_low": iv.low, "ci_high": iv.high, "note": iv.note,
                           "hedges_g": np.nan, "noise_sd": np.nan,
                           "g_note": "not computed for a ratio of means"}
    if is_ref:
        row.update(diff=np.nan, diff_ci_low=np.nan, diff_ci_high=np.nan, diff_note="",
                   method="", g_note="")
        return row
    common = sub.index.intersection(base.index)
    if not ("seed" in sub.columns and len(common) >= 2
            and (sub.loc[common, "seed"] == base.loc[common, "seed"]).all()):
        row.update(diff=np.nan, diff_ci_low=np.nan, diff_ci_high=np.nan,
                   diff_note="skill differences need paired replicates", method="")
        return row
    s, b = sub.loc[common], base.loc[common]
    d = ratio_difference(s[parts[0]] - s[parts[1]], s[parts[2]] - s[parts[1]],
                         b[parts[0]] - b[parts[1]], b[parts[2]] - b[parts[1]], conf,
                         min_den=min_span)
    row.update(diff=d.diff, diff_ci_low=d.low, diff_ci_high=d.high, diff_note=d.note,
               method=d.method)
    return row


@dataclass
class CompareResult:
    """Results of :func:`run_compare`."""

    table: pd.DataFrame
    shown: list[str]
    reduce: str
    report: SweepReport
    csv: Path | None = None
    figure: Path | None = None
    #: the reduction in words (``table["reduction"]``), e.g. "mean of the last 12 months"
    reduction: str = ""
    #: underpowered design: few replicates, intervals wider than the differences
    warnings: list[str] | None = None


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
    reduce: str = "last12",
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
    reduce : ``last12`` (mean of the last 12 months, the default, as in ``commnet report``)
        or ``final`` (value at the last month); named in the table's ``reduction`` column.
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
    table = compare_table(frame, columns, by="case", order=names,
                          min_span=scenarios[0].decisions.min_span)
    table["metric"] = table["metric"].str.removesuffix("__last12")
    reduction = reduction_name(reduce, int(exp.bases[0].get("steps") or 0) or None)
    table.insert(1, "reduction", reduction)
    shown = list(metrics or SHOWN)
    result = CompareResult(table, shown, reduce, report, reduction=reduction,
                           warnings=compare_warnings(table, shown))
    out.mkdir(parents=True, exist_ok=True)
    result.csv = out / "compare.csv"
    table.to_csv(result.csv, index=False)
    if figures:
        from ..figures import plot_trajectories, save

        ts = report.store.read("timeseries")
        if not ts.empty:
            cases = frame.set_index("run_id")["case"]
            ts["scenario"] = pd.Categorical(ts["run_id"].map(cases), categories=names)
            ts = ts.sort_values(["scenario", "run_id", "step"], kind="stable")
            fig = plot_trajectories(ts, metrics=shown, label_column="scenario",
                                    title=f"{' vs '.join(names)}: {replicates} replicates each")
            result.figure = save(fig, out / "trajectories.png")
    return result


def compare_warnings(table: pd.DataFrame, shown: Sequence[str]) -> list[str]:
    """Warnings for an underpowered comparison: fewer than :data:`FEW_REPLICATES` replicates
    per scenario, and the shown metrics whose difference is smaller than its interval's
    half-width (it cannot be told from replicate noise at this number of replicates)."""
    from ..statistics import _fmt as fmt

    out = []
    if table.empty:
        return out
    counts = table.loc[table["metric"].isin(list(shown)) & (table["n"] > 0), "n"]
    n = int(counts.min()) if len(counts) else int(table["n"].max())
    if n < FEW_REPLICATES:
        out.append(f"only {n} replicates per scenario: 95% intervals are wide (Student t with "
                   f"{max(n - 1, 0)} degrees of freedom); use --replicates {FEW_REPLICATES} or "
                   "more, 30 for a result to quote")
    vague: dict[str, list[str]] = {}
    for r in table[table["metric"].isin(list(shown)) & (table["method"] != "")].itertuples():
        half = (r.diff_ci_high - r.diff_ci_low) / 2
        if np.isfinite(half) and np.isfinite(r.diff) and half > abs(r.diff):
            vague.setdefault(str(r.scenario), []).append(f"{r.metric} {fmt(r.diff)} ± {fmt(half)}")
    for scenario, items in vague.items():
        out.append(f"{scenario}: the 95% interval is wider than the difference for "
                   f"{', '.join(items)}; with {n} replicates these cannot be told from "
                   "replicate noise (intervals narrow as 1/√replicates)")
    return out


def print_compare(result: CompareResult, console: Any) -> None:
    """Print the comparison as a rich table (the metrics in ``result.shown``), then any
    warnings.

    The table is stacked: each metric's name and unit on a line of its own, its scenarios
    beneath, so nothing is cut at 80 columns (long names fold, never end in "…").  The
    difference from the first scenario, in the metric's units with its 95% interval, comes
    before Hedges' g, whose column says it is standardised by replicate noise.
    """
    from rich.markup import escape
    from rich.table import Table

    from ..reporters import metric_info
    from ..statistics import _fmt as fmt

    tab = result.table
    first = tab["scenario"].iloc[0] if len(tab) else ""
    what = result.reduction or REDUCTIONS.get(result.reduce, result.reduce)
    t = Table(title=f"{what.capitalize()}, overall: mean ± 95% t-interval half-width "
              "(\\[low, high] where clipped to the metric's range); Δ: difference from "
              f"the reference, {first}, in the metric's units (paired by replicate when seeds are shared; "
              "bold: its interval excludes 0); Hedges' g is standardised by replicate noise",
              title_justify="left")
    longest = max([len(m) for m in result.shown] + [len(str(c)) + 2 for c in
                                                    dict.fromkeys(tab["scenario"])] + [17])
    # at 80 columns: 22 + 17 + 17 + 10 and the borders; wider terminals widen the first
    t.add_column("metric / scenario", overflow="fold", min_width=min(longest, 22))
    t.add_column("mean ± 95% CI", justify="right", overflow="fold", max_width=17)
    t.add_column("Δ vs reference ± 95% CI", justify="right", overflow="fold", max_width=17)
    t.add_column("Hedges' g", justify="right", overflow="fold", max_width=10)

    for metric in result.shown:
        rows = tab[tab["metric"] == metric]
        try:
            info = metric_info(metric)
            head = f"[bold]{info.title}[/]\n{metric}\n[dim]{info.axis_label()}[/]"
        except KeyError:
            head = f"[bold]{metric}[/]"
        t.add_row(head, "", "", "")
        for i, r in enumerate(rows.itertuples()):
            if np.isfinite(r.ci_low) and "clipped" in r.note:  # asymmetric: show the limits
                mean = f"{fmt(r.mean)} [{fmt(r.ci_low)}, {fmt(r.ci_high)}]"
            elif np.isfinite(r.ci_low):
                mean = f"{fmt(r.mean)} ± {fmt((r.ci_high - r.ci_low) / 2)}"
            else:
                mean = f"{fmt(r.mean)} ({r.note})"
            if r.method:
                if np.isfinite(r.diff_ci_low) and "clipped" in r.diff_note:
                    sig = r.diff_ci_low > 0 or r.diff_ci_high < 0
                    d = f"{fmt(r.diff)} [{fmt(r.diff_ci_low)}, {fmt(r.diff_ci_high)}]"
                    d = f"[bold]{d}[/]" if sig else d
                elif np.isfinite(r.diff_ci_low):
                    sig = r.diff_ci_low > 0 or r.diff_ci_high < 0
                    d = f"{fmt(r.diff)} ± {fmt((r.diff_ci_high - r.diff_ci_low) / 2)}"
                    d = f"[bold]{d}[/]" if sig else d
                else:
                    d = f"{fmt(r.diff)} ({format_interval(np.nan, np.nan, r.diff_note)})"
                g = fmt(r.hedges_g) if np.isfinite(r.hedges_g) else "–"
                if r.g_note and not np.isfinite(r.hedges_g):
                    g = "– (sd ≈ 0)" if "identical" in r.g_note else "–"
            else:
                d, g = "(reference)", ""
            t.add_row(f"  {escape(str(r.scenario))}", mean, d, g, end_section=i == len(rows) - 1)
    console.print(t)
    for w in result.warnings or []:
        console.print(f"[bold yellow]warning[/]: {w}", highlight=False, soft_wrap=True)
