"""Sensitivity analysis of a stored sweep: Sobol indices or Morris screening (SALib).

* Sobol designs: first-order (S1) and total-order (ST) indices with bootstrap confidence
  intervals (:func:`SALib.analyze.sobol.analyze`); second-order indices too if the design
  has them.  S1 is the share of the outcome's variance due to a parameter alone, ST the share
  it is involved in (with interactions); a parameter without effect has both near zero.
* Morris designs: μ* (mean absolute elementary effect, with its confidence interval), μ and
  σ (:func:`SALib.analyze.morris.analyze`), with the parameters scaled to [0, 1], so μ* is
  the change of the outcome over a parameter's whole range.

The outcome of a design point is the mean over its replicates.  Only complete blocks are
used — a Sobol base sample with all its D+2 (2D+2) points, a Morris trajectory with all its
D+1 points — so a partial or partly failed sweep still gives valid (if wider) intervals.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..loader import ScenarioError
from .designs import analysis_seed
from .store import read_results

__all__ = ["SensitivityResult", "analyse", "design_warnings", "morris_indices", "plot_indices",
           "sobol_indices"]

#: Fewer Sobol base samples N than this draw a warning (SALib's examples use 1024; the
#: indices' bootstrap intervals shrink as 1/√N).
MIN_SOBOL_N = 128
#: Fewer Morris trajectories than this draw a warning (10-50 is the usual range).
MIN_MORRIS_R = 10
#: An index estimate this far below 0 or above 1 is an estimation error, not rounding.
TOLERANCE = 0.01
#: Indices at least this large whose interval is wider than the estimate are named.
NOTABLE = 0.05


def _problem(names: Sequence[str]) -> dict[str, Any]:
    return {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}


def sobol_indices(y: np.ndarray, names: Sequence[str], *, second_order: bool = False,
                  resamples: int = 1000, conf: float = 0.95, seed: int = 1) -> pd.DataFrame:
    """Sobol indices of outputs ``y`` of a Saltelli design (SALib), one row per parameter.

    Returns
    -------
    DataFrame
        parameter, S1, S1_conf, ST, ST_conf (``*_conf``: half-width of the ``conf``
        bootstrap interval).  A constant outcome gives zeros.
    """
    from SALib.analyze import sobol

    y = np.asarray(y, float)
    if np.var(y) == 0:
        zero = np.zeros(len(names))
        return pd.DataFrame({"parameter": list(names), "S1": zero, "S1_conf": zero,
                             "ST": zero, "ST_conf": zero})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        si = sobol.analyze(_problem(names), y, calc_second_order=second_order,
                           num_resamples=resamples, conf_level=conf, seed=max(1, int(seed)))
    return pd.DataFrame({"parameter": list(names), "S1": si["S1"], "S1_conf": si["S1_conf"],
                         "ST": si["ST"], "ST_conf": si["ST_conf"]})


def morris_indices(x_unit: np.ndarray, y: np.ndarray, names: Sequence[str], *,
                   levels: int = 4, resamples: int = 1000, conf: float = 0.95,
                   seed: int = 1) -> pd.DataFrame:
    """Morris μ*, its confidence half-width, μ and σ (SALib), one row per parameter.

    ``x_unit`` are the design's points scaled to [0, 1] (as sampled).
    """
    from SALib.analyze import morris

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        si = morris.analyze(_problem(names), np.asarray(x_unit, float), np.asarray(y, float),
                            num_resamples=resamples, conf_level=conf, num_levels=levels,
                            seed=int(seed))
    return pd.DataFrame({"parameter": list(names), "mu_star": si["mu_star"],
                         "mu_star_conf": si["mu_star_conf"], "mu": si["mu"],
                         "sigma": si["sigma"]})


@dataclass
class SensitivityResult:
    """Results of :func:`analyse`."""

    kind: str
    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def _complete_blocks(y: np.ndarray, block: int) -> np.ndarray:
    """Indices of the rows of complete blocks (every value finite)."""
    n = y.shape[0] // block
    ok = np.isfinite(y[: n * block]).reshape(n, block).all(axis=1)
    return (np.flatnonzero(ok)[:, None] * block + np.arange(block)).ravel()


def analyse(folder: str | os.PathLike[str], outcomes: Sequence[str] | None = None,
            group: str = "overall", *, resamples: int = 1000, conf: float = 0.95
            ) -> SensitivityResult:
    """Sobol or Morris indices of every outcome of a stored Sobol or Morris sweep.

    Raises
    ------
    ScenarioError
        If the folder holds no results, the design is not Sobol or Morris, an outcome is
        unknown, or too few complete blocks are stored.
    """
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        raise ScenarioError([(str(folder), "", "no experiment results here (no manifest.json); "
                              "run `commnet sweep` with --out first")])
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    kind = manifest.get("design")
    if kind not in ("sobol", "morris"):
        raise ScenarioError([(str(folder), "design", f"sensitivity analysis needs a sobol or "
                              f"morris design; this experiment used {kind!r}")])
    spec = manifest["experiment"]
    names = manifest["parameters"]
    d = len(names)
    design = read_results(folder, "design")
    frame = read_results(folder, "outcomes", group=group)
    available = [c for c in manifest["outcomes"]]
    chosen = list(outcomes or available)
    unknown = [o for o in chosen if o not in available]
    if unknown:
        raise ScenarioError([(str(folder), "outcomes", f"unknown outcome(s) {unknown}; "
                              f"recorded: {', '.join(available)}")])
    if frame.empty:
        raise ScenarioError([(str(folder), "outcomes", f"no finished runs for group {group!r}")])
    points = len(design)
    means = frame.groupby("point")[chosen].mean().reindex(range(points))
    if kind == "sobol":
        second = bool(spec["design"].get("second_order"))
        block = 2 * d + 2 if second else d + 2
    else:
        block = d + 1
    seed = analysis_seed(int(manifest.get("root_seed", 0)))
    tables, notes = [], []
    unit = design[[f"unit:{n}" for n in names]].to_numpy(float)
    for o in chosen:
        y = means[o].to_numpy(float)
        rows = _complete_blocks(y, block)
        n_blocks, total_blocks = rows.size // block, points // block
        if n_blocks < 2:
            notes.append(f"{o}: only {n_blocks} of {total_blocks} blocks complete; skipped "
                         "(resume the sweep, or rerun failed runs)")
            continue
        if n_blocks < total_blocks:
            notes.append(f"{o}: {n_blocks} of {total_blocks} blocks complete; indices use "
                         "those only")
        if kind == "sobol":
            t = sobol_indices(y[rows], names, second_order=second, resamples=resamples,
                              conf=conf, seed=seed)
        else:
            t = morris_indices(unit[rows], y[rows], names, levels=int(spec["design"]["levels"]),
                               resamples=resamples, conf=conf, seed=seed)
        t.insert(0, "outcome", o)
        t["blocks"] = n_blocks
        tables.append(t)
    if not tables:
        raise ScenarioError([(str(folder), "outcomes", "no outcome has two complete blocks "
                              "of runs; " + "; ".join(notes))])
    return SensitivityResult(kind, pd.concat(tables, ignore_index=True), notes)


def design_warnings(table: pd.DataFrame, kind: str) -> list[str]:
    """Warnings for an undersized sensitivity design, read from its indices table.

    Sobol: fewer than :data:`MIN_SOBOL_N` base samples; S1 < 0 or ST > 1 (impossible for
    true indices: estimation error); an index of at least :data:`NOTABLE` whose 95% interval
    is wider than the estimate.  Morris: fewer than :data:`MIN_MORRIS_R` trajectories; a μ*
    of at least :data:`NOTABLE` of the largest whose interval is wider than itself.
    """
    out: list[str] = []
    if table.empty:
        return out
    blocks = int(table["blocks"].min()) if "blocks" in table else None
    if kind == "sobol":
        if blocks is not None and blocks < MIN_SOBOL_N:
            out.append(f"only {blocks} Sobol base samples (N): the indices are rough and their "
                       f"intervals wide; use samples: {MIN_SOBOL_N} or more (a power of 2; "
                       "SALib's examples use 1024)")
        for o in dict.fromkeys(table["outcome"]):
            t = table[table["outcome"] == o]
            neg = t.loc[t["S1"] < -TOLERANCE, "parameter"].tolist()
            big = t.loc[t["ST"] > 1 + TOLERANCE, "parameter"].tolist()
            wide = [f"{r.parameter} ({name} {getattr(r, name):.2f} ± {getattr(r, name + '_conf'):.2f})"
                    for r in t.itertuples() for name in ("S1", "ST")
                    if getattr(r, name) >= NOTABLE
                    and getattr(r, name + "_conf") > getattr(r, name)]
            if neg:
                out.append(f"{o}: S1 < 0 for {', '.join(neg)} -- true indices are never "
                           "negative, so this is estimation error (too few base samples)")
            if big:
                out.append(f"{o}: ST > 1 for {', '.join(big)} -- true indices are at most 1, so "
                           "this is estimation error (too few base samples)")
            if wide:
                out.append(f"{o}: the 95% interval is wider than the estimate for "
                           f"{'; '.join(wide)}")
    else:
        if blocks is not None and blocks < MIN_MORRIS_R:
            out.append(f"only {blocks} Morris trajectories: the screening is rough; use "
                       f"samples: {MIN_MORRIS_R} or more")
        for o in dict.fromkeys(table["outcome"]):
            t = table[table["outcome"] == o]
            top = float(np.nanmax(t["mu_star"])) if len(t) else 0.0
            wide = [f"{r.parameter} (μ* {r.mu_star:.3g} ± {r.mu_star_conf:.3g})"
                    for r in t.itertuples()
                    if top > 0 and r.mu_star >= NOTABLE * top and r.mu_star_conf > r.mu_star]
            if wide:
                out.append(f"{o}: the 95% interval is wider than μ* for {'; '.join(wide)}")
    return out


def plot_indices(table: pd.DataFrame, kind: str, outcome: str, path: str | os.PathLike[str]
                 ) -> Path:
    """Bar chart of one outcome's indices: S1 and ST (Sobol) or μ* and σ (Morris), with
    confidence intervals as error bars."""
    from matplotlib.figure import Figure  # no pyplot: no backend selected, nothing global

    t = table[table["outcome"] == outcome]
    names = [n.replace("_", " ") for n in t["parameter"]]
    y = np.arange(len(t))
    fig = Figure(figsize=(7, 0.45 * len(t) + 1.6))
    ax = fig.subplots()
    h = 0.38
    if kind == "sobol":
        ax.barh(y - h / 2, t["S1"], h, xerr=t["S1_conf"], label="first order S1", color="C0",
                capsize=2)
        ax.barh(y + h / 2, t["ST"], h, xerr=t["ST_conf"], label="total order ST", color="C1",
                capsize=2)
        ax.set_xlabel("Sobol index (share of variance), 95% CI")
        ax.axvline(0, color="black", lw=0.6)
    else:
        ax.barh(y - h / 2, t["mu_star"], h, xerr=t["mu_star_conf"], label="μ*", color="C0",
                capsize=2)
        ax.barh(y + h / 2, t["sigma"], h, label="σ", color="C2")
        ax.set_xlabel("Morris elementary effect over the whole range (μ* with 95% CI)")
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.legend(fontsize=8)
    ax.set_title(outcome.replace("_", " "))
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path


def write(result: SensitivityResult, out: str | os.PathLike[str], figures: bool = True
          ) -> list[Path]:
    """Write ``sensitivity.csv`` and a bar chart per outcome to ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "sensitivity.csv"]
    result.table.to_csv(files[0], index=False)
    if figures:
        for o in dict.fromkeys(result.table["outcome"]):
            safe = re.sub(r"[^A-Za-z0-9_.-]", "_", o)
            files.append(plot_indices(result.table, result.kind, o,
                                      out / f"sensitivity_{safe}.png"))
    result.files = files
    return files


def print_indices(result: SensitivityResult, console: Any) -> None:
    """Print one rich table per outcome."""
    from rich.table import Table

    def f(v: float) -> str:
        return "–" if not np.isfinite(v) else f"{v:.3f}"

    longest = min(max([len(str(p)) for p in result.table["parameter"]] + [9]), 30)
    for o in dict.fromkeys(result.table["outcome"]):
        t = result.table[result.table["outcome"] == o]
        blocks = int(t["blocks"].iloc[0])
        if result.kind == "sobol":
            tab = Table(title=f"{o}: Sobol indices (95% CI), {blocks} base samples")
            for c in ("parameter", "S1", "ST"):
                tab.add_column(c, justify="left" if c == "parameter" else "right",
                               overflow="fold", min_width=longest if c == "parameter" else None)
            for r in t.itertuples():
                tab.add_row(r.parameter, f"{f(r.S1)} ± {f(r.S1_conf)}",
                            f"{f(r.ST)} ± {f(r.ST_conf)}")
        else:
            tab = Table(title=f"{o}: Morris screening, {blocks} trajectories")
            for c in ("parameter", "μ* (95% CI)", "μ", "σ"):
                tab.add_column(c, justify="left" if c == "parameter" else "right",
                               overflow="fold", min_width=longest if c == "parameter" else None)
            for r in t.itertuples():
                tab.add_row(r.parameter, f"{f(r.mu_star)} ± {f(r.mu_star_conf)}", f(r.mu),
                            f(r.sigma))
        console.print(tab)
    for note in result.notes:
        console.print(f"note: {note}", highlight=False)
    for warning in design_warnings(result.table, result.kind):
        console.print(f"[bold yellow]warning[/]: {warning}", highlight=False, soft_wrap=True)
