"""Decision skill, span and misallocated £ at each level that decides (upper body, group or
place, locality or PCN), over replicates.

    .venv/bin/python benchmarks/level_scores.py scenarios/icb_2022.yaml [--replicates 10]
        [--seed ROOT] [--set key=value ...] [--out level_scores.csv]

Each replicate (seeds spawned from the root seed as ``commnet run`` does,
:func:`simulation.results.replicate_seeds`) runs the scenario's burn-in and steps; over the
last 12 months the overall relevance of the decisions made, of the floor (no local knowledge)
and of the ceiling (true need) are averaged at each level:

- body: 1 − TV(the upper body's spending profile, its need) (``relevance_skill_body``);
- group/place: 1 − TV(the group's spending profile, its need) (``relevance_skill``);
- locality/PCN: mean over localities of 1 − TV(locality spending, locality need)
  (``relevance_skill_localities``).

Skill is the ratio of the mean gain over the mean span with its bootstrap 95% interval
(:func:`simulation.statistics.ratio_interval`; "not interpretable" when the mean span is below
``decisions.min_span``); span (£ per head and share of budget) and misallocated £ per head
(budget × TV(spending, need) at that level, for the decisions made, floor and ceiling) each
with a t-interval across replicates.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from simulation import measures as M
from simulation import reporters as R
from simulation.loader import load_scenario
from simulation.model import CommissioningModel
from simulation.results import replicate_seeds
from simulation.statistics import mean_interval, ratio_interval

LEVELS = ("body", "group", "locality")


def _level_values(m: CommissioningModel) -> dict[str, float]:
    """Overall relevance (model, floor, ceiling) and misallocated £ per head at each level."""
    per_head = m.spec.decisions.budget_per_head
    budgets = (m.budget, m.floor_budget, m.ceiling_budget)
    out: dict[str, float] = {}
    tags = ("", "_floor", "_ceiling")
    if m.pop.n_bodies:
        rel = R._body_relevances(m)
        for tag, r in zip(tags, rel, strict=True):
            out[f"body_r{tag}"] = R._with_overall(m, r)[-1]
        for i, tag in enumerate(tags):
            out[f"body_mis{tag}"] = R._misallocated_body(m, i)[-1]
    for tag, b in zip(tags, budgets, strict=True):
        out[f"group_r{tag}"] = R._overall_of(m, b.group)[-1]
        out[f"group_mis{tag}"] = R._overall(m, M.misallocated_per_head(b.group, m.group_need,
                                                                      per_head))[-1]
        out[f"locality_r{tag}"] = R._locality_relevance_of(m, b.area)[-1]
        out[f"locality_mis{tag}"] = R._misallocated(m, b.area)[-1]
    return out


def run(path: Path, overrides: list[str], replicates: int, seed: int | None) -> tuple[dict, float]:
    s = load_scenario(path, overrides)
    root = s.seed if seed is None else seed
    rows = []
    t0 = time.process_time()
    for rs in replicate_seeds(root, replicates):
        m = CommissioningModel(s, seed=rs, collect=False)
        acc: list[dict[str, float]] = []
        for t in range(s.steps):
            m.step()
            if t >= s.steps - 12:
                acc.append(_level_values(m))
        rows.append(pd.DataFrame(acc).mean())
    cpu = time.process_time() - t0
    df = pd.DataFrame(rows)
    per_head = s.decisions.budget_per_head
    result = {"scenario": s.name, "replicates": replicates, "cpu_s": cpu}
    for lv in LEVELS:
        if f"{lv}_r" not in df:
            result[f"{lv}_skill_note"] = "no such level"
            continue
        r, lo, hi = (df[f"{lv}_r{t}"].to_numpy(float) for t in ("", "_floor", "_ceiling"))
        iv = ratio_interval(r - lo, hi - lo, min_den=s.decisions.min_span, seed=int(root))
        result.update({f"{lv}_skill": iv.mean, f"{lv}_skill_low": iv.low,
                       f"{lv}_skill_high": iv.high, f"{lv}_skill_note": iv.note})
        span = mean_interval(per_head * (hi - lo))
        result.update({f"{lv}_span": span.mean, f"{lv}_span_low": span.low,
                       f"{lv}_span_high": span.high,
                       f"{lv}_span_share": span.mean / per_head,
                       f"{lv}_span_interpretable": bool(np.mean(hi - lo) >= s.decisions.min_span)})
        for t in ("", "_floor", "_ceiling"):
            mis = mean_interval(df[f"{lv}_mis{t}"].to_numpy(float))
            result.update({f"{lv}_pounds{t}": mis.mean, f"{lv}_pounds{t}_low": mis.low,
                           f"{lv}_pounds{t}_high": mis.high})
    return result, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", type=Path)
    ap.add_argument("--replicates", type=int, default=10)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    res, cpu = run(args.scenario, args.overrides, args.replicates, args.seed)
    print(f"{res['scenario']}: {args.replicates} replicates, {cpu:.1f} s CPU")
    for lv in LEVELS:
        if f"{lv}_skill" not in res:
            print(f"  {lv:9s} {res[f'{lv}_skill_note']}")
            continue
        print(f"  {lv:9s} skill {res[f'{lv}_skill']:+.3f} [{res[f'{lv}_skill_low']:+.3f}, "
              f"{res[f'{lv}_skill_high']:+.3f}] {res[f'{lv}_skill_note']}"
              f"\n            span £{res[f'{lv}_span']:.1f} [{res[f'{lv}_span_low']:.1f}, "
              f"{res[f'{lv}_span_high']:.1f}] per head ({res[f'{lv}_span_share']:.2%} of budget; "
              f"{'interpretable' if res[f'{lv}_span_interpretable'] else 'below min_span'})"
              f"\n            misallocated £{res[f'{lv}_pounds']:.1f} "
              f"[{res[f'{lv}_pounds_low']:.1f}, {res[f'{lv}_pounds_high']:.1f}] per head "
              f"(floor £{res[f'{lv}_pounds_floor']:.1f}, ceiling "
              f"£{res[f'{lv}_pounds_ceiling']:.1f})")
    if args.out:
        pd.DataFrame([res]).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
