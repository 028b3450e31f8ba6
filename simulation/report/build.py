"""Reading a results folder into the context a report template renders.

One function per kind of folder (:func:`run_context`, :func:`compare_context`,
:func:`sweep_context`, :func:`calibration_context`), each returning a plain dict: the
question, assumptions, results (every number with its unit and interval), caveats, figures
(base64 PNG) and provenance.  Folders are read with pandas and pyarrow only, never through
the experiment layer; intervals and differences come from :mod:`simulation.statistics`.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..loader import ScenarioError
from ..reporters import KEY_METRICS, METRICS, label, metric_bounds, metric_info
from ..statistics import difference, mean_interval
from .assumptions import assumptions, flatten
from .caveats import INTERVALS, NOT_REPRODUCED, run_caveats

__all__ = ["KINDS", "calibration_context", "compare_context", "detect_kind", "run_context",
           "sweep_context"]

#: The folder kinds a report can be made for, with what identifies them.
KINDS = {
    "run": "manifest.json written by `commnet run` (kind 'commnet run results')",
    "compare": "an experiment folder of `commnet compare` (cases design, compare.csv)",
    "sweep": "an experiment folder of `commnet sweep` (manifest kind 'commnet experiment results')",
    "calibration": "a folder of `commnet calibrate` (predictive.csv, identification.csv)",
}

#: Metrics described in sentences ("In words").
WORDS = ("relevance_skill", "misallocated_per_head", "accuracy_board", "engagement_gp")

#: Metrics shown in a run report's main table (the rest are in "all metrics").
HEADLINE = (*KEY_METRICS, "reach", "relevance_patient", "relevance_localities", "wasted_spend",
            "reflected_formal", "reflected_other")


def _fail(folder: Path, what: str, message: str) -> ScenarioError:
    return ScenarioError([(str(folder), what, message)])


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path.parent, path.name, f"cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise _fail(path.parent, path.name, f"is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise _fail(path.parent, path.name, "is not a JSON object")
    return data


def detect_kind(folder: str | Path) -> str:
    """The kind of results folder (a key of :data:`KINDS`), from its manifest and files.

    Raises
    ------
    ScenarioError
        When the folder does not exist or is none of the known kinds.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise _fail(folder, "", "no such folder (give a results folder: "
                    + "; ".join(f"{k}: {v}" for k, v in KINDS.items()) + ")")
    manifest = folder / "manifest.json"
    if manifest.exists():
        m = _read_json(manifest)
        kind = m.get("kind", "")
        if kind == "commnet run results" or ("replicate_seeds" in m and "scenario" in m):
            return "run"
        if kind == "commnet calibration results":
            return "calibration"
        if kind == "commnet experiment results":
            if m.get("design") == "cases" and ((folder / "compare.csv").exists()
                                               or str(m.get("experiment_name", "")
                                                      ).startswith("compare_")):
                return "compare"
            return "sweep"
    if (folder / "predictive.csv").exists() and (folder / "identification.csv").exists():
        return "calibration"
    raise _fail(folder, "manifest.json" if manifest.exists() else "",
                "not a results folder a report can be made for; expected "
                + "; ".join(f"{k}: {v}" for k, v in KINDS.items()))


# --------------------------------------------------------------------------- helpers
def png(fig: Any, dpi: int = 100) -> str:
    """A matplotlib figure as a base64 PNG (for ``<img src="data:image/png;base64,…">``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def png_file(path: Path) -> str | None:
    """A PNG file as base64, or None if it does not exist."""
    return base64.b64encode(path.read_bytes()).decode("ascii") if path.is_file() else None


def fmt(value: float, metric: str | None = None, signed: bool = False) -> str:
    """A number in a metric's own units: £ with one decimal, months with one, else 3
    significant decimals; "–" when not finite."""
    if value is None or not np.isfinite(value):
        return "–"
    unit = metric_info(metric).unit if metric and metric.split("__")[0] in METRICS else ""
    sign = "+" if signed and value > 0 else ""
    if "£" in unit:
        text = f"{abs(value):,.1f}"
        return f"{'−' if value < 0 else sign}£{text}"
    if unit == "months":
        return f"{value:{'+' if signed else ''}.1f}".replace("-", "−")
    if abs(value) >= 1000:
        return f"{value:{'+' if signed else ''},.0f}".replace("-", "−")
    return f"{value:{'+' if signed else ''}.3f}".replace("-", "−")


def _interval_row(metric: str, values: Sequence[float], column: str | None = None
                  ) -> dict[str, Any]:
    iv = mean_interval(values, bounds=metric_bounds(metric))
    info = metric_info(metric)
    return {
        "metric": metric, "column": column or metric, "title": info.title,
        "label": label(column or metric), "unit": info.unit or f"score, {info.range_text}",
        "definition": info.definition, "direction": info.direction_text,
        "mean": fmt(iv.mean, metric), "low": fmt(iv.low, metric), "high": fmt(iv.high, metric),
        "n": iv.n, "note": iv.note, "defined": iv.defined,
        "words": _interval_words(info.title, iv, metric),
    }


def _interval_words(title: str, iv: Any, metric: str) -> str:
    if iv.n == 0:
        return f"{title}: no value (not defined in this run)."
    if not iv.defined:
        return f"{title}: {fmt(iv.mean, metric)} from a single replicate; no interval."
    return (f"{title} averaged {fmt(iv.mean, metric)}; with 95% confidence the average over "
            f"many more replicates would lie between {fmt(iv.low, metric)} and "
            f"{fmt(iv.high, metric)}.")


def _versions(manifest: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(k, str(v)) for k, v in (manifest.get("versions") or {}).items()]


def release(manifest: Mapping[str, Any]) -> str:
    """The commnet release that wrote a folder ("commnet 0.1.0"), from its manifest's
    package versions (the provenance table's first row; cite it with CITATION.cff)."""
    version = (manifest.get("versions") or {}).get("commnet")
    return f"commnet {version}" if version else "not recorded (written before versions were)"


def human_name(scenario: Mapping[str, Any] | None, fallback: str) -> str:
    """A scenario as a reader would name it: the first sentence of its ``description``
    without bracketed asides ("East of England 2013 with mean GP engagement 0.3 instead of
    the fitted 0.426"); the words before its colon when it is long and has one ("East of
    England 2013: the six CCGs …" → "East of England 2013"); cut at its last comma or
    semicolon within 110 characters when still long; its ``name`` when it has no
    description."""
    text = " ".join(str((scenario or {}).get("description") or "").split())
    first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0].strip().rstrip(".")
    first = re.sub(r"\s*\([^()]*\)", "", first).strip()
    if not first:
        return fallback
    head, colon, _ = first.partition(": ")
    if colon and len(first) > 60 and 3 <= len(head) <= 60:
        return head
    if len(first) > 110:
        cuts = [m.start() for m in re.finditer(r"[,;] ", first) if 15 < m.start() <= 110]
        first = first[: max(cuts)] if cuts else first[:107].rsplit(" ", 1)[0] + " …"
    return first


def _load_scenario_dict(path: str | None, overrides: Sequence[str] = ()
                        ) -> dict[str, Any] | None:
    """A scenario file resolved (extends, defaults, ``--set`` overrides) as a dict, or None
    if it is unreadable."""
    if not path or not Path(path).is_file():
        return None
    from ..loader import load_scenario

    try:
        return load_scenario(path, list(overrides)).model_dump(mode="json")
    except ScenarioError:
        return None


def _files(folder: Path) -> list[str]:
    return sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir()
                  if not p.name.startswith("."))


def damaged_parts(folder: str | Path) -> list[str]:
    """One note per table file of an experiment store that cannot be read back (checked as
    ``--resume`` checks them: SHA-256 and page checksums): the report leaves it out and says so.
    """
    from ..experiment.store import TABLES, ResultsStore

    folder = Path(folder)
    if not any((folder / t).is_dir() for t in TABLES):
        return []
    return [f"{path} could not be read ({why}) and was left out of this report; to recover its "
            "runs, run the sweep again with --resume (it moves damaged files to "
            f"{folder / '_damaged'}/ and runs their runs again)"
            for _, path, why in ResultsStore(folder).damaged_files()]


def _read_table(folder: Path, name: str, keys: Sequence[str]) -> pd.DataFrame:
    """An experiment store table (a folder of Parquet parts) as ``--resume`` reads it: parts
    that cannot be read back (damaged, truncated) are set aside (:func:`damaged_parts` names
    them), and duplicates left by a crash are removed (the last copy kept)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..experiment.store import ResultsStore, digest_problem

    path = folder / name
    if not path.exists():
        return pd.DataFrame()
    tables = []
    for f in ResultsStore(folder)._files(name):
        try:  # a file that fails either check is named by damaged_parts
            if digest_problem(f) is None:
                tables.append(pq.read_table(f, page_checksum_verification=True))
        except (OSError, pa.ArrowException, ValueError):
            continue
    if not tables:
        return pd.DataFrame()
    try:
        df = pa.concat_tables(tables, promote_options="permissive").to_pandas()
    except (pa.ArrowException, ValueError):
        df = pd.concat([t.to_pandas() for t in tables], ignore_index=True)
    keys = [k for k in keys if k in df.columns]
    return df.drop_duplicates(subset=keys, keep="last") if keys else df


def _common(scenario: Mapping[str, Any], manifest: Mapping[str, Any], replicates: int | None,
            overrides: Sequence[str] = ()) -> dict[str, Any]:
    a = assumptions(scenario, overrides)
    return {
        "assumptions": a,
        "caveats": run_caveats(scenario, a["counts"], replicates),
        "not_reproduced": [c.text for c in NOT_REPRODUCED],
        "intervals": INTERVALS,
        "versions": _versions(manifest),
    }


# --------------------------------------------------------------------------- run
def run_context(folder: Path) -> dict[str, Any]:
    """Context of a ``commnet run`` folder: headline metrics (final month and mean of the
    last 12 months, overall) with t-intervals, per-group decision metrics, trajectories and
    the network figure."""
    manifest = _read_json(folder / "manifest.json")
    scenario = manifest.get("scenario") or {}
    if (folder / "summary.parquet").exists():
        summary = pd.read_parquet(folder / "summary.parquet")
    elif (folder / "summary.csv").exists():
        summary = pd.read_csv(folder / "summary.csv")
    else:
        raise _fail(folder, "summary.parquet", "missing: the folder holds no run summary")
    overall = summary[summary["group"].astype(str) == "overall"]
    n = int(overall["replicate"].nunique()) if "replicate" in overall else len(overall)
    metrics = [m for m in METRICS if m in overall.columns]
    final = [_interval_row(m, overall[m].to_numpy(float)) for m in HEADLINE if m in metrics]
    last12 = {m: _interval_row(m, overall[f"{m}__last12"].to_numpy(float), f"{m}__last12")
              for m in metrics if f"{m}__last12" in overall.columns}
    every = [_interval_row(m, overall[m].to_numpy(float)) for m in metrics]
    groups = [g for g in dict.fromkeys(summary["group"].astype(str)) if g != "overall"]
    per_group = []
    for m in ("relevance_skill", "misallocated_per_head", "accuracy_board", "engagement_gp"):
        col = f"{m}__last12" if f"{m}__last12" in summary.columns else m
        if col not in summary.columns:
            continue
        cells = [_interval_row(m, summary.loc[summary["group"].astype(str) == g, col]
                               .to_numpy(float), col) for g in groups]
        per_group.append({"label": label(col), "cells": cells})
    figures = []
    if (folder / "timeseries.parquet").exists():
        from ..figures import plot_trajectories

        ts = pd.read_parquet(folder / "timeseries.parquet")
        fig = plot_trajectories(ts, title=f"{manifest.get('scenario_name', '')}: overall, "
                                f"{n} replicate{'s' if n != 1 else ''}")
        figures.append({"title": "How the key metrics move over time", "png": png(fig),
                        "caption": "Overall value each month after the burn-in: the line is "
                        "the mean over replicates, the band the 5th–95th percentile of "
                        "replicates (how different one run can be from another)."})
    net = png_file(folder / "network.png")
    if net:
        figures.append({"title": "The network at the end of replicate 0", "png": net,
                        "caption": "Agents coloured by stakeholder type (left) and locality "
                        "(right); board members ringed; darker lines are stronger ties."})
    overrides = manifest.get("overrides") or []
    cmd = ["commnet run", str(manifest.get("scenario_file", "SCENARIO.yaml")),
           f"--replicates {manifest.get('replicates_requested', manifest.get('replicates', n))}",
           f"--seed {manifest.get('root_seed')}", f"--steps {manifest.get('steps')}"]
    cmd += [f"--set {o}" for o in overrides]
    return {
        "kind": "run",
        "warnings": ([] if n >= 10 else [
            f"Only {n} replicate{'s' if n != 1 else ''}: "
            + ("no interval can be given." if n < 2 else "the intervals are wide.")
            + " Rerun with --replicates 10 or more (30 for a result to quote)."]),
        "title": f"{manifest.get('scenario_name', scenario.get('name', 'run'))}: "
                 f"{n} replicate{'s' if n != 1 else ''} of {manifest.get('steps')} months",
        "question": (scenario.get("description") or "").strip(),
        "scenario_name": manifest.get("scenario_name"),
        "replicates": n,
        "final": final,
        "last12": [last12[r["metric"]] for r in final if r["metric"] in last12],
        "every": every,
        "groups": groups,
        "per_group": per_group,
        "figures": figures,
        "provenance": {
            "release": release(manifest),
            "scenario file": manifest.get("scenario_file", "–"),
            "scenario hash": manifest.get("scenario_hash", "–"),
            "overrides (--set)": ", ".join(overrides) or "none",
            "root seed": manifest.get("root_seed"),
            "replicate seeds": ", ".join(map(str, manifest.get("replicate_seeds", []))),
            "months simulated": f"{manifest.get('steps')} after a {scenario.get('burn_in', '?')}"
                                "-month burn-in",
            "git commit": manifest.get("git_commit") or "not a git checkout",
            "created": manifest.get("created", "–"),
            "platform": manifest.get("platform", "–"),
            "seconds per replicate": ", ".join(f"{s:.1f}" for s in
                                               manifest.get("seconds_per_replicate", [])),
        },
        "reproduce": " ".join(cmd),
        "scenario_json": json.dumps(scenario, indent=1),
        "files": _files(folder),
        **_common(scenario, manifest, n, overrides),
    }


# --------------------------------------------------------------------------- compare
def _verdict(metric: str, d: Any) -> str:
    info = metric_info(metric)
    if not np.isfinite(d.diff):
        return "no value"
    if not (np.isfinite(d.low) and np.isfinite(d.high)):
        return "no interval (too few replicates)"
    if d.low <= 0 <= d.high:
        return "no clear difference"
    up = d.diff > 0
    if info.direction == "none":
        return "higher" if up else "lower"
    better = up == (info.direction == "higher")
    return f"{'higher' if up else 'lower'}: {'better' if better else 'worse'}"


def _experiment_frame(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    runs = _read_table(folder, "runs", ["run_id"])
    outcomes = _read_table(folder, "outcomes", ["run_id", "group"])
    if outcomes.empty or runs.empty:
        damaged = damaged_parts(folder)
        raise _fail(folder, "outcomes/", "no stored runs yet (run or resume the experiment)"
                    if not damaged else "no readable stored runs: " + "; ".join(damaged))
    ok = runs[runs["status"] == "ok"] if "status" in runs else runs
    overall = outcomes[outcomes["group"].astype(str) == "overall"]
    keep = [c for c in ("run_id", "seed", "status") if c in ok.columns]
    overall = overall.merge(ok[keep], on="run_id", how="inner")
    return runs, overall


#: The per-month benchmarks of misallocated £ per head, when the results have them: the same
#: decision rule fed no local knowledge (floor) and fed true need (ceiling).
BENCHMARKS = (("misallocated_floor_per_head", "fed no local knowledge"),
              ("misallocated_ceiling_per_head", "fed true need (perfect knowledge)"))


def _pounds_headline(rows: Sequence[Mapping[str, Any]], by_case: Mapping[str, pd.DataFrame],
                     cases: Sequence[str], names: Mapping[str, str], window: str
                     ) -> dict[str, Any] | None:
    """The report's headline: misallocated £ per head in each scenario, the difference in
    words (also when it does not move), and the no-knowledge and perfect-knowledge
    benchmarks when the results hold them (never invented)."""
    row = next((r for r in rows if r["metric"] == "misallocated_per_head"), None)
    if row is None:
        return None
    m = "misallocated_per_head"
    ref = cases[0]
    values = [f"{row['ref']['mean']} per head per year in “{names[ref]}”"]
    values += [f"{o['value']['mean']} in “{names[o['case']]}”" for o in row["others"]]
    lines = ["Misallocated spend (money spent away from need): " + ", ".join(values) + "."]
    for o in row["others"]:
        a, b = names[o["case"]], names[ref]
        if o["clear"]:
            more = "more" if o["diff"].startswith("+") else "less"
            size = o["diff"].lstrip("+−-")
            lines.append(f"“{a}” spends {size} per head per year {more} away from need than "
                         f"“{b}” (95% interval {o['low']} to {o['high']}; "
                         f"{o['verdict'].split(': ')[-1]}).")
        else:
            lines.append(f"£ per head is unchanged within its interval: “{a}” differs from "
                         f"“{b}” by {o['diff']} per head per year (95% interval {o['low']} to "
                         f"{o['high']}, which includes 0).")
    bench = []
    for metric, words in BENCHMARKS:
        col = f"{metric}{window}"
        if not all(col in by_case[c].columns for c in cases):
            continue
        means = {c: float(np.nanmean(by_case[c][col].to_numpy(float))) for c in cases}
        if not all(np.isfinite(v) for v in means.values()):
            continue
        others = [f"{fmt(means[c], m)} in “{names[c]}”" for c in cases[1:]
                  if fmt(means[c], m) != fmt(means[ref], m)]
        shown = [fmt(means[ref], m) + (f" in “{names[ref]}”" if others else ""), *others]
        bench.append(f"{words}, {', '.join(shown)}")
    benchmark = None
    if bench:
        benchmark = ("For scale, the same decision rule would misallocate, per head per year: "
                     + "; ".join(bench) + ".")
    return {"lines": lines, "benchmark": benchmark}


def _compare_warnings(rows: Sequence[Mapping[str, Any]], n: int, names: Mapping[str, str]
                      ) -> list[str]:
    """Underpowered comparison: few replicates, headline intervals wider than differences."""
    out = []
    if n < 10:
        out.append(f"Only {n} replicate{'s' if n != 1 else ''} per scenario: the intervals are "
                   "wide, so small differences cannot be told from run-to-run noise. Rerun with "
                   "--replicates 10 or more (30 for a result to quote).")
    for r in rows:
        if r["metric"] not in WORDS:
            continue
        for o in r["others"]:
            if not o["clear"] and o["low"] != "–":
                out.append(f"{metric_info(r['metric']).title} in “{names[o['case']]}”: the "
                           f"95% interval ({o['low']} to {o['high']}) is wider than the "
                           f"difference ({o['diff']}); more replicates would narrow it.")
    return out


def compare_context(folder: Path) -> dict[str, Any]:
    """Context of a ``commnet compare`` folder: per metric, each scenario's mean (last 12
    months when stored, else final month) and the difference from the first scenario in the
    metric's units, paired by replicate when the seeds are shared."""
    manifest = _read_json(folder / "manifest.json")
    exp = manifest.get("experiment") or {}
    cases = [c["name"] for c in exp.get("cases", [])]
    runs, overall = _experiment_frame(folder)
    cases = [c for c in cases if c in set(overall["case"])] or list(dict.fromkeys(overall["case"]))
    ref = cases[0]
    files = {c["name"]: c.get("scenario") for c in exp.get("cases", [])}
    scen = {c: _load_scenario_dict(files.get(c)) for c in cases}
    window = "__last12" if any(c.endswith("__last12") for c in overall.columns) else ""
    what = "mean of the last 12 months" if window else "final month"
    try:  # the reduction `commnet compare` used, so the report tells the same story
        stored = pd.read_csv(folder / "compare.csv", usecols=["reduction"], nrows=1)
        if len(stored) and str(stored["reduction"].iloc[0]) == "final month":
            window, what = "", "final month"
        elif len(stored) and window:
            what = str(stored["reduction"].iloc[0])
    except (OSError, ValueError):
        pass
    names = {c: human_name(scen.get(c), c) for c in cases}
    for c in cases:  # a variant that inherits its base's description: tell them apart
        if list(names.values()).count(names[c]) > 1:
            names = {k: (f"{v} ({k})" if v == names[c] else v) for k, v in names.items()}
    by_case = {c: overall[overall["case"] == c].sort_values("replicate").set_index("replicate")
               for c in cases}
    n = int(min(len(v) for v in by_case.values())) if by_case else 0
    metrics = [m for m in (*HEADLINE, *METRICS) if f"{m}{window}" in overall.columns]
    metrics = list(dict.fromkeys(metrics))
    rows = []
    for m in metrics:
        col = f"{m}{window}"
        base = by_case[ref]
        info = metric_info(m)
        entry = {"metric": m, "label": label(m), "title": info.title,
                 "unit": info.unit or f"score, {info.range_text}",
                 "direction": info.direction_text, "definition": info.definition,
                 "ref": _interval_row(m, base[col].to_numpy(float), col), "others": []}
        for c in cases[1:]:
            sub = by_case[c]
            common = sub.index.intersection(base.index)
            paired = ("seed" in sub.columns and len(common) >= 2
                      and len(common) == len(sub) == len(base)
                      and bool((sub.loc[common, "seed"] == base.loc[common, "seed"]).all()))
            if paired:
                d = difference(sub.loc[common, col], base.loc[common, col], paired=True,
                               bounds=metric_bounds(m))
            else:
                d = difference(sub[col], base[col], paired=False, bounds=metric_bounds(m))
            entry["others"].append({
                "case": c, "value": _interval_row(m, sub[col].to_numpy(float), col),
                "diff": fmt(d.diff, m, signed=True), "low": fmt(d.low, m, signed=True),
                "high": fmt(d.high, m, signed=True), "method": d.method, "note": d.note,
                "g": "–" if not np.isfinite(d.g) else f"{d.g:.2f}".replace("-", "−"), "g_note": d.g_note,
                "verdict": _verdict(m, d), "clear": d.excludes_zero,
            })
        rows.append(entry)
    words = [r for r in rows if r["metric"] in WORDS]
    sentences = []
    for r in words:
        title = metric_info(r["metric"]).title
        for o in r["others"]:
            a, b = names[o["case"]], names[ref]
            if o["clear"]:
                sentences.append(f"{title} is {o['diff']} in “{a}” compared with “{b}” "
                                 f"(95% interval {o['low']} to {o['high']}; "
                                 f"{o['verdict'].split(': ')[-1]}).")
            elif r["metric"] == "misallocated_per_head":
                sentences.append(f"£ per head is unchanged within its interval: misallocated "
                                 f"spend differs by {o['diff']} per head per year in “{a}” "
                                 f"compared with “{b}” (95% interval {o['low']} to "
                                 f"{o['high']}, which includes 0).")
            else:
                sentences.append(f"{title} does not differ clearly in “{a}” from “{b}”: "
                                 f"{o['diff']} (95% interval {o['low']} to {o['high']}, which "
                                 "includes 0).")
    headline = _pounds_headline(rows, by_case, cases, names, window)
    warnings = _compare_warnings(rows, n, names)
    differences = []
    ref_flat = flatten(scen[ref]) if scen.get(ref) else {}
    for c in cases[1:]:
        if not scen.get(c) or not ref_flat:
            continue
        flat = flatten(scen[c])
        for path in sorted(set(flat) | set(ref_flat)):
            if path in ("name", "description"):
                continue
            a, b = ref_flat.get(path), flat.get(path)
            if a != b:
                from ..provenance import provenance

                try:
                    basis = provenance(path).basis
                except KeyError:
                    basis = "–"
                differences.append({"case": c, "path": path, "ref": _short(a), "value": _short(b),
                                    "basis": basis})
    figures = []
    ts = _read_table(folder, "timeseries", ["run_id", "group", "step"])
    if not ts.empty:
        from ..figures import plot_trajectories

        case_of = runs.set_index("run_id")["case"]
        ts["scenario"] = pd.Categorical(ts["run_id"].map(case_of), categories=cases)
        ts = ts.sort_values(["scenario", "run_id", "step"], kind="stable")
        fig = plot_trajectories(ts, metrics=[m for m in KEY_METRICS if m in ts.columns],
                                label_column="scenario", title=" vs ".join(cases))
        figures.append({"title": "Trajectories by scenario", "png": png(fig),
                        "caption": "Overall value each month: mean over replicates (line) and "
                        "5th–95th percentile of replicates (band), one colour per scenario."})
    ref_scen = scen.get(ref) or {}
    others = [f"“{names[c]}”" for c in cases[1:]]
    return {
        "kind": "compare",
        "title": f"{', '.join(others)} compared with “{names[ref]}”",
        "question": (f"What changes in {' and in '.join(others)}, compared with "
                     f"“{names[ref]}”? Values are {what}, overall."),
        "headline": headline,
        "warnings": warnings,
        "cases": [{"name": c, "label": names[c], "file": files.get(c) or "–",
                   "description": ((scen.get(c) or {}).get("description") or "").strip()}
                  for c in cases],
        "reference": ref, "reference_label": names[ref], "what": what, "replicates": n,
        "rows": rows, "labels": names,
        "sentences": sentences, "differences": differences, "figures": figures,
        "provenance": {
            "release": release(manifest),
            "experiment": manifest.get("experiment_name", "–"),
            "design hash": manifest.get("design_hash", "–"),
            "scenario hashes": ", ".join(f"{c}: {h}" for c, h in zip(
                cases, manifest.get("base_scenario_hashes", []), strict=False)) or "–",
            "root seed": manifest.get("root_seed"),
            "replicates per scenario": manifest.get("replicates"),
            "runs stored": f"{len(runs)} of {manifest.get('runs', '?')}",
            "git commit": manifest.get("git_commit") or "not a git checkout",
            "created": manifest.get("created", "–"),
            "platform": manifest.get("platform", "–"),
        },
        "reproduce": manifest.get("experiment", {}).get("description") or "",
        "scenario_json": json.dumps(ref_scen, indent=1),
        "files": _files(folder),
        **_common(ref_scen, manifest, n),
    }


def _plain(value: Any) -> Any:
    """Python values of numpy scalars, for JSON."""
    return value.item() if hasattr(value, "item") else str(value)


def _short(values: Any) -> str:
    if values is None:
        return "–"
    if isinstance(values, list) and len(values) == 1:
        values = values[0]
    text = values if isinstance(values, str) else json.dumps(values, default=_plain)
    return text if len(text) <= 60 else text[:57] + "…"


# --------------------------------------------------------------------------- sweep
def is_categorical(values: pd.Series) -> bool:
    """A yes/no or named parameter (bool, string or category values): drawn as categories,
    not on a numeric axis."""
    return bool(pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values))


def _categories(ax: Any, x: pd.Series, y: pd.Series) -> None:
    """Runs by category: one column of dots per level (spread sideways, deterministic),
    the mean of each level in blue, the levels named on the axis."""
    levels = list(dict.fromkeys(sorted(x.unique(), key=lambda v: (str(type(v)), v))))
    pos = {v: k for k, v in enumerate(levels)}
    xs = x.map(pos).to_numpy(float)
    rank = x.groupby(x).cumcount().to_numpy(float)
    count = x.map(x.value_counts()).to_numpy(float)
    xs = xs + 0.25 * ((rank + 0.5) / np.maximum(count, 1) - 0.5)
    ax.scatter(xs, y.to_numpy(float), s=12, alpha=0.5, color="0.4", lw=0)
    means = y.groupby(x).mean()
    ax.plot([pos[v] for v in means.index], means.to_numpy(), "o", color="C0", ms=6)
    ax.set_xticks(range(len(levels)),
                  [{True: "yes (true)", False: "no (false)"}.get(v, str(v)) for v in levels])
    ax.set_xlim(-0.6, len(levels) - 0.4)

def _outcome_columns(manifest: Mapping[str, Any], frame: pd.DataFrame) -> list[str]:
    cols = manifest.get("outcomes") or []
    return [c for c in cols if c in frame.columns]


def sweep_context(folder: Path) -> dict[str, Any]:
    """Context of a ``commnet sweep`` folder: the design, each outcome's mean and t-interval
    per design point (up to 30 points), Spearman rank correlations of parameters with
    outcomes, and outcome-by-parameter figures."""
    from scipy import stats

    manifest = _read_json(folder / "manifest.json")
    exp = manifest.get("experiment") or {}
    params = list(manifest.get("parameters") or [])
    runs, overall = _experiment_frame(folder)
    outcomes = _outcome_columns(manifest, overall)
    base = (manifest.get("base_files") or [None])[0]
    scenario = _load_scenario_dict(base, manifest.get("overrides") or []) or {}
    try:  # a damaged design is left out, as the store's reader would
        design = (pd.read_parquet(folder / "design.parquet")
                  if (folder / "design.parquet").exists() else pd.DataFrame())
    except (OSError, ValueError):  # pyarrow's ArrowInvalid is a ValueError
        design = pd.DataFrame()
    ranges = []
    for p in params:
        v = overall[p] if p in overall else pd.Series(dtype=float)
        vals = list(dict.fromkeys(v.tolist()))
        ranges.append({"name": p, "levels": (", ".join(map(_short, vals)) if len(vals) <= 6
                                             else f"{len(vals)} values, {_short(min(vals))} to "
                                                  f"{_short(max(vals))}")})
    points = []
    if "point" in overall and overall["point"].nunique() <= 30:
        for p, grp in overall.groupby("point"):
            cells = [_interval_row(c.split("__")[0], grp[c].to_numpy(float), c)
                     if c.split("__")[0] in METRICS else None for c in outcomes]
            points.append({"point": int(p), "settings": [_short(grp[q].iloc[0]) for q in params
                                                        if q in grp],
                           "cells": cells})
    corr = []
    for c in outcomes:
        row = {"outcome": label(c), "cells": []}
        for p in params:
            x = pd.to_numeric(overall[p], errors="coerce") if p in overall else None
            y = overall[c]
            ok = np.isfinite(np.asarray(x, float)) & np.isfinite(y.to_numpy(float)) \
                if x is not None else None
            if x is None or ok.sum() < 3 or np.unique(np.asarray(x)[ok]).size < 2:
                row["cells"].append("–")
                continue
            rho = stats.spearmanr(np.asarray(x, float)[ok], y.to_numpy(float)[ok]).statistic
            row["cells"].append("–" if not math.isfinite(rho) else f"{rho:+.2f}")
        corr.append(row)
    figures = []
    drawn = [p for p in params if p in overall][:4]
    shown = [c for c in outcomes if c.split("__")[0] in METRICS][:6]
    if drawn and shown:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(3.6 * len(drawn), 2.8 * len(shown)))
        axes = fig.subplots(len(shown), len(drawn), squeeze=False)
        for i, c in enumerate(shown):
            for j, p in enumerate(drawn):
                ax = axes[i, j]
                ok = overall[[p, c]].dropna()  # an undefined outcome is not drawn anywhere
                if is_categorical(overall[p]):
                    _categories(ax, ok[p], ok[c])
                else:
                    mean = ok.groupby(p)[c].mean()
                    ax.scatter(ok[p], ok[c], s=12, alpha=0.5, color="0.4", lw=0)
                    if len(mean) <= 12:
                        ax.plot(mean.index, mean.to_numpy(), "o-", color="C0", ms=4)
                ax.set_xlabel(p, fontsize=8)
                ax.set_ylabel(re.sub(r"\s*\(", "\n(", metric_info(c).title + " (" +
                                     metric_info(c).axis_label() + ")", count=1), fontsize=8)
                ax.tick_params(labelsize=7)
                ax.grid(alpha=0.3)
        fig.tight_layout()
        figures.append({"title": "Outcomes against each parameter", "png": png(fig),
                        "caption": "Grey dots: one run each (overall); blue: the mean at each "
                        "parameter value (when there are at most 12). A yes/no or named "
                        "parameter is drawn as categories, its runs spread sideways; runs "
                        "whose outcome is undefined are left out."})
    for f in sorted(folder.glob("sensitivity_*.png")):
        figures.append({"title": f"Sensitivity indices: {f.stem.removeprefix('sensitivity_')}",
                        "png": png_file(f), "caption": "From `commnet sensitivity`: bars with "
                        "95% bootstrap intervals."})
    sens = None
    warnings: list[str] = []
    if (folder / "sensitivity.csv").exists():
        from ..experiment.sensitivity import design_warnings

        raw = pd.read_csv(folder / "sensitivity.csv")
        warnings = design_warnings(raw, "sobol" if "S1" in raw.columns else "morris")
        sens = raw.round(3)
    reps = int(manifest.get("replicates") or 1)
    return {
        "kind": "sweep",
        "title": f"{manifest.get('experiment_name', 'sweep')}: {manifest.get('design')} design, "
                 f"{manifest.get('points')} points × {reps} replicates",
        "question": (exp.get("description") or "").strip(),
        "design": manifest.get("design"), "parameters": ranges, "outcomes": [label(c) for c in outcomes],
        "outcome_columns": outcomes, "points": points, "param_names": params, "corr": corr,
        "figures": figures,
        "sensitivity": None if sens is None else {
            "columns": list(sens.columns), "rows": sens.astype(str).values.tolist()},
        "design_rows": len(design),
        "replicates": reps,
        "warnings": warnings,
        "provenance": {
            "release": release(manifest),
            "experiment file": manifest.get("experiment_file") or "–",
            "experiment sha256": manifest.get("experiment_sha256") or "–",
            "design hash": manifest.get("design_hash", "–"),
            "base scenario": base or "–",
            "base scenario hashes": ", ".join(manifest.get("base_scenario_hashes", [])) or "–",
            "root seed": manifest.get("root_seed"),
            "runs stored": f"{len(runs)} of {manifest.get('runs', '?')}",
            "git commit": manifest.get("git_commit") or "not a git checkout",
            "created": manifest.get("created", "–"),
            "platform": manifest.get("platform", "–"),
        },
        "reproduce": f"commnet sweep {manifest.get('experiment_file') or 'EXPERIMENT.yaml'}"
                     + "".join(f" --set {o}" for o in manifest.get("overrides") or []),
        "scenario_json": json.dumps(scenario, indent=1),
        "files": _files(folder),
        **_common(scenario, manifest, reps, manifest.get("overrides") or []),
    }


# --------------------------------------------------------------------------- calibration
def calibration_context(folder: Path) -> dict[str, Any]:
    """Context of a ``commnet calibrate`` folder: targets against the posterior predictive,
    the posterior of each parameter and how well the targets identify it."""
    manifest = (_read_json(folder / "manifest.json")
                if (folder / "manifest.json").exists() else {})
    pred = pd.read_csv(folder / "predictive.csv")
    ident = pd.read_csv(folder / "identification.csv")
    calibrated = sorted(folder.glob("*_calibrated.yaml"))
    base = manifest.get("base_scenario")
    if base is None and calibrated:
        import yaml

        try:
            body = yaml.safe_load(calibrated[0].read_text()) or {}
            base = str((calibrated[0].parent / body.get("extends", "")).resolve())
        except (OSError, yaml.YAMLError):
            base = None
    scenario = (_load_scenario_dict(str(calibrated[0])) if calibrated else None) or \
        _load_scenario_dict(base) or {}
    targets = []
    for r in pred.itertuples():
        held_out = bool(getattr(r, "held_out", False))  # older folders have no column
        targets.append({"target": r.target + (" (held out: predicted)" if held_out else ""),
                        "metric": r.metric,
                        "label": label(r.metric) if r.metric in METRICS else r.metric,
                        "months": r.months, "observed": f"{r.observed:.3f}",
                        "sd": f"{r.sd:.3f}", "median": f"{r.predicted_median:.3f}",
                        "low": f"{r.predicted_q05:.3f}", "high": f"{r.predicted_q95:.3f}",
                        "covered": bool(r.covered)})
    params = []
    for r in ident.itertuples():
        params.append({"parameter": r.parameter, "prior": f"{r.prior_low:g} – {r.prior_high:g}",
                       "median": f"{r.median:.4g}", "low": f"{r.q05:.4g}", "high": f"{r.q95:.4g}",
                       "width": f"{r.width_ratio:.2f}",
                       "identified": ("well" if r.width_ratio < 0.5 else
                                      "partly" if r.width_ratio < 0.85 else "not")})
    covered = sum(t["covered"] for t in targets)
    figures = []
    fig = png_file(folder / "calibration.png")
    if fig:
        figures.append({"title": "Posterior and fit", "png": fig,
                        "caption": "Left: the posterior of each parameter over its prior range. "
                        "Right: each target's observed value (95%) against the model's "
                        "posterior predictive 90% interval."})
    name = manifest.get("name") or folder.name
    return {
        "kind": "calibration",
        "title": f"calibration {name}: {len(params)} parameters, {len(targets)} targets",
        "question": (f"Which values of {', '.join(p['parameter'] for p in params)} make the model "
                     f"reproduce {', '.join(t['target'] for t in targets)}? "
                     + ((manifest.get("spec") or {}).get("description") or "")).strip(),
        "targets": targets, "params": params, "covered": covered, "figures": figures,
        "calibrated": calibrated[0].name if calibrated else None,
        "provenance": {
            "release": release(manifest),
            "calibration file": manifest.get("calibration_file", "–"),
            "base scenario": base or "–",
            "seed": manifest.get("seed", "–"),
            "generations": manifest.get("generations", "–"),
            "model evaluations": manifest.get("evaluations", "–"),
            "git commit": manifest.get("git_commit") or "–",
            "created": manifest.get("created", "–"),
        },
        "reproduce": (f"commnet calibrate {manifest['calibration_file']}"
                      if manifest.get("calibration_file") else "commnet calibrate CALIBRATION.yaml"),
        "scenario_json": json.dumps(scenario, indent=1),
        "files": _files(folder),
        **_common(scenario, manifest, None),
    }
