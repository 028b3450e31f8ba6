"""Fuzz of the data files a scenario reads: practice registers, NHS Digital register pairs,
surveyed networks (nodes and edges) and ego surveys.

``python benchmarks/fuzz_data_files.py [--seed S] [--cases N]`` copies the shipped synthetic
files into a temporary project, mutates one of them per case (a cell replaced by a hostile
value — empty, non-finite, 100,000 characters, thousands of digits, control sequences — a
column dropped or added, a header renamed, lines duplicated, dropped, swapped or truncated,
stray bytes), loads the scenario that names it and, if it loads, builds the model and runs a
month.  Each case is ``accepted``, ``clean`` (a :class:`~simulation.loader.ScenarioError`),
``unbounded`` (an error line over 2,000 characters or holding ``ESC``/``BEL``) or ``crash``
(any other exception).  Prints the counts and one example per distinct failure; exit 1 if
any.  Complements ``benchmarks/fuzz_campaign.py`` (scenario and experiment files, the CLI).

First run (6 Dec 2026): seeds 1–3 (3,800 cases) found a traceback (a list size of more than
4,300 digits: ``int()`` refuses it) and quotes of whole 100,000-character cells and
200,000-character header cells; after the fixes seed 4 (2,000 cases) found nothing.
"""

from __future__ import annotations

import argparse
import collections
import random
import re
import shutil
import sys
import tempfile
import traceback
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SCENARIOS = ["register_plain.yaml", "register_nhs_digital.yaml", "surveyed_network.yaml",
             "surveyed_ego.yaml"]
VALUES = ["", " ", "-1", "0", "1e309", "nan", "inf", "x", "\x00", "é", "1,5", "9" * 40, "3.5",
          "TRUE", '"', "'", "\x1b[31m", "NULL", "-0", "1e-320", "99999999999", "L" * 100_000,
          "9" * 5_000, "\x1b]0;t\x07"]
OPS = ["cell", "cell", "cell", "dropcol", "dupline", "dropline", "header", "trunc", "bytes",
       "addcol", "empty", "swap"]


def mutate(lines: list[str], rng: random.Random) -> tuple[list[str], str]:
    """One mutation of a CSV file's lines; returns the lines and the mutation's name."""
    op = rng.choice(OPS)
    if not lines:
        return lines, op
    i = rng.randrange(len(lines))
    if op == "cell":
        cells = lines[i].split(",")
        cells[rng.randrange(len(cells))] = rng.choice(VALUES)
        lines[i] = ",".join(cells)
    elif op == "dropcol":
        j = rng.randrange(max(1, len(lines[0].split(","))))
        lines = [",".join(c for k, c in enumerate(line.split(",")) if k != j) for line in lines]
    elif op == "dupline":
        lines.insert(i, lines[i])
    elif op == "dropline":
        del lines[i]
    elif op == "header":
        cells = lines[0].split(",")
        j = rng.randrange(len(cells))
        cells[j] = rng.choice(["", "X", cells[0], cells[j].upper(), " " + cells[j],
                               "L" * 200_000, "\x1b[31m"])
        lines[0] = ",".join(cells)
    elif op == "trunc":
        lines = lines[: rng.randrange(len(lines) + 1)]
    elif op == "bytes":
        lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)] + rng.choice(
            ["\xff", "\r", "\t", ";", "\u202e"])
    elif op == "addcol":
        lines = [line + "," + rng.choice(VALUES) for line in lines]
    elif op == "empty":
        lines = []
    elif op == "swap":
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    return lines, op


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--cases", type=int, default=2000)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    from simulation.loader import ScenarioError, load_scenario
    from simulation.model import CommissioningModel

    rng = random.Random(args.seed)
    targets = []
    for name in SCENARIOS:
        text = (ROOT / "scenarios" / name).read_text()
        targets.append((name, text, re.findall(r"(\.\./data/synthetic/[\w\-.]+)", text)))
    counts: collections.Counter = collections.Counter()
    failures: dict[tuple, str] = {}
    with tempfile.TemporaryDirectory(prefix="commnet_fuzz_data_") as tmp:
        work = Path(tmp)
        (work / "scenarios").mkdir()
        (work / "data").mkdir()
        (work / "pyproject.toml").write_text("")
        for _ in range(args.cases):
            name, text, files = rng.choice(targets)
            for f in files:
                shutil.copy((ROOT / "scenarios" / f).resolve(), work / "data")
            src = (ROOT / "scenarios" / rng.choice(files)).resolve()
            if src.suffix in (".graphml", ".gz"):
                data = bytearray(src.read_bytes())
                for _ in range(rng.randint(1, 4)):
                    data[rng.randrange(len(data))] = rng.randrange(256)
                (work / "data" / src.name).write_bytes(bytes(data))
                ops = "bytes"
            else:
                lines, done = src.read_text(errors="replace").splitlines(), []
                for _ in range(rng.randint(1, 3)):
                    lines, op = mutate(lines, rng)
                    done.append(op)
                (work / "data" / src.name).write_text("\n".join(lines) + "\n",
                                                      errors="surrogateescape")
                ops = "+".join(done)
            (work / "scenarios" / name).write_text(text.replace("../data/synthetic/", "../data/"))
            try:
                scenario = load_scenario(work / "scenarios" / name)
                CommissioningModel(scenario.model_copy(update={"burn_in": 2})).step()
                counts["accepted"] += 1
            except ScenarioError as exc:
                message = str(exc)
                longest = max(map(len, message.splitlines()), default=0)
                if longest > 2000 or "\x1b" in message or "\x07" in message:
                    counts["unbounded"] += 1
                    failures.setdefault(("unbounded", name, src.name), f"{ops}: {message[:200]}")
                else:
                    counts["clean"] += 1
            except Exception as exc:  # what the campaign looks for
                counts["crash"] += 1
                where = traceback.extract_tb(exc.__traceback__)[-1]
                key = (type(exc).__name__, f"{Path(where.filename).name}:{where.lineno}", src.name)
                failures.setdefault(key, f"{ops}: {str(exc)[:200]}")
    print(f"seed {args.seed}: {dict(counts)}")
    for key, example in failures.items():
        print(" ", key, example)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
