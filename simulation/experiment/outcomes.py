"""Outcome reductions: a run's metric time series to one number per group.

* ``final`` — the value at the last step;
* ``mean_last`` — the mean over the last *n* steps (finite values only);
* ``time_to_detect`` — months from the shock (``after``) until the metric first crosses a
  threshold, or, for ``shock_detection_time``, the model's own detection delay.

Arrays have one row per collected step (step 0 is the initial state) and one column per
commissioning group, then ``overall`` — the layout of the model's DataCollector.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["final", "mean_last", "outcome_months", "reduce_outcomes", "shock_step",
           "time_to_detect"]


def final(x: np.ndarray) -> np.ndarray:
    """Value at the last step, per column."""
    return np.asarray(x, float)[-1]


def mean_last(x: np.ndarray, n: int) -> np.ndarray:
    """Mean over the last ``n`` steps of the finite values, per column (NaN if none)."""
    tail = np.asarray(x, float)[-n:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(tail, axis=0)


def time_to_detect(x: np.ndarray, after: int, threshold: float | None = None,
                   direction: str = "above", censor: bool = False) -> np.ndarray:
    """Steps from ``after`` until detection, per column.

    With ``threshold``: the first step ``t >= after`` at which the metric is at or above
    (``direction="above"``) or at or below the threshold; the result is ``t - after``.
    Without: the metric is itself a delay (``shock_detection_time``: NaN until the group's
    board detects the shock, then the months it took) and the result is its last finite
    value at or after ``after`` — for ``overall``, the mean over the groups that detected
    the (latest) shock.  Undetected: NaN, or ``last step - after + 1`` if ``censor``.
    """
    x = np.asarray(x, float)
    steps = np.arange(x.shape[0])
    window = x[steps >= after]
    out = np.full(x.shape[1], np.nan)
    if window.size:
        if threshold is None:
            hit = np.isfinite(window)
        elif direction == "above":
            hit = window >= threshold
        else:
            hit = window <= threshold
        found = hit.any(axis=0)
        if threshold is None:
            last = hit.shape[0] - 1 - hit[::-1].argmax(axis=0)
            out[found] = window[last[found], np.flatnonzero(found)]
        else:
            out[found] = hit.argmax(axis=0)[found]
    if censor:
        out[np.isnan(out)] = x.shape[0] - 1 - after + 1
    return out


def shock_step(scenario: Any) -> int | None:
    """Step of the scenario's first ``need_shock`` event (None if it has none).

    ``scenario`` is a validated :class:`~simulation.scenario.Scenario` (events given by
    ``date:`` resolved to their step) or a mapping of its data whose events give ``step``."""
    if isinstance(scenario, Mapping):
        steps = [ev["step"] for ev in scenario.get("events", []) if ev.get("type") == "need_shock"]
    else:
        steps = [ev.step for ev in scenario.events if ev.type == "need_shock"]
    return min(steps) if steps else None


def outcome_months(outcomes: Sequence[Mapping[str, Any]], steps: int,
                   shock: int | None = None) -> dict[str, set[int]]:
    """The months (0..``steps``) each outcome's metric is read at by :func:`reduce_outcomes`:
    ``final`` the last, ``mean_last`` the last *n*, ``time_to_detect`` every month from
    ``after`` on.  A model collecting each metric at these months only
    (:func:`simulation.reporters.make_datacollector`) gives the same outcomes."""
    read: dict[str, set[int]] = {}
    for o in outcomes:
        months = read.setdefault(o["metric"], set())
        if o["reduce"] == "final":
            months.add(steps)
        elif o["reduce"] == "mean_last":
            months.update(range(max(0, steps + 1 - o["last"]), steps + 1))
        else:
            after = o.get("after")
            after = shock if after is None else after
            if after is not None:
                months.update(range(max(0, after), steps + 1))
    return read


def reduce_outcomes(series: Mapping[str, np.ndarray], outcomes: Sequence[Mapping[str, Any]],
                    shock: int | None = None) -> np.ndarray:
    """All outcomes of one run: an array (groups + overall, outcomes).

    Parameters
    ----------
    series : mapping of metric name to array (steps, groups + 1)
    outcomes : sequence of mappings
        :class:`~simulation.experiment.spec.OutcomeSpec` dumps (``metric``, ``reduce``,
        ``last``, ``after``, ``threshold``, ``direction``, ``censor``).
    shock : int, optional
        Default ``after`` of ``time_to_detect`` (the scenario's first need shock).
    """
    cols = []
    for o in outcomes:
        x = series[o["metric"]]
        if o["reduce"] == "final":
            cols.append(final(x))
        elif o["reduce"] == "mean_last":
            cols.append(mean_last(x, o["last"]))
        else:
            after = o.get("after")
            after = shock if after is None else after
            if after is None:
                cols.append(np.full(x.shape[1], np.nan))
            else:
                cols.append(time_to_detect(x, after, o.get("threshold"),
                                           o.get("direction", "above"), o.get("censor", False)))
    return np.column_stack(cols)
