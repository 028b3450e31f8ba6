"""Figures: metric trajectories with replicate bands, the network drawn by type/locality, and
the pattern suite's forest plot.

Every figure function *returns* a :class:`matplotlib.figure.Figure` and saves it only when
given ``path=`` (or call :func:`save`).  Figures are built with the object-oriented API
(``Figure()``, not ``pyplot``): nothing here selects a backend or keeps figures in pyplot's
registry, so importing this module changes nothing in a notebook (a returned figure displays
as the cell's value under the inline backend) and a headless command line needs no display
(``Figure.savefig`` renders with Agg).  Axis labels and panel titles come from the metric
registry (:func:`simulation.reporters.metric_info`): plain names, units or ranges, and
which way is better.

The network layout is *structural* and seeded: groups on a large circle, their areas
(localities) on small circles around each group's centre, agents jittered by a generator
seeded from the scenario seed; providers and local authorities in the middle.  It is fast for
any size and never moves between steps.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba_array
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .population import Population
from .reporters import KEY_METRICS, METRICS, metric_info
from .scenario import STAKEHOLDER_TYPES

__all__ = ["CLASS_COLOURS", "TYPE_COLOURS", "VERDICT_STYLE", "plot_network", "plot_patterns",
           "plot_routes", "plot_survey_history", "plot_trajectories", "save",
           "structural_layout"]

TYPE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")


def save(fig: Figure, path: str | os.PathLike[str], dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix) and return the path.

    Written whole or not at all: to a hidden temporary file beside ``path``, then renamed, so
    a kill or a full disk never leaves half a figure."""
    import tempfile

    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _check_path_keyword(value: object, name: str) -> None:
    """Refuse a path given where the figure's content is expected (the old signatures took
    ``path`` second): figure functions return the figure and save it only with ``path=``."""
    looks_like_file = isinstance(value, str) and value.lower().endswith(
        (".png", ".svg", ".pdf", ".jpg", ".jpeg"))
    if isinstance(value, os.PathLike) or looks_like_file:
        raise TypeError(f"{name} got a path ({value!s}); figure functions return the figure — "
                        "pass path=... to save it")


def plot_trajectories(
    ts: pd.DataFrame,
    metrics: Sequence[str] = KEY_METRICS,
    label_column: str | None = None,
    title: str = "",
    *,
    path: str | os.PathLike[str] | None = None,
    dpi: int = 110,
) -> Figure:
    """Mean trajectory of each metric (overall) with a band of the 5th–95th replicate
    percentiles; one line per value of ``label_column`` (e.g. scenario) if given.

    Each panel is titled with the metric's plain name and labelled with its unit or range
    and the direction of good, from the metric registry.  Saved to ``path`` if given.
    """
    _check_path_keyword(metrics, "metrics")
    metrics = [metrics] if isinstance(metrics, str) else metrics
    metrics = [m for m in metrics if m in ts.columns]
    ncol = 3
    nrow = max(1, int(np.ceil(len(metrics) / ncol)))
    fig = Figure(figsize=(4.4 * ncol, 3.1 * nrow))
    axes = fig.subplots(nrow, ncol, squeeze=False)
    data = ts[ts["group"] == "overall"]
    labels = [None] if label_column is None else list(dict.fromkeys(data[label_column]))
    xlabel = "month after burn-in"
    if "date" in data.columns and len(data) and data["step"].min() == 0:
        first = data.loc[data["step"] == 0, "date"].dropna()
        if len(first) and first.nunique() == 1:  # calendar time: say which month is 0
            xlabel = f"month after burn-in (0 = {first.iloc[0]})"
    for ax, m in zip(axes.flat, metrics, strict=False):
        info = metric_info(m)
        for i, lab in enumerate(labels):
            sub = data if lab is None else data[data[label_column] == lab]
            g = sub.groupby("step")[m]
            mean, lo, hi = g.mean(), g.quantile(0.05), g.quantile(0.95)
            colour = f"C{i}"
            ax.plot(mean.index, mean.to_numpy(), color=colour, lw=1.6, label=lab)
            ax.fill_between(mean.index, lo.to_numpy(), hi.to_numpy(), color=colour, alpha=0.2,
                            lw=0)
        good = "" if info.direction == "none" else f" ({info.direction_text})"
        ax.set_title(f"{info.title}{good}", fontsize=10)
        ax.set_ylabel(textwrap.fill(info.axis_label(), 28), fontsize=8)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    if label_column is not None:
        axes.flat[0].legend(fontsize=8)
    fig.suptitle((title + "\n" if title else "") + "mean over replicates; band: 5th–95th "
                 "percentile of replicates", fontsize=10)
    fig.tight_layout()
    if path is not None:
        save(fig, path, dpi)
    return fig


#: Colours of the survey respondent classes in the history figure.
CLASS_COLOURS = {"formal": "C0", "other": "C1", "stakeholder": "C2"}
_CLASS_NAMES = {"formal": "GPs with a formal role", "other": "GPs without one",
                "stakeholder": "other stakeholders"}


_QUESTION_TITLES = {
    "engaged_high": "Highly engaged with the commissioning body",
    "engaged_some": "At least somewhat engaged",
    "influence": "Can influence its work",
    "reflected": "Its decisions reflect my views",
    "informed": "Informed about what it is trying to achieve",
    "acted_on": "My views are acted on",
}


def _decimal_year(month: str) -> float:
    year, mon = (int(x) for x in str(month).split("-")[:2])
    return year + (mon - 1) / 12.0


def plot_survey_history(
    table: pd.DataFrame,
    questions: Sequence[str] = ("engaged_some", "influence", "reflected", "informed"),
    *,
    events: Sequence[tuple[str, str]] = (),
    group: str = "overall",
    title: str = "",
    path: str | os.PathLike[str] | None = None,
    dpi: int = 110,
) -> Figure:
    """The survey questions by year: one panel per question, one line per respondent class
    (formal, other, stakeholder) with its interval across replicates as a band; a year the
    run covers only in part (``months`` < 12) has an open marker.

    ``table`` is :func:`simulation.results.survey_by_year` (columns ``group``, ``question``,
    ``respondents``, ``year``, ``first_month``, ``last_month``, ``mean``, ``ci_low``,
    ``ci_high``); each year is drawn at the middle of the run's months in it.  ``events``
    are ``(YYYY-MM, label)`` pairs (the scenario's reorganisations,
    :func:`simulation.results.calendar_events`), drawn as labelled vertical dashed lines at
    the start of their month.  Saved to ``path`` if given."""
    _check_path_keyword(questions, "questions")
    data = table[table["group"] == group]
    questions = [q for q in questions if q in set(data["question"])]
    ncol = 2
    nrow = max(1, int(np.ceil(len(questions) / ncol)))
    fig = Figure(figsize=(6.0 * ncol, 3.6 * nrow))
    axes = fig.subplots(nrow, ncol, squeeze=False)
    years = data.drop_duplicates("year").sort_values("first_month")
    centre = {r.year: (_decimal_year(r.first_month) + _decimal_year(r.last_month) + 1 / 12) / 2
              for r in years.itertuples()}
    for ax, q in zip(axes.flat, questions, strict=False):
        for cls, colour in CLASS_COLOURS.items():
            sub = data[(data["question"] == q) & (data["respondents"] == cls)]
            if sub.empty:
                continue
            sub = sub.sort_values("first_month")
            x = np.array([centre[y] for y in sub["year"]])
            y = sub["mean"].to_numpy(float)
            ax.plot(x, y, "-", color=colour, lw=1.6, label=_CLASS_NAMES[cls])
            partial = (sub["months"].to_numpy() < 12 if "months" in sub.columns
                       else np.zeros(len(sub), bool))
            ax.plot(x[~partial], y[~partial], "o", ms=3.5, color=colour)
            ax.plot(x[partial], y[partial], "o", ms=3.5, mfc="white", color=colour)
            ax.fill_between(x, sub["ci_low"].to_numpy(float), sub["ci_high"].to_numpy(float),
                            color=colour, alpha=0.2, lw=0)
        for month, label in events:
            xe = _decimal_year(month)
            ax.axvline(xe, color="0.3", ls="--", lw=1)
            ax.text(xe, 0.03, f"{label} ({month})", rotation=90, va="bottom", ha="right",
                    fontsize=7, color="0.2", transform=ax.get_xaxis_transform(),
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 1})
        ax.set_title(_QUESTION_TITLES.get(q, q.replace("_", " ")), fontsize=10)
        ax.set_ylabel("share of respondents", fontsize=8)
        ax.set_ylim(-0.02, 1.02)
        ticks = list(centre.items())
        step = max(1, int(np.ceil(len(ticks) / 12)))
        ax.set_xticks([c for _, c in ticks[::step]], [y for y, _ in ticks[::step]],
                      rotation=45, fontsize=7)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(questions):]:
        ax.axis("off")
    if questions:
        axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.suptitle((title + "\n" if title else "") + f"{group}: yearly mean, mean over replicates; "
                 "band: 95% t-interval across replicates; open marker: a year the run covers "
                 "only in part", fontsize=10)
    fig.tight_layout()
    if path is not None:
        save(fig, path, dpi)
    return fig


def structural_layout(pop: Population, seed: int) -> np.ndarray:
    """Fixed (N, 2) positions: groups on a circle, areas around each group, seeded jitter."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    n, g_count = pop.n, pop.n_groups
    angle_g = 2 * np.pi * np.arange(g_count) / max(g_count, 1)
    radius = 0.0 if g_count == 1 else 3.0
    centre_g = np.c_[radius * np.cos(angle_g), radius * np.sin(angle_g)]
    pos = np.zeros((n, 2))
    area_centre = np.zeros((pop.n_areas, 2))
    for g in range(g_count):
        areas = np.flatnonzero(pop.area_group == g)
        a = 2 * np.pi * np.arange(areas.size) / max(areas.size, 1)
        area_centre[areas] = centre_g[g] + 1.1 * np.c_[np.cos(a), np.sin(a)]
    has_area = pop.area >= 0
    pos[has_area] = area_centre[pop.area[has_area]] + rng.normal(0, 0.28, (has_area.sum(), 2))
    grp = ~has_area & (pop.group >= 0)
    pos[grp] = centre_g[pop.group[grp]] + rng.normal(0, 0.2, (grp.sum(), 2))
    ext = pop.group < 0
    a = 2 * np.pi * rng.random(ext.sum())
    r = (0.6 if g_count > 1 else 2.6) + 0.3 * rng.random(ext.sum())
    pos[ext] = np.c_[r * np.cos(a), r * np.sin(a)]
    return pos


def plot_network(
    pop: Population,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    on_board: np.ndarray,
    *,
    seed: int,
    max_edges: int = 20_000,
    path: str | os.PathLike[str] | None = None,
    dpi: int = 110,
) -> Figure:
    """Two panels: agents coloured by stakeholder type and by locality; board members ringed;
    edge opacity by tie strength.  At most ``max_edges`` ties (the strongest) are drawn.
    Saved to ``path`` if given."""
    pos = structural_layout(pop, seed)
    order = np.argsort(weight)[::-1][:max_edges]
    segs = np.stack([pos[src[order]], pos[dst[order]]], axis=1)
    fig = Figure(figsize=(13, 6.5))
    axes = fig.subplots(1, 2)
    tab10 = to_rgba_array([f"C{i}" for i in range(10)])
    colours_area = tab10[np.where(pop.area >= 0, pop.area % 10, 0)]
    colours_area[pop.area < 0] = (0.4, 0.4, 0.4, 1.0)
    for ax, colours, title in (
        (axes[0], np.asarray(TYPE_COLOURS)[pop.kind], "by stakeholder type"),
        (axes[1], colours_area, "by locality (grey: no locality)"),
    ):
        lc = LineCollection(segs, colors=[(0.3, 0.3, 0.3, float(a))
                                          for a in 0.05 + 0.35 * weight[order]], linewidths=0.4)
        ax.add_collection(lc)
        ax.scatter(pos[:, 0], pos[:, 1], s=10 if pop.n < 5000 else 3, c=colours, linewidths=0)
        ax.scatter(pos[on_board, 0], pos[on_board, 1], s=40, facecolors="none",
                   edgecolors="black", linewidths=0.8)
        ax.set_title(title)
        ax.set_aspect("equal")
        ax.axis("off")
    handles = [Line2D([], [], marker="o", ls="", color=c, label=t)
               for c, t in zip(TYPE_COLOURS, STAKEHOLDER_TYPES, strict=True)]
    handles.append(Line2D([], [], marker="o", ls="", mfc="none", mec="black",
                          label="board member"))
    axes[0].legend(handles=handles, loc="lower left", fontsize=8, frameon=False)
    note = f"{src.size:,} ties" + (f" (strongest {max_edges:,} drawn)" if src.size > max_edges else "")
    fig.suptitle(f"{pop.scenario.name}: {pop.n:,} agents, {note}; line opacity: tie strength")
    fig.tight_layout()
    if path is not None:
        save(fig, path, dpi)
    return fig


#: Colour and marker fill of each verdict of ``commnet patterns``.
VERDICT_STYLE = {"holds": ("C2", True), "reversed": ("C3", True), "no effect": ("C0", False),
                 "inconclusive": ("C1", False), "reported": ("0.5", True)}


def plot_patterns(table: pd.DataFrame, title: str = "", *,
                  path: str | os.PathLike[str] | None = None, dpi: int = 120) -> Figure:
    """Forest plot of ``commnet patterns``: one panel per metric, each check's paired
    difference (treatment − control) with its 95% interval, coloured by verdict (green
    holds, red reversed, blue open no effect, orange open inconclusive, grey reported only),
    the verdict and n written in the row's label, and the metric's practical margin shaded (± margin,
    when the table has one).  Tables without a ``verdict`` column (older patterns.csv) are
    coloured by ``holds``.  Differences are in the metric's own units, named on each panel's
    x axis from the registry (skill units for ``relevance_skill``, £ per head per year for
    ``misallocated_per_head``).  Saved to ``path`` if given."""
    _check_path_keyword(title, "title")
    metrics = list(dict.fromkeys(table["metric"]))
    fig = Figure(figsize=(3.0 * len(metrics), 0.32 * len(table) + 1.9))
    axes = fig.subplots(1, len(metrics), squeeze=False, sharey=True)
    has_verdict = "verdict" in table.columns
    labels = [f"{r.pattern}: {r.metric}"
              + (f" — {r.verdict}, n={r.n}" if has_verdict and r.verdict != "reported" else "")
              for r in table.itertuples()]
    y = np.arange(len(table))[::-1]
    for ax, metric in zip(axes.flat, metrics, strict=True):
        margin = np.nan
        for yi, r in zip(y, table.itertuples(), strict=True):
            if r.metric != metric:
                continue
            if has_verdict:
                colour, filled = VERDICT_STYLE.get(r.verdict, ("0.5", True))
                margin = getattr(r, "margin", np.nan)
            else:
                colour = "0.5" if r.holds is None else ("C2" if r.holds else "C3")
                filled = bool(r.holds) if r.holds is not None else True
            ax.plot([r.ci_low, r.ci_high], [yi, yi], color=colour, lw=2)
            ax.plot([r.difference], [yi], "o", color=colour, mfc=colour if filled else "white",
                    ms=6)
        if np.isfinite(margin):
            ax.axvspan(-margin, margin, color="C0", alpha=0.08, lw=0)
        ax.axvline(0.0, color="k", lw=0.8)
        info = metric_info(metric) if metric in METRICS else None
        ax.set_title(info.title if info else metric.replace("_", " "), fontsize=9)
        if info is not None:
            ax.set_xlabel(f"difference ({info.axis_label()})", fontsize=7)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3, axis="x")
    axes[0, 0].set_yticks(y, labels, fontsize=7)
    fig.suptitle(title or "patterns: treatment − control, paired 95% CI, coloured by verdict",
                 fontsize=10)
    fig.tight_layout()
    if path is not None:
        save(fig, path, dpi)
    return fig


def plot_routes(table: pd.DataFrame, coalitions: pd.DataFrame, title: str = "", *,
                path: str | os.PathLike[str] | None = None, dpi: int = 120) -> Figure:
    """Bar chart of ``commnet routes``: one panel per metric, each knowledge route's Shapley
    share with its 95% interval, and the total they add up to (all routes on − all off, with
    its interval) as a shaded band.  Saved to ``path`` if given."""
    _check_path_keyword(title, "title")
    metrics = list(dict.fromkeys(table["metric"]))
    fig = Figure(figsize=(4.2 * len(metrics), 3.6))
    axes = fig.subplots(1, len(metrics), squeeze=False)
    for ax, metric in zip(axes.flat, metrics, strict=True):
        t = table[table.metric == metric]
        x = np.arange(len(t))
        err = np.vstack([t.share - t.ci_low, t.ci_high - t.share]).clip(min=0)
        ax.bar(x, t.share, color="C0", alpha=0.8)
        ax.errorbar(x, t.share, yerr=np.nan_to_num(err), fmt="none", ecolor="k", capsize=3,
                    lw=1)
        ax.axhline(0.0, color="k", lw=0.8)
        total = coalitions[(coalitions.metric == metric)
                           & (coalitions.coalition == "all − none")]
        if len(total):
            r = total.iloc[0]
            ax.axhspan(r.ci_low, r.ci_high, color="C1", alpha=0.15, lw=0)
            ax.axhline(r.value, color="C1", lw=1, ls="--",
                       label=f"all − none = {r.value:.3g} (sum of shares)")
            ax.legend(fontsize=7, loc="best")
        ax.set_xticks(x, [s.replace("_", "\n") for s in t.route], fontsize=7)
        info = metric_info(metric) if metric in METRICS else None
        ax.set_title(info.title if info else metric.replace("_", " "), fontsize=9)
        if info is not None:
            ax.set_ylabel(f"Shapley share ({info.axis_label()})", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(title or "knowledge routes: Shapley shares, 95% CI", fontsize=10)
    fig.tight_layout()
    if path is not None:
        save(fig, path, dpi)
    return fig
