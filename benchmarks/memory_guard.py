"""Peak memory of one run against the loader's memory guard (:func:`simulation.loader.estimate_memory`).

Each shape is run as ``commnet run SCENARIO --steps 2 --no-figures`` under ``/usr/bin/time -v``;
its maximum resident set size is compared with the estimate the loader makes before anything
is allocated.  The guard must never under-estimate (ratio estimate / peak >= 1)::

    python benchmarks/memory_guard.py            # every shape (the largest take minutes)
    python benchmarks/memory_guard.py --quick    # the shapes under 20,000 agents

:data:`MEASURED` holds the peaks this script printed on 2026-12-01 (2 shared cores, 23 GB,
Python 3.12); ``tests/test_store.py`` checks that the estimate stays above each of them, and
docs/experiments.md shows the table (with the estimate before this model: 0.32-0.92 of the
peak).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulation.loader import count_agents, estimate_memory, load_scenario  # noqa: E402

G = "groups.0"
#: name, scenario file, --set overrides
SHAPES = [
    ("teaching", "scenarios/teaching.yaml", []),
    ("east_of_england_2013", "scenarios/east_of_england_2013.yaml", []),
    ("1 group, 1,000 practices, dense ties", "scenarios/teaching.yaml",
     [f"{G}.practices.count=1000", f"{G}.population=2000000", f"{G}.localities.count=20",
      "network.gp_ties_in_locality=30", "network.gp_ties_across_localities=10",
      "network.manager_ties=30"]),
    ("1 group, 2,000 practices x 8 GPs, 10 patients", "scenarios/teaching.yaml",
     [f"{G}.practices.count=2000", f"{G}.practices.gps_per_practice=8",
      f"{G}.population=3000000", f"{G}.localities.count=50", "patients_per_practice=10"]),
    ("1 group, 2,000 practices x 40 GPs, 10 patients", "scenarios/teaching.yaml",
     [f"{G}.practices.count=2000", f"{G}.practices.gps_per_practice=40",
      f"{G}.population=3000000", f"{G}.localities.count=50", "patients_per_practice=10"]),
    ("england_2013 (211 groups)", "scenarios/england_2013.yaml", []),
]


#: Maximum resident set size (MB) measured by this script, per shape.
MEASURED = {
    "teaching": 217,
    "east_of_england_2013": 237,
    "1 group, 1,000 practices, dense ties": 589,
    "1 group, 2,000 practices x 8 GPs, 10 patients": 373,
    "1 group, 2,000 practices x 40 GPs, 10 patients": 1733,
    "england_2013 (211 groups)": 446,
}


def peak_rss(scenario: str, overrides: list[str]) -> int:
    """Maximum resident set size (bytes) of ``commnet run --steps 2``."""
    with tempfile.TemporaryDirectory() as out:
        cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "simulation.cli", "run", scenario,
               "--steps", "2", "--no-figures", "--quiet", "--out", out]
        for o in overrides:
            cmd += ["--set", o]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        kb = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        return int(kb.group(1)) * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only shapes under 20,000 agents")
    args = parser.parse_args()
    print(f"{'shape':45s} {'agents':>8s} {'peak MB':>8s} {'estimate MB':>12s} {'ratio':>6s}")
    for name, path, overrides in SHAPES:
        s = load_scenario(ROOT / path, overrides, check_memory=False)
        n = count_agents(s)
        if args.quick and n > 20_000:
            continue
        peak, est = peak_rss(path, overrides), estimate_memory(s)
        print(f"{name:45s} {n:8,d} {peak / 2**20:8.0f} {est / 2**20:12.0f} {est / peak:6.2f}",
              flush=True)


if __name__ == "__main__":
    main()
