"""The app's live charts: one panel per metric family, runs solid (A) and dashed (B)."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..model import CommissioningModel
from .network import Run
from .style import CHART_FONT_PT, FIGURE_DPI, TITLE_FONT_PT, encode_png

__all__ = ["CHART_PANELS", "CHART_ROW_IN", "CHART_WIDTH_IN", "ChartRenderer", "chart_figure",
           "metric_series"]

#: Chart panels: title (with the unit) → (metric, label) pairs, all overall values (index −1).
CHART_PANELS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Knowledge (accuracy, 0–1)", (("accuracy_board", "board"),
                                   ("accuracy_localities", "localities"),
                                   ("reach", "practice reach"))),
    ("Coherence (0–1)", (("coherence_internal", "internal"), ("coherence_external", "external"))),
    ("Stability (share kept, 0–1)", (("tie_persistence", "ties"), ("retention", "people"))),
    ("Decision skill (0–1)", (("relevance_skill", "0 none, 1 true need"),)),
    ("Decision relevance (0–1)", (("relevance_patient", "patient need"),
                                  ("relevance_localities", "locality need"),
                                  ("relevance_provider", "provider capacity"))),
    ("Engagement (0–1)", (("engagement_gp", "GPs"), ("engagement_all", "everyone"))),
    ("Knowledge flow (per month)", (("knowledge_flow", "exchanges per agent"),)),
)
#: Chart figure width (inches) by number of panel columns, and the height of one row.
CHART_WIDTH_IN = {2: 4.7, 3: 7.4, 4: 10.5}
CHART_ROW_IN = 2.35
_LINE_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")
_RUN_STYLES = ("-", "--")


def metric_series(model: CommissioningModel, name: str) -> np.ndarray:
    """The overall value of a metric at every collected step (index 0 is the start)."""
    values = model.datacollector.model_vars.get(name, [])
    return np.array([float(np.asarray(v, float)[-1]) for v in values])


_Panels = list[tuple[Any, list[tuple[Any, "Run", str]]]]


def _chart_axes(runs: Sequence[Run], ncols: int, animated: bool) -> tuple[Figure, _Panels]:
    """The chart figure with its axes, titles, legends and (empty) lines."""
    nrows = math.ceil(len(CHART_PANELS) / ncols)
    width = CHART_WIDTH_IN.get(ncols, 2.7 * ncols)
    pair = len(runs) > 1
    height = CHART_ROW_IN * nrows + 0.45 + 0.3 * pair
    fig = Figure(figsize=(width, height), dpi=FIGURE_DPI)
    fig.subplots_adjust(left=0.75 / width, right=1 - 0.1 / width, top=1 - (0.35 + 0.3 * pair) / height,
                        bottom=0.5 / height, wspace=0.3, hspace=0.62)
    axes = fig.subplots(nrows, ncols).ravel()
    for ax in axes[len(CHART_PANELS):]:
        ax.set_visible(False)
    months = max((run.model.spec.steps for run in runs), default=1)
    panels = []
    for k, (ax, (title, metrics)) in enumerate(zip(axes, CHART_PANELS, strict=False)):
        lines = []
        for r, run in enumerate(runs[:2]):
            for j, (name, label) in enumerate(metrics):
                (line,) = ax.plot([], [], _RUN_STYLES[r], color=_LINE_COLOURS[j], lw=1.6, ms=3,
                                  label=label if r == 0 else None, animated=animated)
                lines.append((line, run, name))
        ax.set_title(title, fontsize=TITLE_FONT_PT)
        if k >= len(CHART_PANELS) - ncols:  # the bottom panel of each column
            ax.set_xlabel("month", fontsize=CHART_FONT_PT)
        ax.tick_params(labelsize=CHART_FONT_PT)
        ax.grid(alpha=0.3)
        ax.set_xlim(0, max(months, 1))  # the whole run: lines grow across a fixed axis
        legend = ax.legend(fontsize=CHART_FONT_PT, loc="best", framealpha=0.6, edgecolor="none",
                           handlelength=1.5, borderpad=0.2, labelspacing=0.2)
        legend.set_animated(animated)  # blitting: drawn over the lines, not under them
        panels.append((ax, lines))
    if len(runs) > 1:
        fig.suptitle(f"solid: {runs[0].label}    dashed: {runs[1].label}",
                     fontsize=TITLE_FONT_PT)
    return fig, panels


def _set_line_data(panels: _Panels) -> list[tuple[float, float] | None]:
    """Load every line's series; returns each panel's data range (None if no data)."""
    ranges = []
    for _, lines in panels:
        lo, hi = math.inf, -math.inf
        for line, run, name in lines:
            y = metric_series(run.model, name)
            line.set_data(np.arange(y.size), y)
            line.set_marker("o" if y.size == 1 else "None")
            finite = y[np.isfinite(y)]
            if finite.size:
                lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
        ranges.append((lo, hi) if lo <= hi else None)
    return ranges


def _y_limits(lo: float, hi: float, headroom: float) -> tuple[float, float]:
    """Limits around [lo, hi]: at least 0.1 tall (noise must not look like a trend), with
    ``headroom`` × the span added on each side, kept inside [0, 1] for metrics in [0, 1]."""
    if hi - lo < 0.1:
        mid = 0.5 * (hi + lo)
        lo, hi = mid - 0.05, mid + 0.05
    pad = headroom * (hi - lo)
    new_lo, new_hi = lo - pad, hi + pad
    if lo >= -0.05 and hi <= 1.05:
        new_lo, new_hi = max(new_lo, -0.02), min(new_hi, 1.02)
    elif lo >= 0:
        new_lo = max(new_lo, -0.02 * new_hi)
    return new_lo, new_hi


def chart_figure(runs: Sequence[Run], ncols: int = 3) -> Figure:
    """Live charts: one panel per :data:`CHART_PANELS` entry; runs solid (A) and dashed (B).

    ``ncols`` = 3 gives a wide figure (2 rows), 2 a squarer one (3 rows) for a half-width
    column.  Margins are fixed: a layout engine would cost about 0.2 s per render.  The app
    draws the same figure incrementally with :class:`ChartRenderer`.
    """
    fig, panels = _chart_axes(runs, ncols, animated=False)
    for (ax, _), rng in zip(panels, _set_line_data(panels), strict=True):
        if rng is not None:
            ax.set_ylim(*_y_limits(*rng, headroom=0.08))
    return fig


class ChartRenderer:
    """The charts of :func:`chart_figure`, redrawn cheaply every step (blitting).

    Axes, ticks, titles and legends are drawn once and kept as a background; each step only
    the lines are drawn over it.  The axes are redrawn only when a line leaves its panel's
    y-range, which then grows with headroom, so this happens a few times per run.  Rendering
    drops from about 0.2 s to a few hundredths.  Thread-safe (Play steps in a thread).
    """

    def __init__(self, runs: Sequence[Run], ncols: int = 3):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.fig, self.panels = _chart_axes(runs, ncols, animated=True)
        self.canvas = FigureCanvasAgg(self.fig)
        self.background = None
        self.full_redraws = 0
        self._lock = threading.Lock()

    def png(self) -> bytes:
        """The charts as PNG bytes, at the runs' current step."""
        with self._lock:
            redraw = self.background is None
            for (ax, _), rng in zip(self.panels, _set_line_data(self.panels), strict=True):
                if rng is None:
                    continue
                lo, hi = ax.get_ylim()
                if redraw or rng[0] < lo or rng[1] > hi:
                    ax.set_ylim(*_y_limits(*rng, headroom=0.3))
                    redraw = True
            if redraw:
                self.canvas.draw()
                self.background = self.canvas.copy_from_bbox(self.fig.bbox)
                self.full_redraws += 1
            else:
                self.canvas.restore_region(self.background)
            for ax, lines in self.panels:
                for line, _, _ in lines:
                    ax.draw_artist(line)
                ax.draw_artist(ax.get_legend())
            return encode_png(self.canvas)
