"""The debrief: "if everyone behaved as this class did".

``commnet classroom debrief FOLDER`` reads a lesson's ``decisions.parquet`` and turns the
decisions the students made (undecided months are left out: there the model played) into
behaviour parameters of the scenario:

* per stakeholder type, the class's mean effort → ``engagement.<type>.mean`` (the spread
  kept at the scenario's, narrowed if a Beta of that mean cannot have it);
* the share of offered locality meetings the class attended → ``localities.attendance``
  (the model's chance that an active front-line agent attends);

writes them as ``debrief/class_behaviour.yaml`` (the lesson's scenario with those fields
changed), runs it against the lesson's scenario with replicates through
:func:`simulation.experiment.compare.run_compare` (paired seeds), and writes
``debrief/report.md`` with the parameters, what the class did that has no parameter (board
attendance, ties sought, votes) and the comparison.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ..scenario import STAKEHOLDER_TYPES

__all__ = ["DebriefResult", "behaviour", "debrief"]

#: Engagement means are kept inside (LOW, 1 − LOW): a Beta needs 0 < mean < 1.
LOW = 0.02
SHOWN = ("relevance_skill", "misallocated_per_head", "accuracy_board", "engagement_gp",
         "coherence_internal", "retention")


@dataclass
class DebriefResult:
    """Paths and figures of a debrief."""

    scenario: Path
    report: Path
    overrides: dict[str, float]
    summary: dict[str, Any]
    table: pd.DataFrame


def behaviour(log: pd.DataFrame) -> tuple[dict[str, float], dict[str, Any]]:
    """The class's behaviour: ``(overrides, summary)``.  ``overrides`` maps dotted scenario
    paths to values; ``summary`` has the counts and the rates without a parameter."""
    d = log[log["decided"].astype(bool)] if len(log) else log
    over: dict[str, float] = {}
    summary: dict[str, Any] = {"decisions": len(d), "students": int(d["name"].nunique())
                               if len(d) else 0, "by_type": {}}
    for kind in STAKEHOLDER_TYPES:
        eff = d.loc[d["kind"] == kind, "effort"].dropna() if len(d) else pd.Series(dtype=float)
        if len(eff):
            m = float(np.clip(eff.mean(), LOW, 1 - LOW))
            over[f"engagement.{kind}.mean"] = round(m, 4)
            summary["by_type"][kind] = {"decisions": len(eff), "effort": round(m, 4)}
    if len(d):
        offered = d[d["entitled_locality"].astype(bool) & d["locality_meets"].astype(bool)]
        went = offered["attend_locality"].dropna().astype(bool)
        if len(went):
            over["localities.attendance"] = round(float(went.mean()), 4)
            summary["locality_attendance"] = {"offered": len(went),
                                              "rate": round(float(went.mean()), 4)}
        board = d[d["entitled_board"].astype(bool) & d["decision_month"].astype(bool)]
        bw = board["attend_board"].dropna().astype(bool)
        if len(bw):
            summary["board_attendance"] = {"offered": len(bw), "rate": round(float(bw.mean()), 4)}
        summary["ties_per_decision"] = round(float(d["ties"].map(len).mean()), 3)
        summary["votes"] = int(d["vote"].map(len).gt(0).sum())
    return over, summary


def _set(tree: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    for k in keys[:-1]:
        tree = tree.setdefault(k, {}) if isinstance(tree.get(k), dict) or k not in tree else tree[k]
    tree[keys[-1]] = value


def debrief(folder: Path, *, replicates: int = 10, steps: int | None = None,
            workers: int | None = None, executor: str = "local", quiet: bool = True,
            console: Any = None) -> DebriefResult:
    """Debrief the lesson in ``folder`` (module docstring); returns the written paths."""
    from ..experiment.compare import run_compare
    from ..loader import ScenarioError, load_scenario

    folder = Path(folder)
    log_path, base = folder / "decisions.parquet", folder / "scenario.yaml"
    for p in (log_path, base):
        if not p.exists():
            raise ScenarioError([("debrief", str(p), "not a lesson folder: missing file")])
    log = pd.read_parquet(log_path)
    over, summary = behaviour(log)
    if not over:
        raise ScenarioError([("debrief", str(log_path), "no student decided anything: "
                              "nothing to debrief")])
    spec = load_scenario(base)
    tree = yaml.safe_load(base.read_text())
    for path, value in over.items():
        _set(tree, path, value)
        if path.startswith("engagement."):
            kind = path.split(".")[1]
            sd = getattr(spec.engagement, kind).sd
            limit = 0.9 * math.sqrt(value * (1 - value))
            _set(tree, f"engagement.{kind}.sd", round(min(sd, limit), 4))
    tree["name"] = f"{spec.name}_class"
    tree["description"] = f"{spec.name} with the behaviour of the class in {folder.name}"
    out = folder / "debrief"
    out.mkdir(parents=True, exist_ok=True)
    scen = out / "class_behaviour.yaml"
    header = "# Written by commnet classroom debrief: the lesson's scenario with the class's\n" \
             "# behaviour: " + ", ".join(f"{k}={v}" for k, v in over.items()) + "\n"
    scen.write_text(header + yaml.safe_dump(tree, sort_keys=False))
    load_scenario(scen)  # validated before anything runs
    options: dict[str, Any] = {"executor": executor, "workers": workers, "quiet": quiet,
                               "overwrite": True}
    if console is not None:
        options["console"] = console
    res = run_compare([base, scen], replicates=replicates, steps=steps, reduce="last12",
                      out=out / "compare", **options)
    report = out / "report.md"
    report.write_text(_report(folder, over, summary, res, replicates))
    (out / "behaviour.json").write_text(json.dumps({"overrides": over, "summary": summary},
                                                   indent=2))
    return DebriefResult(scen, report, over, summary, res.table)


def _fmt(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "–"
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


def _report(folder: Path, over: dict[str, float], summary: dict[str, Any], res: Any,
            replicates: int) -> str:
    from ..reporters import label

    lines = [f"# Debrief of {folder.name}: if everyone behaved as this class did", "",
             f"{summary['decisions']} decisions by {summary['students']} students. "
             "Months a student left undecided are not counted (the model played them).", "",
             "## The class's behaviour as parameters", "",
             "| parameter | class | scenario |", "| --- | --- | --- |"]
    from ..loader import load_scenario

    base = load_scenario(folder / "scenario.yaml")
    for path, v in over.items():
        obj: Any = base
        for k in path.split("."):
            obj = getattr(obj, k)
        lines.append(f"| `{path}` | {v:.3g} | {float(obj):.3g} |")
    lines += ["", "Without a parameter (reported only): "
              f"board meetings attended {summary.get('board_attendance', {}).get('rate', '–')} "
              f"of those offered; ties sought per decision {summary.get('ties_per_decision', '–')}; "
              f"votes cast {summary.get('votes', 0)}.", "",
              f"## Comparison ({replicates} paired replicates, mean of the last 12 months)", "",
              "| metric | scenario | class behaviour | difference [95% CI] |",
              "| --- | --- | --- | --- |"]
    t = res.table
    for m in SHOWN:
        rows = t[t["metric"] == m]
        if len(rows) < 2:
            continue
        a, b = rows.iloc[0], rows.iloc[1]
        lines.append(f"| {label(m)} | {_fmt(a['mean'])} | {_fmt(b['mean'])} | "
                     f"{_fmt(b['diff'])} [{_fmt(b['diff_ci_low'])}, {_fmt(b['diff_ci_high'])}] |")
    lines += ["", "Full table: `compare/compare.csv`"
              + ("; trajectories: `compare/trajectories.png`." if res.figure else "."), "",
              "Read it as the lesson's question: does the way this class engaged, attended "
              "and shared change what the board decides when everyone behaves that way? "
              "A difference whose interval excludes 0 is a difference the replicates' noise "
              "does not explain.", ""]
    return "\n".join(lines)
