"""England from files beside England by rules: load + build + 60 months, CPU and peak memory.

    python benchmarks/national_register.py [--steps 60] [--json out.json]

Runs ``benchmarks/scenario_run.py`` (one subprocess per scenario, so each peak RSS is that
run's own ``VmHWM``) on ``scenarios/england_synthetic.yaml`` (the synthetic national register
of ``data/synthetic/england/``: 106 sub-ICB locations, 6,500 practices, 1,222 PCNs as
localities, IMD covariates) and on ``scenarios/england_2013.yaml`` (211 generated CCGs), and
prints one row each: agents, practices, localities, load time (reading and checking the
files), CPU of load + build (with the 24 burn-in months) + the steps, wall time and peak RSS.
Imports are excluded from the times (``scenario_run.py``).  The machine is shared: quote CPU
time, not wall time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ("scenarios/england_synthetic.yaml", "scenarios/england_2013.yaml")


def run(scenario: str, steps: int) -> dict:
    """One scenario_run.py subprocess; its JSON line."""
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "scenario_run.py"), scenario,
                           "--steps", str(steps)], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{scenario} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    """Run both scenarios and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    args = ap.parse_args(argv)
    rows = [run(s, args.steps) for s in SCENARIOS]
    print(f"| scenario | groups | practices | agents | load s | CPU s (load+build+{args.steps} "
          "steps) | wall s | peak RSS GiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {Path(r['scenario']).stem} | {r['n_groups']} | {r['n_practices']:,} | "
              f"{r['n_agents']:,} | {r['load_s']:.2f} | {r['end_to_end_cpu_s']:.1f} | "
              f"{r['end_to_end_s']:.1f} | {r['peak_rss_bytes'] / 2**30:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
