"""Steady state of the slow variables: yearly slopes over 20 years of the default scenario.

    .venv/bin/python benchmarks/steady_state.py [--years 20] [--seed 1] [--set path=value ...]

Prints, for GP engagement, density and a few decision metrics, the least-squares slope per
year over months 0..12*years (after the scenario's burn-in) and the values at years 0, 5, 10
and the end.  The ODD (§9) quotes its output for the default scenario.
"""

import argparse
from pathlib import Path

import numpy as np

from simulation.loader import load_scenario
from simulation.model import CommissioningModel
from simulation.results import tidy

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("engagement_gp", "density", "tie_persistence", "relevance_skill", "accuracy_board")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "east_of_england_2013.yaml"))
    ap.add_argument("--years", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    months = 12 * args.years
    s = load_scenario(args.scenario, [f"steps={months}", *args.overrides])
    m = CommissioningModel(s, seed=args.seed)
    for _ in range(months):
        m.step()
    ts = tidy(m)
    o = ts[ts.group == "overall"].set_index("step")
    t = o.index.to_numpy() / 12.0
    print(f"{s.name}: {args.years} years after a {s.burn_in}-month burn-in, seed {args.seed}")
    print(f"{'metric':18s} {'slope/yr':>10s} {'year 0':>8s} {'year 5':>8s} {'year 10':>8s} {'end':>8s}")
    for col in METRICS:
        y = o[col].to_numpy(float)
        ok = np.isfinite(y)
        slope = np.polyfit(t[ok], y[ok], 1)[0]
        print(f"{col:18s} {slope:+10.5f} {y[0]:8.4f} {y[60]:8.4f} {y[120]:8.4f} {y[-1]:8.4f}")


if __name__ == "__main__":
    main()
