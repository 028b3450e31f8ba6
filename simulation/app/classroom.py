"""The classroom view's charts and monitors, as data for a client-side chart (ECharts).

Four large charts — decision skill, £ misallocated per head, board accuracy, GP engagement —
each with a monitor above it (NetLogo-style: the current value of every run, in the run's
colour).  :func:`panel_option` builds the ECharts ``option`` dictionary of one chart: the page
sends it to the browser, which draws it (``solara.FigureEcharts``), so a step sends a few
hundred numbers instead of a new PNG.  Nothing here imports Solara.

Sizes are for a projector at 1280 × 800 read from the back of a room: every text ≥ 18 px
(:data:`TEXT_PX`), lines :data:`LINE_PX` wide, one colour per run; the runs' legend is one
line above the four charts (never on the data).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .charts import metric_series
from .network import Run

__all__ = ["CHART_HEIGHT_PX", "CLASSROOM_PANELS", "LINE_PX", "RUN_COLOURS", "TEXT_PX",
           "ClassroomPanel", "axis_limits", "current_values", "format_value", "panel_option"]

#: Smallest text on the classroom view (px): axis labels, legend, units.
TEXT_PX = 18
#: Width of the chart lines (px).
LINE_PX = 4
#: Run colours, A then B (Okabe–Ito blue and vermilion: distinct for colour-blind readers).
RUN_COLOURS = ("#0072B2", "#D55E00")
#: Height of one chart's drawing area (px); four fit on a 1280 × 800 screen in two rows.
CHART_HEIGHT_PX = 232


@dataclass(frozen=True)
class ClassroomPanel:
    """One chart of the classroom view.

    Attributes
    ----------
    metric : str
        The metric (:data:`simulation.reporters.METRICS`), overall value (last column).
    title : str
        Heading above the chart.
    unit : str
        What the numbers mean, shown under the heading.
    decimals : int
        Decimals of the monitor and axis labels.
    prefix : str
        Written before a value (``£``).
    min_span : float
        Smallest y-axis span, so that noise does not look like a trend.
    bounds : (float, float) or None
        Hard limits of the y axis for metrics that live in a range (engagement in [0, 1]).
    """

    metric: str
    title: str
    unit: str
    decimals: int = 2
    prefix: str = ""
    min_span: float = 0.2
    bounds: tuple[float, float] | None = None


#: The lesson's four charts, in reading order (left to right, top to bottom).
CLASSROOM_PANELS: tuple[ClassroomPanel, ...] = (
    ClassroomPanel("relevance_skill", "Decision skill",
                   "0 = no local knowledge, 1 = true need", min_span=0.4),
    ClassroomPanel("misallocated_per_head", "£ misallocated",
                   "£ per head a year not following need", decimals=0, prefix="£",
                   min_span=20.0),
    ClassroomPanel("accuracy_board", "Board knowledge",
                   "board's view vs true need (1 = exact)", bounds=(0.0, 1.0)),
    ClassroomPanel("engagement_gp", "GP engagement", "average over the GPs (0–1)",
                   bounds=(0.0, 1.0)),
)


def current_values(runs: Sequence[Run], metric: str) -> list[float]:
    """The metric's latest value for each run (NaN before it has one)."""
    out = []
    for run in runs:
        y = metric_series(run.model, metric)
        out.append(float(y[-1]) if y.size else math.nan)
    return out


def format_value(value: float, panel: ClassroomPanel) -> str:
    """A monitor's text: ``0.62``, ``£134``; an em dash while the value is undefined."""
    if not math.isfinite(value):
        return "—"
    sign = "−" if value < 0 and round(value, panel.decimals) != 0 else ""
    return f"{sign}{panel.prefix}{abs(value):,.{panel.decimals}f}"


def _nice_step(span: float) -> float:
    """A round tick step giving about four intervals over ``span``."""
    raw = span / 4
    mag = 10.0 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def axis_limits(values: np.ndarray, panel: ClassroomPanel) -> tuple[float, float, float]:
    """The y axis ``(low, high, tick step)``: the data so far, at least ``min_span`` tall,
    rounded out to round ticks and kept inside ``bounds`` — so it changes only when a line is
    about to leave it."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        lo, hi = panel.bounds or (0.0, panel.min_span)
    else:
        lo, hi = float(finite.min()), float(finite.max())
    if hi - lo < panel.min_span:
        mid = 0.5 * (lo + hi)
        lo, hi = mid - panel.min_span / 2, mid + panel.min_span / 2
    step = _nice_step(hi - lo)
    lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
    if panel.bounds is not None:
        b_lo, b_hi = panel.bounds
        if lo < b_lo:
            lo, hi = b_lo, min(b_lo + max(hi - lo, panel.min_span), b_hi)
        if hi > b_hi:
            lo, hi = max(b_hi - max(hi - lo, panel.min_span), b_lo), b_hi
    return round(lo, 10), round(hi, 10), step


def _point(v: float, decimals: int) -> float | None:
    return round(float(v), decimals + 3) if math.isfinite(v) else None  # None: a gap


def panel_option(runs: Sequence[Run], panel: ClassroomPanel, months: int) -> dict[str, Any]:
    """The ECharts option of one classroom chart: one thick line per run over the whole run's
    months (lines grow across a fixed x axis); no legend inside the chart (the page shows the
    runs' colours above the charts)."""
    series = []
    everything = []
    for r, run in enumerate(runs[:2]):
        y = metric_series(run.model, panel.metric)
        everything.append(y)
        colour = RUN_COLOURS[r]
        series.append({
            "type": "line", "name": run.label or "this run",
            "data": [[i, _point(v, panel.decimals)] for i, v in enumerate(y)],
            "showSymbol": y.size == 1, "symbolSize": 10, "connectNulls": False,
            "lineStyle": {"width": LINE_PX, "color": colour},
            "itemStyle": {"color": colour},
            "emphasis": {"disabled": True},
        })
    lo, hi, step = axis_limits(np.concatenate(everything) if everything else np.array([]),
                               panel)
    text = {"fontSize": TEXT_PX, "color": "#222"}
    label = "{value}" if not panel.prefix else f"{panel.prefix}{{value}}"
    return {
        "animation": False,
        "textStyle": {"fontSize": TEXT_PX},
        # the runs' legend is the page's (above the charts, with the month): never on the data
        "legend": {"show": False},
        "grid": {"left": 12, "right": 24, "top": 16, "bottom": 40, "containLabel": True},
        "xAxis": {"type": "value", "min": 0, "max": max(int(months), 1), "name": "month",
                  "nameLocation": "middle", "nameGap": 30, "nameTextStyle": text,
                  "axisLabel": text, "splitLine": {"show": False}},
        "yAxis": {"type": "value", "min": lo, "max": hi, "interval": step,
                  "axisLabel": {**text,
                  "formatter": label}, "splitLine": {"lineStyle": {"color": "#ddd"}}},
        "series": series,
    }
