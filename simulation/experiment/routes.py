"""Where a board's knowledge comes from: a Shapley decomposition over the knowledge routes.

``commnet routes SCENARIO`` switches the five knowledge routes of ``knowledge_routes``
(:class:`simulation.scenario.KnowledgeRoutesSpec`; each applies for the whole run, burn-in
included, and to beliefs about need only) in all 2⁵ = 32 combinations and runs every
combination with the same replicate seeds (common random numbers).  The outcome of a
coalition *S* of routes switched on, per replicate, is a metric's overall row averaged over
the last 12 months: ``v(S)``.  The Shapley value of route *i* (Shapley 1953),

.. math:: \\phi_i = \\sum_{S \\subseteq N \\setminus \\{i\\}}
          \\frac{|S|!\\,(n - |S| - 1)!}{n!} \\bigl(v(S \\cup \\{i\\}) - v(S)\\bigr),

is its marginal contribution averaged over every order in which the routes could be added;
the shares add up to ``v(N) − v(∅)`` (all routes on minus all off).  Shares are computed per
replicate and averaged, with paired 95% t-intervals across replicates.  A route's share
includes its interactions with the others, split equally among the routes that interact
(substitutes share what either alone would give; complements share what only both give).

Outputs: ``routes.csv`` (route, metric, share, ci_low, ci_high, n), ``routes_coalitions.csv``
(the value of every coalition, and ``all − none``, so the shares can be read against the
total), ``routes.png`` and ``manifest.json``.  ``--data-sensitivity`` repeats the whole
decomposition with ``observation.data_lag`` and ``observation.activity_supply_share`` each at
the two ends of its plausible range in the provenance registry (one at a time, the other at
its scenario value) and writes ``routes_sensitivity.csv``.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..results import git_commit, package_versions, replicate_seeds
from ..scenario import Scenario, scenario_hash
from ..statistics import mean_ci

__all__ = [
    "METRICS",
    "ROUTES",
    "coalition_overrides",
    "routes_command",
    "routes_table",
    "run_routes",
    "sensitivity_grid",
    "shapley",
    "shapley_loop",
]

#: The knowledge routes, in the order of the bits of a coalition mask.
ROUTES = ("observation", "activity_data", "informal_ties", "locality_meetings", "board_gps")
#: The outcomes decomposed.
METRICS = ("relevance_skill", "misallocated_per_head")
#: Parameters of the data route whose plausible range the sensitivity visits.
DATA_PARAMETERS = ("observation.data_lag", "observation.activity_supply_share")


# ------------------------------------------------------------------ the Shapley value

def _popcount(masks: np.ndarray) -> np.ndarray:
    return np.array([bin(int(m)).count("1") for m in masks], np.int64)


def shapley(values: np.ndarray) -> np.ndarray:
    """Exact Shapley values of the games ``values[..., 2**n]`` (the value of coalition
    ``S`` at index ``sum(2**i for i in S)``); returns ``[..., n]``.  NaN in a game's values
    gives NaN shares for that game."""
    values = np.asarray(values, float)
    m = values.shape[-1]
    n = m.bit_length() - 1
    if m != 1 << n or n < 1:
        raise ValueError(f"need 2**n coalition values, got {m}")
    masks = np.arange(m)
    size = _popcount(masks)
    weight = np.array([math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n)
                       if s < n else 0.0 for s in range(n + 1)])
    out = np.empty((*values.shape[:-1], n))
    for i in range(n):
        bit = 1 << i
        without = masks[(masks & bit) == 0]
        out[..., i] = ((values[..., without | bit] - values[..., without])
                       * weight[size[without]]).sum(axis=-1)
    return out


def shapley_loop(v: Callable[[frozenset[int]], float], n: int) -> list[float]:
    """Plain-loop reference of :func:`shapley`: the marginal contribution of each player
    averaged over all n! orders in which the players can join (the definition)."""
    totals = [0.0] * n
    orders = list(itertools.permutations(range(n)))
    for order in orders:
        joined: set[int] = set()
        for player in order:
            before = v(frozenset(joined))
            joined.add(player)
            totals[player] += v(frozenset(joined)) - before
    return [t / len(orders) for t in totals]


# ------------------------------------------------------------------ running

def coalition_overrides(mask: int) -> list[str]:
    """``--set`` overrides switching on the routes of ``mask`` and off the others."""
    return [f"knowledge_routes.{r}={'true' if mask >> i & 1 else 'false'}"
            for i, r in enumerate(ROUTES)]


def coalition_label(mask: int) -> str:
    """``"none"``, ``"all"`` or the routes on, joined by ``+``."""
    if mask == 0:
        return "none"
    if mask == (1 << len(ROUTES)) - 1:
        return "all"
    return "+".join(r for i, r in enumerate(ROUTES) if mask >> i & 1)


def _run_one(scenario: Scenario, seed: int) -> dict[str, float]:
    from .patterns import LAST12, run_arm

    out = run_arm(scenario, seed, frozenset((m, LAST12) for m in METRICS))
    return {m: out[(m, LAST12)] for m in METRICS}


def run_routes(
    scenario_path: Path,
    *,
    replicates: int = 10,
    seed: int = 2013,
    extra: Sequence[str] = (),
    workers: int = 1,
    progress: Callable[[], None] | None = None,
) -> dict[str, np.ndarray]:
    """Run all 32 coalitions with the same ``replicates`` seeds (spawned from ``seed``).
    Returns metric → array ``[replicates, 32]`` of last-12-month means (overall row)."""
    from ..loader import load_scenario
    from .executors import open_executor

    seeds = replicate_seeds(seed, replicates)
    m = 1 << len(ROUTES)
    scenarios = [load_scenario(scenario_path, [*extra, *coalition_overrides(k)]) for k in range(m)]
    jobs = [(r, k) for r in range(replicates) for k in range(m)]
    values = {name: np.full((replicates, m), np.nan) for name in METRICS}

    def store(r: int, k: int, res: dict[str, float]) -> None:
        for name in METRICS:
            values[name][r, k] = res[name]
        if progress:
            progress()

    if workers <= 1:
        for r, k in jobs:
            store(r, k, _run_one(scenarios[k], seeds[r]))
        return values
    with open_executor("local", workers) as handle:
        futures = [((r, k), handle.executor.submit(_run_one, scenarios[k], seeds[r]))
                   for r, k in jobs]
        for (r, k), fut in futures:
            store(r, k, fut.result())
    return values


def routes_table(values: dict[str, np.ndarray]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(routes, coalitions)``: per metric and route the mean Shapley share over replicates
    with its 95% t-interval (replicates with a NaN coalition value are left out), and per
    metric the mean value of every coalition and of ``all − none``."""
    rows, coal = [], []
    for name, v in values.items():
        phi = shapley(v)
        for i, route in enumerate(ROUTES):
            mean, _, lo, hi, n = mean_ci(phi[:, i])
            rows.append({"route": route, "metric": name, "share": mean, "ci_low": lo,
                         "ci_high": hi, "n": n})
        for k in range(v.shape[1]):
            mean, _, lo, hi, n = mean_ci(v[:, k])
            coal.append({"coalition": coalition_label(k), "size": bin(k).count("1"),
                         "metric": name, "value": mean, "ci_low": lo, "ci_high": hi, "n": n})
        mean, _, lo, hi, n = mean_ci(v[:, -1] - v[:, 0])
        coal.append({"coalition": "all − none", "size": len(ROUTES), "metric": name,
                     "value": mean, "ci_low": lo, "ci_high": hi, "n": n})
    return pd.DataFrame(rows), pd.DataFrame(coal)


def sensitivity_grid(scenario: Scenario | None = None) -> list[tuple[str, float | int]]:
    """The data-route sensitivity points: each of :data:`DATA_PARAMETERS` at the low and high
    end of its plausible range (provenance registry), one at a time."""
    from ..provenance import provenance

    points: list[tuple[str, float | int]] = []
    for path in DATA_PARAMETERS:
        entry = provenance(path)
        lo, hi = entry.plausible
        for x in (lo, hi):
            points.append((path, round(x) if entry.integer else float(x)))
    return points


def routes_command(scenario: Path, replicates: int, seed: int | None, out: Path | None,
                   workers: int | None, scale: float, steps: int | None,
                   data_sensitivity: bool, quiet: bool, console: Any, err: Any) -> int:
    """``commnet routes``: run, print the shares, write routes.csv, routes_coalitions.csv,
    routes.png, manifest.json (and routes_sensitivity.csv); return the exit status."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from ..figures import plot_routes
    from ..loader import load_scenario

    extra = [f"scale={scale}"] + ([f"steps={steps}"] if steps else [])
    base = load_scenario(scenario, extra)
    seed = base.seed if seed is None else seed
    out = out or Path("results/routes") / base.name
    out.mkdir(parents=True, exist_ok=True)
    grid = sensitivity_grid(base) if data_sensitivity else []
    n_runs = (1 + len(grid)) * replicates * (1 << len(ROUTES))
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err, disable=quiet, transient=True) as bar:
        task = bar.add_task("routes", total=n_runs)
        tick = lambda: bar.advance(task)  # noqa: E731
        values = run_routes(scenario, replicates=replicates, seed=seed, extra=extra,
                            workers=workers or 1, progress=tick)
        table, coalitions = routes_table(values)
        table.to_csv(out / "routes.csv", index=False)
        coalitions.to_csv(out / "routes_coalitions.csv", index=False)
        sens = []
        for path, x in grid:
            v = run_routes(scenario, replicates=replicates, seed=seed,
                           extra=[*extra, f"{path}={x}"], workers=workers or 1, progress=tick)
            t, c = routes_table(v)
            total = c[c.coalition == "all − none"].set_index("metric")
            t.insert(0, "value", x)
            t.insert(0, "parameter", path)
            t["total"] = t.metric.map(total.value)
            sens.append(t)
        if sens:
            default = table.copy()
            default.insert(0, "value", "scenario")
            default.insert(0, "parameter", "(scenario values)")
            tot = coalitions[coalitions.coalition == "all − none"].set_index("metric")
            default["total"] = default.metric.map(tot.value)
            pd.concat([default, *sens], ignore_index=True).to_csv(
                out / "routes_sensitivity.csv", index=False)
    plot_routes(table, coalitions, path=out / "routes.png",
                title=f"{base.name}: Shapley shares of the knowledge routes, {replicates} "
                      "replicates, 95% CI")
    manifest = {"command": "commnet routes", "scenario": str(scenario),
                "scenario_name": base.name, "scenario_hash": scenario_hash(base),
                "seed": seed, "replicates": replicates,
                "replicate_seeds": replicate_seeds(seed, replicates), "scale": scale,
                "steps": base.steps, "routes": list(ROUTES), "metrics": list(METRICS),
                "window": "mean of the last 12 months, overall row",
                "data_sensitivity": [{"parameter": p, "value": x} for p, x in grid],
                "versions": package_versions(), "git_commit": git_commit()}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    if not quiet:
        for name in METRICS:
            t = Table(title=f"{name}: Shapley share of each knowledge route ({replicates} "
                            "replicates, 95% CI)")
            for col in ("route", "share", "95% CI"):
                t.add_column(col, justify="left" if col == "route" else "right")
            for r in table[table.metric == name].itertuples():
                ci = f"{r.ci_low:.3g} – {r.ci_high:.3g}" if math.isfinite(r.ci_low) else ""
                t.add_row(r.route, f"{r.share:.3g}", ci)
            c = coalitions[coalitions.metric == name].set_index("coalition")
            for label in ("none", "all", "all − none"):
                row = c.loc[label]
                ci = (f"{row.ci_low:.3g} – {row.ci_high:.3g}" if math.isfinite(row.ci_low)
                      else "")
                t.add_row(f"[dim]{label}[/]", f"{row.value:.3g}", ci)
            console.print(t)
        console.print(f"results in [bold]{out}[/] (routes.csv, routes_coalitions.csv, "
                      f"routes.png{', routes_sensitivity.csv' if grid else ''}, manifest.json)")
    return 0
