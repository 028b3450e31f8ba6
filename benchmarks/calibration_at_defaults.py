"""The calibration targets at the schema defaults, with seeds the fit never used.

    .venv/bin/python benchmarks/calibration_at_defaults.py [CALIBRATION] [--draws 5]

Evaluates the calibration's model (its base scenario, fixed changes, replicates) with every
fitted parameter at its schema default — after a refit, the posterior medians — ``--draws``
times with salts 5000, 5001, ... (the fit uses salt 0, the predictive check 1000 + k), and
prints each target's observed value, the mean over the draws and their range.  The range of
the formal-role shares shows the simulation noise of a small group.  ODD §10 quotes it.
"""

import argparse
from pathlib import Path

import numpy as np

from simulation.experiment.calibrate import SurveyModel, load_calibration
from simulation.loader import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("calibration", nargs="?", default=str(ROOT / "calibration" / "gp_survey_2015.yaml"))
    ap.add_argument("--draws", type=int, default=5)
    args = ap.parse_args()
    spec, fixed, base = load_calibration(args.calibration)
    model = SurveyModel(spec, fixed, base)
    defaults = load_scenario(base, fixed, check_memory=False)
    params = {}
    for p in spec.parameters:
        node = defaults
        for part in p.path.split("."):
            node = getattr(node, part)
        params[p.path] = float(node)
    print("defaults:", params)
    rows = [model.simulate(params, salt=5000 + k) for k in range(args.draws)]
    for t in spec.targets:
        v = np.array([r[t.name] for r in rows])
        kind = "held out" if t.held_out else "fitted"
        print(f"{t.name} ({kind}): observed {t.observed:.2f}, at the defaults {v.mean():.3f} "
              f"({args.draws} x {spec.abc.replicates}-replicate means: {v.min():.3f}-{v.max():.3f})")


if __name__ == "__main__":
    main()
