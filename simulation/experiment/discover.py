"""Scenario discovery on a stored sweep: PRIM and CART from the EMA Workbench.

Scenario discovery (Bryant & Lempert 2010) asks *under which combinations of parameter
values does an outcome of interest happen* — e.g. "board accuracy falls below 0.6" — and
answers with a few easily read boxes (a range per parameter) instead of a model.

* **PRIM**, the Patient Rule Induction Method (Friedman & Fisher 1999), as implemented by
  :class:`ema_workbench.analysis.prim.Prim` (Kwakkel 2017): starting from the box holding
  every design point, it repeatedly *peels* the fraction ``peel_alpha`` of points off one
  face of the box — the face whose removal raises the share of cases of interest most per
  point removed (EMA's ``lenient1`` objective) — until the box would hold less than
  ``mass_min`` of the points; it then *pastes* back slices that raise the share.  Every
  intermediate box is one point of the *peeling trajectory*.
* **CART** (Breiman et al. 1984), :class:`ema_workbench.analysis.cart.CART` around
  scikit-learn's decision tree: a classification tree whose leaves are boxes too; leaves
  hold at least ``mass_min`` of the points.  The tree is grown with a seed derived from the
  sweep's root seed (scikit-learn breaks ties between equally good splits at random).

With N points, T of them cases of interest (``y`` true), and a box B holding n points of
which k are cases of interest::

    coverage = k / T    share of all cases of interest that fall in the box
    density  = k / n    share of the box's points that are cases of interest
    mass     = n / N    share of all points in the box

The first box (everything) has coverage 1 and density T / N (the base rate); peeling
trades coverage for density.  The box reported is the *knee* of the trajectory unless
``box`` (a trajectory index) or ``min_coverage`` (the densest box with at least that
coverage) is given.  The knee is the non-dominated trajectory box farthest above the chord
from the first to the last non-dominated box in the (coverage, density) plane (the
geometric knee of Satopää et al. 2011); if none lies above it, the box with the largest
coverage × density.  Each restricted limit comes with its quasi-p value (Bryant & Lempert
2010: a one-sided binomial test of whether dropping that limit would lower the density as
much as it does by chance); limits with quasi-p above 0.05 are weakly supported.

The outcome of a design point is the mean over its stored replicates (``per="point"``,
the default): the rows PRIM separates are then the conditions the world or policy sets,
and replicate noise is averaged rather than presented as contradictory cases at identical
parameter values.  ``per="run"`` uses every run as a case instead (the question becomes
"in which conditions does a run — one possible history — fall below X").

References
----------
Bryant BP, Lempert RJ (2010) Thinking inside the box: a participatory, computer-assisted
approach to scenario discovery. Technol Forecast Soc Change 77:34-49.
Friedman JH, Fisher NI (1999) Bump hunting in high-dimensional data. Stat Comput 9:123-143.
Kwakkel JH (2017) The Exploratory Modeling Workbench. Environ Model Softw 96:239-250.
Satopää V et al. (2011) Finding a "kneedle" in a haystack. ICDCS Workshops, 166-171.
Breiman L, Friedman JH, Olshen RA, Stone CJ (1984) Classification and Regression Trees.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..loader import ScenarioError

__all__ = ["OVER", "PER", "DiscoveryData", "DiscoveryResult", "cart_boxes", "choose_box",
           "discover", "discover_command", "knee", "load_data", "prim_trajectory",
           "tradeoff_figure", "write"]

#: Which parameters make up the X matrix.
OVER = ("uncertainties", "levers", "all")
#: What one case is: a design point (outcome averaged over replicates) or a run.
PER = ("point", "run")
#: Files written to the output folder.
FILES = ("boxes.csv", "trajectory.csv", "cart.csv", "tradeoff.png", "manifest.json")


def _ema():
    """Import the EMA Workbench's PRIM and CART (slow: it loads statsmodels, seaborn, sklearn).

    Its top-level package warns that ipyparallel (an optional extra for its own parallel
    evaluator, not used here) is missing; that warning is silenced.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*ipyparallel.*")
        from ema_workbench.analysis import cart, prim
    return prim, cart


@contextlib.contextmanager
def _quiet_ema() -> Iterator[None]:
    """Silence the deprecation warnings pandas 3.1 raises about the EMA Workbench's own code
    (``DataFrame.drop(..., inplace=True)``): they concern its code, not the analysis."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ema_workbench")
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"ema_workbench")
        yield


# --------------------------------------------------------------------------- input


@dataclass
class DiscoveryData:
    """The cases PRIM and CART see.

    Attributes
    ----------
    x : DataFrame
        One row per case, one column per parameter used (numeric, or categorical as pandas
        ``category`` of strings; booleans become ``"true"``/``"false"``).
    y : ndarray of bool
        Whether the case is of interest (outcome below / above the threshold).
    value : ndarray of float
        The outcome of each case (point mean or run value).
    roles : dict of str to str
        ``lever``, ``uncertainty`` or ``unmarked`` for every parameter of the sweep.
    """

    x: pd.DataFrame
    y: np.ndarray
    value: np.ndarray
    roles: dict[str, str]
    outcome: str
    direction: str
    threshold: float
    over: str
    per: str
    group: str
    manifest: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def condition(self) -> str:
        """The case-of-interest rule, e.g. ``accuracy_board__last12 < 0.6``."""
        return f"{self.outcome} {'<' if self.direction == 'below' else '>'} {self.threshold:g}"


def _read_manifest(folder: Path) -> dict[str, Any]:
    src = str(folder)
    if not folder.exists():
        raise ScenarioError([(src, "", "no such folder; give the results folder of a "
                              "`commnet sweep` (e.g. results/engagement_by_locality)")])
    if not folder.is_dir():
        raise ScenarioError([(src, "", "is a file, not a results folder of `commnet sweep`")])
    path = folder / "manifest.json"
    if not path.is_file():
        raise ScenarioError([(src, "", "holds no sweep results (no manifest.json); run "
                              "`commnet sweep EXPERIMENT --out FOLDER` first")])
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioError([(str(path), "", f"cannot be read as JSON ({exc})")]) from None
    if not isinstance(manifest, dict) or manifest.get("kind") != "commnet experiment results":
        kind = manifest.get("kind") if isinstance(manifest, dict) else None
        what = f"a {kind!r} folder" if kind else "not the results of `commnet sweep`"
        raise ScenarioError([(src, "", f"is {what}; scenario discovery needs the results "
                              "folder of `commnet sweep`")])
    if manifest.get("design") == "cases" or not manifest.get("parameters"):
        raise ScenarioError([(src, "design", "this sweep compares named cases and varies no "
                              "parameters, so there are no parameter ranges to find; use an "
                              "experiment with `parameters` (grid, latin_hypercube, sobol or "
                              "morris design)")])
    if not (folder / "design.parquet").is_file():
        raise ScenarioError([(src, "", "has a manifest but no design.parquet; the sweep "
                              "folder is incomplete (run the sweep again with --overwrite)")])
    return manifest


def _roles(manifest: dict[str, Any]) -> dict[str, str]:
    """Role of each parameter from the experiment recorded in the manifest.

    A sweep started before its file marked levers/uncertainties has none in its manifest;
    then the marks of the experiment file are used if it still has the same design hash
    (marks are not part of the hash, so such a file describes the same runs).
    """
    params = list(manifest["parameters"])
    spec = manifest.get("experiment") or {}
    levers, uncertainties = spec.get("levers") or [], spec.get("uncertainties") or []
    if not (levers or uncertainties) and manifest.get("experiment_file"):
        try:
            from .spec import load_experiment

            exp = load_experiment(manifest["experiment_file"])
            if exp.design_hash() == manifest.get("design_hash"):
                levers, uncertainties = exp.spec.levers, exp.spec.uncertainties
        except (ScenarioError, OSError, ValueError):
            pass
    return {p: "lever" if p in levers else "uncertainty" if p in uncertainties else "unmarked"
            for p in params}


def _select_parameters(roles: dict[str, str], over: str, source: str,
                       notes: list[str]) -> list[str]:
    if over not in OVER:
        raise ScenarioError([("--over", "", f"{over!r}: use one of {', '.join(OVER)}")])
    if over == "all":
        return list(roles)
    if all(r == "unmarked" for r in roles.values()):
        if over == "levers":
            raise ScenarioError([("--over", "", "the experiment marks no parameter as a lever "
                                  "(no `levers:` in the experiment file); use --over all")])
        notes.append("the experiment marks no levers or uncertainties; every parameter is "
                     "treated as an uncertainty")
        return list(roles)
    want = "lever" if over == "levers" else "uncertainty"
    chosen = [p for p, r in roles.items() if r == want]
    if not chosen:
        others = ", ".join(p for p, r in roles.items() if r != want)
        raise ScenarioError([("--over", "", f"the experiment ({source}) marks no parameter as "
                              f"{'a lever' if want == 'lever' else 'an uncertainty'} (all "
                              f"parameters: {others}); use --over "
                              f"{'uncertainties' if want == 'lever' else 'levers'} or --over all")])
    return chosen


def _x_frame(design: pd.DataFrame, names: list[str], notes: list[str]) -> pd.DataFrame:
    """The parameter columns as PRIM wants them: numbers, or categoricals of strings."""
    cols = {}
    for n in names:
        col = design[n]
        if col.nunique(dropna=False) < 2:
            notes.append(f"{n} has a single value in this design; left out")
            continue
        if pd.api.types.is_bool_dtype(col):
            col = col.map({True: "true", False: "false"})
        if pd.api.types.is_numeric_dtype(col):
            cols[n] = col.astype(np.int64 if pd.api.types.is_integer_dtype(col) else float)
        else:
            cols[n] = pd.Categorical(col.astype(str))
    return pd.DataFrame(cols, index=design.index)


def load_data(folder: str | os.PathLike[str], outcome: str, *, below: float | None = None,
              above: float | None = None, over: str = "uncertainties", group: str = "overall",
              per: str = "point") -> DiscoveryData:
    """Read a sweep folder and build X (the chosen parameters) and y (outcome vs threshold).

    Raises
    ------
    ScenarioError
        Missing folder, not a sweep, unknown outcome or group, no threshold or both, a
        threshold that makes every case or no case one of interest, no parameter to use.
    """
    from .store import read_results

    folder = Path(folder)
    src = str(folder)
    manifest = _read_manifest(folder)
    if (below is None) == (above is None):
        raise ScenarioError([("--below/--above", "", "give exactly one threshold: --below X "
                              "(cases of interest: outcome < X) or --above X (outcome > X)")])
    direction, threshold = ("below", below) if below is not None else ("above", above)
    if not math.isfinite(threshold):
        raise ScenarioError([(f"--{direction}", "", f"{threshold}: the threshold must be a "
                              "finite number")])
    if per not in PER:
        raise ScenarioError([("--per", "", f"{per!r}: use point (outcome averaged over "
                              "replicates) or run (every run a case)")])
    recorded = list(manifest.get("outcomes") or [])
    if outcome not in recorded:
        import difflib

        close = difflib.get_close_matches(outcome, recorded, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ScenarioError([("--outcome", "", f"{outcome!r} is not an outcome of this sweep"
                              f"{hint}; recorded: {', '.join(recorded)}")])
    notes: list[str] = []
    roles = _roles(manifest)
    names = _select_parameters(roles, over, manifest.get("experiment_file") or src, notes)
    design = read_results(folder, "design").set_index("point").sort_index()
    frame = read_results(folder, "outcomes", group=None)
    if frame.empty:
        raise ScenarioError([(src, "outcomes", "no finished runs are stored yet; resume the "
                              "sweep (commnet sweep EXPERIMENT --out FOLDER --resume)")])
    groups = sorted(set(frame["group"]))
    if group not in groups:
        raise ScenarioError([("--group", "", f"{group!r} is not a group of this sweep; groups: "
                              f"{', '.join(groups)}")])
    frame = frame[frame["group"] == group]
    values = frame[outcome].to_numpy(float)
    finite = np.isfinite(values)
    if not finite.all():
        notes.append(f"{int((~finite).sum())} of {len(values)} runs have no finite {outcome} "
                     "(e.g. a shock never detected); left out")
    frame = frame[finite]
    if per == "point":
        stats = frame.groupby("point")[outcome].agg(["mean", "size"])
        if stats["size"].nunique() > 1:
            notes.append(f"points have {stats['size'].min()}–{stats['size'].max()} stored "
                         "replicates (a partial sweep, or failed runs); each point's mean uses "
                         "what is stored")
        rows = stats.index.to_numpy()
        value = stats["mean"].to_numpy(float)
    else:
        rows = frame["point"].to_numpy()
        value = frame[outcome].to_numpy(float)
    total = int(manifest.get("points") or len(design))
    if per == "point" and len(rows) < total:
        notes.append(f"{len(rows)} of {total} design points have results")
    y = value < threshold if direction == "below" else value > threshold
    unit = "points" if per == "point" else "runs"
    if y.all() or not y.any():
        lo, hi = float(np.min(value)), float(np.max(value))
        which = "every one" if y.all() else "none"
        raise ScenarioError([(f"--{direction}", "", f"{outcome} {'<' if direction == 'below' else '>'} "
                              f"{threshold:g} holds for {which} of the {len(value)} {unit} "
                              f"({outcome} ranges {lo:.4g} to {hi:.4g}); choose a threshold "
                              "inside that range")])
    x = _x_frame(design.loc[rows].reset_index(drop=True), names, notes)
    if x.shape[1] == 0:
        raise ScenarioError([("--over", "", f"no parameter among {', '.join(names)} takes more "
                              "than one value; nothing to find boxes over (try --over all)")])
    if len(value) < 20:
        notes.append(f"only {len(value)} {unit}: PRIM's boxes and their statistics are rough")
    return DiscoveryData(x, np.asarray(y, bool), value, roles, outcome, direction,
                         float(threshold), over, per, group, manifest, notes)


# --------------------------------------------------------------------------- PRIM


def _limits(box_lim: pd.DataFrame, x: pd.DataFrame, prefix: str = "") -> dict[str, Any]:
    """A box's limits as flat columns: ``p:min``/``p:max`` (numeric), ``p:in`` (categories)."""
    out: dict[str, Any] = {}
    for c in x.columns:
        if isinstance(x[c].dtype, pd.CategoricalDtype):
            out[f"{prefix}{c}:in"] = "|".join(sorted(str(v) for v in box_lim.loc[0, c]))
        else:
            out[f"{prefix}{c}:min"] = float(box_lim.loc[0, c])
            out[f"{prefix}{c}:max"] = float(box_lim.loc[1, c])
    return out


def prim_trajectory(data: DiscoveryData, *, peel_alpha: float = 0.05,
                    paste_alpha: float = 0.05, mass_min: float = 0.05) -> tuple[pd.DataFrame, Any]:
    """Run PRIM (one box, EMA's defaults) and return its peeling trajectory and the box.

    Returns
    -------
    trajectory : DataFrame
        One row per box: id, coverage, density, mass, n, k (cases of interest in the box),
        res_dim (restricted parameters), then the limits (``p:min``, ``p:max``, ``p:in``).
    box : ema_workbench.analysis.prim.PrimBox
    """
    prim, _ = _ema()
    with _quiet_ema():
        algo = prim.Prim(data.x, data.y.copy(), peel_alpha=peel_alpha, paste_alpha=paste_alpha,
                         mass_min=mass_min)
        box = algo.find_box()
    traj = box.peeling_trajectory[["id", "coverage", "density", "mass", "n", "k", "res_dim"]]
    traj = traj.astype({"id": int, "n": int, "k": int, "res_dim": int}).reset_index(drop=True)
    limits = pd.DataFrame([_limits(b, data.x) for b in box.box_lims])
    return pd.concat([traj, limits], axis=1), box


def _front(traj: pd.DataFrame) -> np.ndarray:
    """Indices of the non-dominated boxes (no other box has both more coverage and density)."""
    c, d = traj["coverage"].to_numpy(float), traj["density"].to_numpy(float)
    keep = []
    for i in range(len(c)):
        dominated = ((c >= c[i]) & (d >= d[i]) & ((c > c[i]) | (d > d[i]))).any()
        if not dominated:
            keep.append(i)
    return np.asarray(keep, int)


def knee(traj: pd.DataFrame) -> int:
    """Index of the knee of a peeling trajectory (see the module docstring)."""
    front = _front(traj)
    c = traj["coverage"].to_numpy(float)[front]
    d = traj["density"].to_numpy(float)[front]
    order = np.argsort(-c, kind="stable")
    front, c, d = front[order], c[order], d[order]
    if len(front) >= 3:
        dc, dd = c[-1] - c[0], d[-1] - d[0]
        norm = math.hypot(dc, dd)
        # signed distance from the chord, positive towards (coverage 1, density 1)
        dist = (dd * (c - c[0]) - dc * (d - d[0])) / norm if norm > 0 else np.zeros_like(c)
        best = int(np.argmax(dist))
        if dist[best] > 1e-12:
            return int(front[best])
    return int(front[int(np.argmax(c * d))])


def choose_box(traj: pd.DataFrame, box: int | None = None,
               min_coverage: float | None = None) -> tuple[int, str]:
    """The trajectory box to report and the rule that chose it."""
    if box is not None and min_coverage is not None:
        raise ScenarioError([("--box/--min-coverage", "", "give at most one of --box N and "
                              "--min-coverage C")])
    last = len(traj) - 1
    if box is not None:
        if not 0 <= box <= last:
            raise ScenarioError([("--box", "", f"{box}: the peeling trajectory has boxes 0 to "
                                  f"{last} (see trajectory.csv)")])
        return int(box), f"--box {box}"
    if min_coverage is not None:
        if not (math.isfinite(min_coverage) and 0 < min_coverage <= 1):
            raise ScenarioError([("--min-coverage", "", f"{min_coverage}: give a share in "
                                  "(0, 1], e.g. 0.8")])
        ok = traj[traj["coverage"] >= min_coverage - 1e-12]
        best = ok.sort_values(["density", "coverage", "id"], ascending=[False, False, True],
                              kind="stable").iloc[0]
        return int(best["id"]), f"densest box with coverage >= {min_coverage:g}"
    return knee(traj), "knee of the peeling trajectory"


def box_table(data: DiscoveryData, traj: pd.DataFrame, prim_box: Any, chosen: int,
              rule: str) -> pd.DataFrame:
    """The chosen box, one row per parameter: limits, full range, quasi-p values, and the
    box's coverage, density, mass, n, k and res_dim."""
    lim = prim_box.box_lims[chosen]
    init = prim_box.box_lims[0]
    qp = prim_box.p_values[chosen]
    row = traj.loc[chosen]
    rows = []
    for c in data.x.columns:
        categorical = isinstance(data.x[c].dtype, pd.CategoricalDtype)
        q = [np.nan if v is None or v < 0 else float(v) for v in qp.get(c, [np.nan, np.nan])]
        if categorical:
            inside, every = set(lim.loc[0, c]), set(init.loc[0, c])
            restricted = inside != every
            lo = hi = rng_lo = rng_hi = np.nan
            cats = "|".join(sorted(map(str, inside)))
        else:
            lo, hi = float(lim.loc[0, c]), float(lim.loc[1, c])
            rng_lo, rng_hi = float(init.loc[0, c]), float(init.loc[1, c])
            restricted = lo > rng_lo or hi < rng_hi
            cats = ""
        rows.append({"box": chosen, "parameter": c, "role": data.roles.get(c, "unmarked"),
                     "restricted": restricted, "min": lo, "max": hi, "categories": cats,
                     "range_min": rng_lo, "range_max": rng_hi, "qp_lower": q[0],
                     "qp_upper": q[1], "coverage": float(row["coverage"]),
                     "density": float(row["density"]), "mass": float(row["mass"]),
                     "n": int(row["n"]), "k": int(row["k"]), "res_dim": int(row["res_dim"]),
                     "rule": rule})
    table = pd.DataFrame(rows)
    return table.sort_values("restricted", ascending=False, kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- CART


def cart_boxes(data: DiscoveryData, *, mass_min: float = 0.05, seed: int = 1) -> pd.DataFrame:
    """CART's leaves as boxes, densest first: leaf, coverage, density, mass, n, k, res_dim,
    ``of_interest`` (the tree classes the leaf as cases of interest: density > 0.5), limits.
    """
    _, cart = _ema()
    from sklearn.tree import DecisionTreeClassifier

    class SeededCART(cart.CART):
        """EMA's CART with the tree's random tie-breaking driven by ``seed``."""

        def build_tree(self) -> None:
            leaf = max(1, int(self.mass_min * self.x.shape[0]))
            self.clf = DecisionTreeClassifier(min_samples_leaf=leaf, random_state=seed)
            self.clf.fit(self._x, self.y)
            if len(self.feature_names) == 1:
                # EMA looks up a name for every node, leaves too (feature -2, sklearn's
                # TREE_UNDEFINED); with a single feature that index is out of range.  The
                # name looked up for leaves is never used.
                self.feature_names = [*self.feature_names, "(leaf)"]

    with _quiet_ema():
        algo = SeededCART(data.x, data.y, mass_min=mass_min)
        algo.build_tree()
        leaves = list(zip(algo.boxes, algo.stats, strict=True))
    rows = []
    total = int(data.y.sum())
    for i, (lim, stats) in enumerate(leaves):
        n = round(stats["mass"] * len(data.y))
        k = round(stats["coverage"] * total)
        rows.append({"leaf": i, "coverage": stats["coverage"], "density": stats["density"],
                     "mass": stats["mass"], "n": n, "k": k, "res_dim": stats["res dim"],
                     "of_interest": stats["density"] > 0.5, **_limits(lim, data.x)})
    table = pd.DataFrame(rows)
    return table.sort_values(["density", "coverage", "leaf"], ascending=[False, False, True],
                             kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- figure


def tradeoff_figure(data: DiscoveryData, traj: pd.DataFrame, boxes: pd.DataFrame,
                    chosen: int) -> Any:
    """Coverage–density trade-off of the peeling trajectory (left) and the chosen box's
    limits on each parameter's range (right).  Returns a :class:`matplotlib.figure.Figure`
    (not attached to pyplot; nothing random)."""
    from matplotlib.colors import BoundaryNorm
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, max(4.8, 1.2 + 0.9 * data.x.shape[1])), layout="constrained")
    ax, bx = fig.subplots(1, 2, width_ratios=[1, 1.1])
    fig.suptitle(f"Scenario discovery (PRIM): which parameter values give {data.condition}?",
                 fontsize=12)
    res = traj["res_dim"].to_numpy(int)
    top = int(res.max()) if len(res) else 0
    norm = BoundaryNorm(np.arange(-0.5, top + 1.5), 256)
    ax.plot(traj["coverage"], traj["density"], color="0.75", lw=0.8, zorder=1)
    sc = ax.scatter(traj["coverage"], traj["density"], c=res, cmap="viridis", norm=norm, s=22,
                    zorder=2)
    r = traj.loc[chosen]
    ax.scatter([r["coverage"]], [r["density"]], s=160, facecolors="none", edgecolors="C3",
               linewidths=2, zorder=3, label=f"box {chosen}: coverage {r['coverage']:.2f}, "
               f"density {r['density']:.2f}")
    base = float(data.y.mean())
    ax.axhline(base, color="0.4", ls="--", lw=0.8, label=f"base rate {base:.2f} (no box)")
    ax.set_xlim(0, 1.05)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("coverage: share of cases of interest inside the box", fontsize=11)
    ax.set_ylabel("density: share of the box of interest", fontsize=11)
    ax.set_title("peeling trajectory (coverage–density trade-off)", fontsize=11)
    ax.legend(fontsize=10, loc="lower left")
    ax.tick_params(labelsize=10)
    ax.grid(alpha=0.3)
    cb = fig.colorbar(sc, ax=ax, ticks=np.arange(0, top + 1))
    cb.set_label("restricted parameters", fontsize=11)
    cb.ax.tick_params(labelsize=10)
    # the chosen box on each parameter's range (scaled to 0-1), a label above each bar
    for i, b in enumerate(boxes.itertuples()):
        color = "C3" if b.restricted else "C0"
        if b.categories:
            cats = sorted(map(str, data.x[b.parameter].cat.categories))
            inside = set(b.categories.split("|"))
            for j, cat in enumerate(cats):
                x0 = j / len(cats)
                bx.barh(i, 1 / len(cats), left=x0, height=0.35, color=color if cat in inside
                        else "0.9", edgecolor="white")
                bx.text(x0 + 0.5 / len(cats), i, cat, ha="center", va="center", fontsize=10,
                        color="white" if cat in inside else "black")
            what = f"{{{b.categories.replace('|', ', ')}}}" if b.restricted else "unrestricted"
        else:
            span = (b.range_max - b.range_min) or 1.0
            lo, hi = (b.min - b.range_min) / span, (b.max - b.range_min) / span
            bx.barh(i, 1, height=0.35, color="0.9")
            bx.barh(i, max(hi - lo, 0.004), left=lo, height=0.35, color=color)
            what = (f"{b.min:.3g} to {b.max:.3g}" if b.restricted else "unrestricted") + \
                f" (sampled {b.range_min:.3g} to {b.range_max:.3g})"
        bx.text(0, i - 0.24, f"{b.parameter} ({b.role})\n{what}", ha="left", va="bottom",
                fontsize=10, linespacing=1.3)
    bx.set_yticks([])
    bx.set_ylim(len(boxes) - 0.6, -0.85)
    bx.set_xlim(0, 1)
    bx.set_xticks([0, 0.5, 1], ["low end", "middle", "high end"], fontsize=10)
    bx.set_title(f"box {chosen} on each parameter's range (red: restricted)", fontsize=11)
    return fig


# --------------------------------------------------------------------------- driver


@dataclass
class DiscoveryResult:
    """Everything :func:`discover` found (see :func:`write` for the files)."""

    data: DiscoveryData
    trajectory: pd.DataFrame
    boxes: pd.DataFrame
    cart: pd.DataFrame
    chosen: int
    rule: str
    settings: dict[str, Any]
    seed: int
    files: list[Path] = field(default_factory=list)


def discover(folder: str | os.PathLike[str], outcome: str, *, below: float | None = None,
             above: float | None = None, over: str = "uncertainties", group: str = "overall",
             per: str = "point", box: int | None = None, min_coverage: float | None = None,
             peel_alpha: float = 0.05, paste_alpha: float = 0.05,
             mass_min: float = 0.05) -> DiscoveryResult:
    """Scenario discovery on a stored sweep: PRIM's trajectory and chosen box, and CART.

    Parameters
    ----------
    folder : path-like
        Results folder written by ``commnet sweep``.
    outcome : str
        An outcome column of the sweep (``manifest.json`` lists them).
    below, above : float
        Exactly one: cases of interest are those with outcome < ``below`` (or > ``above``).
    over : {"uncertainties", "levers", "all"}
        Parameters that may define boxes (from the experiment's ``levers:`` /
        ``uncertainties:``; unmarked parameters count as uncertainties).
    per : {"point", "run"}
        A case is a design point (outcome averaged over replicates) or a run.
    box, min_coverage
        Choose the reported box by trajectory index, or as the densest box with at least
        this coverage; default: the knee.
    peel_alpha, paste_alpha, mass_min
        PRIM's settings (EMA's defaults); ``mass_min`` is also CART's smallest leaf.
    """
    for name, v in (("--peel-alpha", peel_alpha), ("--paste-alpha", paste_alpha),
                    ("--mass-min", mass_min)):
        if not (math.isfinite(v) and 0 < v < 1):
            raise ScenarioError([(name, "", f"{v}: give a share strictly between 0 and 1")])
    if box is not None and min_coverage is not None:
        choose_box(pd.DataFrame(), box, min_coverage)  # raises
    data = load_data(folder, outcome, below=below, above=above, over=over, group=group, per=per)
    traj, prim_box = prim_trajectory(data, peel_alpha=peel_alpha, paste_alpha=paste_alpha,
                                     mass_min=mass_min)
    if len(traj) == 1:
        data.notes.append("PRIM found no peel that raises the density: the box is the whole "
                          "space (the outcome does not depend on these parameters here)")
    chosen, rule = choose_box(traj, box, min_coverage)
    traj.insert(1, "chosen", traj["id"] == chosen)
    boxes = box_table(data, traj, prim_box, chosen, rule)
    from .designs import analysis_seed

    seed = analysis_seed(int(data.manifest.get("root_seed") or 0))
    cart = cart_boxes(data, mass_min=mass_min, seed=seed)
    settings = {"peel_alpha": peel_alpha, "paste_alpha": paste_alpha, "mass_min": mass_min,
                "objective": "lenient1", "cart_min_samples_leaf":
                max(1, int(mass_min * len(data.y)))}
    return DiscoveryResult(data, traj, boxes, cart, chosen, rule, settings, seed)


def _versions() -> dict[str, str]:
    from ..results import package_versions

    out = package_versions()
    for name in ("ema_workbench", "scikit-learn"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def write(result: DiscoveryResult, out: str | os.PathLike[str], source: str | os.PathLike[str],
          figures: bool = True) -> list[Path]:
    """Write boxes.csv, trajectory.csv, cart.csv, tradeoff.png (unless ``figures`` is false;
    an old one is then removed) and manifest.json to ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    d = result.data
    files = [out / "boxes.csv", out / "trajectory.csv", out / "cart.csv"]
    result.boxes.to_csv(files[0], index=False)
    result.trajectory.to_csv(files[1], index=False)
    result.cart.to_csv(files[2], index=False)
    png = out / "tradeoff.png"
    if figures:
        fig = tradeoff_figure(d, result.trajectory, result.boxes, result.chosen)
        fig.savefig(png, dpi=110, metadata={"Software": None})
        files.append(png)
    else:
        png.unlink(missing_ok=True)
    r = result.trajectory.loc[result.chosen]
    manifest = {
        "kind": "commnet scenario discovery",
        "source": str(Path(source).resolve()),
        "experiment_name": d.manifest.get("experiment_name"),
        "design_hash": d.manifest.get("design_hash"),
        "design": d.manifest.get("design"),
        "outcome": d.outcome,
        "group": d.group,
        "direction": d.direction,
        "threshold": d.threshold,
        "condition": d.condition,
        "per": d.per,
        "over": d.over,
        "parameters": list(d.x.columns),
        "roles": d.roles,
        "cases": len(d.y),
        "cases_of_interest": int(d.y.sum()),
        "base_rate": float(d.y.mean()),
        "chosen_box": {"id": result.chosen, "rule": result.rule,
                       "coverage": float(r["coverage"]), "density": float(r["density"]),
                       "mass": float(r["mass"]), "n": int(r["n"]),
                       "restricted": [b.parameter for b in result.boxes.itertuples()
                                      if b.restricted]},
        "prim": result.settings,
        "seed": result.seed,
        "seed_from": "analysis_seed(root_seed of the sweep): CART's tie-breaking; PRIM is "
                     "deterministic",
        "root_seed": d.manifest.get("root_seed"),
        "notes": d.notes,
        "files": [f.name for f in files],
        "versions": _versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    files.append(path)
    result.files = files
    return files


def _limit_text(b: Any) -> str:
    if b.categories:
        return "{" + b.categories.replace("|", ", ") + "}"
    return f"{b.min:.3g} – {b.max:.3g}"


def print_discovery(result: DiscoveryResult, console: Any) -> None:
    """The chosen PRIM box and the CART leaves of interest as rich tables."""
    from rich.table import Table

    d, r = result.data, result.trajectory.loc[result.chosen]
    console.print(f"{d.condition}: {int(d.y.sum())} of {len(d.y)} "
                  f"{'points' if d.per == 'point' else 'runs'} (base rate {d.y.mean():.2f}); "
                  f"PRIM over {d.over}: {', '.join(d.x.columns)}", highlight=False)
    tab = Table(title=f"PRIM box {result.chosen} ({result.rule}): coverage "
                      f"{r['coverage']:.2f}, density {r['density']:.2f}, mass {r['mass']:.2f}, "
                      f"n {int(r['n'])}")
    # parameter names whole where they fit (up to 30 characters), folded only beyond
    longest = max([len(str(p)) for p in result.boxes["parameter"]] + [9])
    for col in ("parameter", "role", "box", "sampled range", "quasi-p"):
        tab.add_column(col, overflow="fold",
                       min_width=min(longest, 30) if col == "parameter" else None)
    for b in result.boxes.itertuples():
        rng = "" if b.categories else f"{b.range_min:.3g} – {b.range_max:.3g}"
        qps = [f"{q:.2g}" for q in (b.qp_lower, b.qp_upper) if np.isfinite(q)]
        tab.add_row(b.parameter, b.role, _limit_text(b) if b.restricted else "(unrestricted)",
                    rng, ", ".join(qps))
    console.print(tab)
    leaves = result.cart[result.cart["of_interest"]]
    console.print(f"CART: {len(result.cart)} leaves, {len(leaves)} classed as of interest"
                  + (f"; densest: coverage {leaves['coverage'].iloc[0]:.2f}, density "
                     f"{leaves['density'].iloc[0]:.2f}" if len(leaves) else ""), highlight=False)
    for note in d.notes:
        console.print(f"note: {note}", highlight=False)


def discover_command(folder: Path, outcome: str, below: float | None, above: float | None,
                     over: str, group: str, per: str, box: int | None,
                     min_coverage: float | None, peel_alpha: float, mass_min: float,
                     out: Path | None, figures: bool, quiet: bool, console: Any) -> int:
    """``commnet discover``: run, print and write; return the exit status (bad input raises
    :class:`~simulation.loader.ScenarioError`, exit 2)."""
    result = discover(folder, outcome, below=below, above=above, over=over, group=group,
                      per=per, box=box, min_coverage=min_coverage, peel_alpha=peel_alpha,
                      mass_min=mass_min)
    out = out or Path(folder) / "discover"
    files = write(result, out, folder, figures)
    if not quiet:
        print_discovery(result, console)
    console.print(f"{len(files)} file(s) in {out}: " + ", ".join(f.name for f in files),
                  highlight=False)
    return 0
