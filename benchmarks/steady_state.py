"""Steady state of the slow variables after the burn-in: yearly slopes over years 0-5 and 0-20.

    .venv/bin/python benchmarks/steady_state.py [--years 20] [--seeds 1 2 3 4 5] [--set path=value ...]

For each seed, runs the scenario (default East of England 2013) for ``--years`` after its
burn-in and prints, for GP engagement, engagement of every type, density, tie persistence,
decision skill and board accuracy, the least-squares slope per year over months 0-60 (the
window results are read from) and over the whole horizon, with the median over seeds and the
largest absolute slope.  The burn-in is long enough when every |slope| < 0.005 a year (model
v3, issue 18).  ODD §9 quotes its output for the default scenario.
"""

import argparse
from pathlib import Path

import numpy as np

from simulation.loader import load_scenario
from simulation.model import CommissioningModel
from simulation.results import tidy
from simulation.scenario import STAKEHOLDER_TYPES

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("engagement_gp", "engagement_all", "density", "tie_persistence", "relevance_skill",
           "accuracy_board")


def _by_type(model: CommissioningModel) -> list[float]:
    e, kind, present = model.engagement, model.pop.kind, model.present
    return [float(e[(kind == t) & present].mean()) if ((kind == t) & present).any() else np.nan
            for t in range(len(STAKEHOLDER_TYPES))]


def slopes(scenario_path: str, years: int, seed: int, overrides: list[str]) -> dict[str, tuple]:
    """(slope over years 0-5, slope over years 0-years, value at 0, 5, end) per variable."""
    months = 12 * years
    s = load_scenario(scenario_path, [f"steps={months}", *overrides])
    m = CommissioningModel(s, seed=seed, metrics=METRICS)
    types = [_by_type(m)]
    for _ in range(months):
        m.step()
        types.append(_by_type(m))
    ts = tidy(m)
    o = ts[ts.group == "overall"].set_index("step")
    series = {c: o[c].to_numpy(float) for c in METRICS}
    types_arr = np.array(types)
    for t, name in enumerate(STAKEHOLDER_TYPES):
        series[f"engagement[{name}]"] = types_arr[:, t]
    t = np.arange(months + 1) / 12.0
    out = {}
    for name, y in series.items():
        row = []
        for stop in (min(60, months), months):
            ok = np.isfinite(y[: stop + 1])
            row.append(np.polyfit(t[: stop + 1][ok], y[: stop + 1][ok], 1)[0] if ok.sum() > 2
                       else np.nan)
        out[name] = (*row, y[0], y[min(60, months)], y[-1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "east_of_england_2013.yaml"))
    ap.add_argument("--years", type=int, default=20)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    runs = [slopes(args.scenario, args.years, s, args.overrides) for s in args.seeds]
    burn = load_scenario(args.scenario, args.overrides).burn_in
    print(f"{Path(args.scenario).stem}: {args.years} years after a {burn}-month burn-in, "
          f"seeds {args.seeds}; slopes per year (median over seeds [largest |slope|])")
    print(f"{'variable':26s} {'years 0-5':>20s} {f'years 0-{args.years}':>20s} "
          f"{'year 0':>7s} {'year 5':>7s} {'end':>7s}")
    worst = 0.0
    for name in runs[0]:
        vals = np.array([r[name] for r in runs], float)
        cells = []
        for j in (0, 1):
            col = vals[:, j]
            big = col[np.nanargmax(np.abs(col))] if np.isfinite(col).any() else np.nan
            cells.append(f"{np.nanmedian(col):+9.4f} [{big:+8.4f}]")
            worst = max(worst, abs(np.nanmedian(col)))
        med = np.nanmedian(vals[:, 2:], axis=0)
        print(f"{name:26s} {cells[0]:>20s} {cells[1]:>20s} {med[0]:7.3f} {med[1]:7.3f} {med[2]:7.3f}")
    print(f"largest median |slope|: {worst:.4f} per year "
          f"({'< 0.005: settled' if worst < 0.005 else '>= 0.005: NOT settled'})")


if __name__ == "__main__":
    main()
