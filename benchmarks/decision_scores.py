"""Decision skill with its span and the £ benchmarks, for every shipped scenario.

    .venv/bin/python benchmarks/decision_scores.py [--replicates 5] [--seed 2026] [--only NAME ...]
                                                   [--scale X] [--out decision_scores.csv]

For each scenario (default: every file in ``scenarios/``), runs ``--replicates`` replicates and
reduces the overall row over the last 12 months: decision skill as the ratio of the mean gain
over the mean span with its bootstrap 95% interval (``results.pooled_skill``; "not
interpretable" when the mean span is below ``decisions.min_span``), the span in £ per head,
and misallocated £ per head of the decisions made, of the same decisions fed no local
knowledge (floor) and fed true need (ceiling), each with a t-interval.  Also runs the
no-knowledge check of issue 18: East of England with no informal ties, no localities and
``observation.rate: 0`` (its skill must be indistinguishable from 0).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from simulation.loader import load_scenario
from simulation.results import pooled_skill, run_scenario
from simulation.statistics import mean_interval

ROOT = Path(__file__).resolve().parents[1]
NO_KNOWLEDGE = ("no-knowledge check", "east_of_england_2013.yaml",
                ["network.informal=false", "localities.enabled=false", "observation.rate=0"])


def scores(path: Path, overrides: list[str], replicates: int, seed: int) -> dict:
    """One row: the scenario's skill, span and £ benchmarks (overall, last 12 months)."""
    s = load_scenario(path, [f"seed={seed}", *overrides])
    t0 = time.process_time()
    res = run_scenario(s, replicates=replicates)
    cpu = time.process_time() - t0
    o = res.summary[res.summary["group"] == "overall"]
    skill = pooled_skill(o, s, suffix="__last12")
    row = {"scenario": s.name, "replicates": replicates, "skill": skill.mean,
           "skill_low": skill.low, "skill_high": skill.high, "skill_note": skill.note}
    for col, name in (("decision_span_per_head", "span"), ("misallocated_per_head", "pounds"),
                      ("misallocated_floor_per_head", "pounds_floor"),
                      ("misallocated_ceiling_per_head", "pounds_ceiling")):
        iv = mean_interval(o[f"{col}__last12"].to_numpy(float))
        row[name], row[f"{name}_low"], row[f"{name}_high"] = iv.mean, iv.low, iv.high
    row["span_share_of_budget"] = row["span"] / s.decisions.budget_per_head
    row["cpu_s"] = cpu
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=5)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--scale", type=float, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    extra = [f"scale={args.scale}"] if args.scale else []
    jobs = [(p.stem, p, extra) for p in sorted((ROOT / "scenarios").glob("*.yaml"))
            if args.only is None or p.stem in args.only]
    if args.only is None or "no-knowledge" in args.only:
        jobs.append((NO_KNOWLEDGE[0], ROOT / "scenarios" / NO_KNOWLEDGE[1],
                     [*NO_KNOWLEDGE[2], *extra]))
    rows = []
    for label, path, overrides in jobs:
        row = scores(path, overrides, args.replicates, args.seed)
        row["label"] = label
        rows.append(row)
        print(f"{label:24s} skill {row['skill']:+.3f} [{row['skill_low']:+.3f}, "
              f"{row['skill_high']:+.3f}] {row['skill_note'][:40]:40s} span £{row['span']:6.1f} "
              f"({row['span_share_of_budget']:.1%})  £/head {row['pounds']:6.1f} "
              f"(floor {row['pounds_floor']:6.1f}, ceiling {row['pounds_ceiling']:6.1f})  "
              f"{row['cpu_s']:.1f}s", flush=True)
    if args.out:
        pd.DataFrame(rows).to_csv(args.out, index=False)
    nk = [r for r in rows if r["label"] == NO_KNOWLEDGE[0]]
    if nk:
        r = nk[0]
        zero = (np.isnan(r["skill"]) or abs(r["skill"]) < 1e-9)
        print(f"no-knowledge check: skill {r['skill']:.3g} -> "
              f"{'indistinguishable from 0' if zero else 'NOT 0'}")


if __name__ == "__main__":
    main()
