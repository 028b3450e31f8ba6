"""Running a scenario with replicates and writing tidy results, a summary and a manifest.

:func:`run_scenario` is the library entry point (the CLI and the experiment layer call it):
it returns a :class:`RunResult` holding

* ``timeseries`` — one row per replicate, step and commissioning group (plus ``overall``):
  scenario name and hash, then one column per metric of :data:`simulation.reporters.METRICS`
  (in Parquet each metric field carries its unit, range and definition as field metadata);
* ``summary`` — one row per replicate and group: each metric's final value and its mean over
  the last 12 steps (``<metric>__last12``);
* ``manifest`` — seeds, package versions, git commit, scenario hash and timings.

Replicate seeds are spawned from the root seed with :class:`numpy.random.SeedSequence`, so a
replicate's results depend only on (root seed, replicate index), never on the executor.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import _kernels
from .calendar_time import add_months, month_labels
from .model import BurnInCache, CommissioningModel
from .reporters import METRICS, field_metadata, metric_bounds
from .scenario import Scenario, scenario_hash
from .statistics import Interval, mean_interval, ratio_interval

__all__ = [
    "RunResult",
    "build_manifest",
    "calendar_events",
    "calendar_record",
    "ego_table",
    "export_graphml",
    "iter_replicates",
    "package_versions",
    "replicate_seeds",
    "run_replicate",
    "run_scenario",
    "survey_by_year",
    "to_arrow",
    "write_figures",
    "write_history",
    "write_results",
]

PACKAGES = ("commnet", "mesa", "numpy", "scipy", "networkx", "pandas", "matplotlib", "pydantic",
            "numba")


def replicate_seeds(root: int, n: int) -> list[int]:
    """``n`` independent 63-bit seeds spawned from ``root`` (numpy SeedSequence)."""
    return [int(s.generate_state(1, np.uint64)[0] >> np.uint64(1))
            for s in np.random.SeedSequence(root).spawn(n)]


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a result depends on, and Python's."""
    from . import __version__

    out = {"python": platform.python_version()}
    for name in PACKAGES:
        if name == "commnet":  # the code that ran, not an editable install's stale metadata
            out[name] = __version__
            continue
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit() -> str | None:
    """The current git commit of the source tree, if it is a git checkout."""
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5, check=False)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def tidy(model: CommissioningModel, replicate: int = 0) -> pd.DataFrame:
    """The model's collected metrics as a tidy frame.

    Columns: scenario (name), scenario_hash (:func:`simulation.scenario.scenario_hash`, so
    runs concatenated from several folders keep their identity), replicate, step, ``date``
    (the step's calendar month ``YYYY-MM``, only when the scenario gives ``start:``), group,
    then one column per collected metric, in :data:`~simulation.reporters.METRICS` order.
    """
    data = model.datacollector.model_vars
    names = [g.name for g in model.spec.groups] + ["overall"]
    steps = len(next(iter(data.values())))
    rows = steps * len(names)
    cols: dict[str, Any] = {
        "scenario": pd.Categorical([model.spec.name] * rows),
        "scenario_hash": pd.Categorical([scenario_hash(model.spec)] * rows),
        "replicate": np.full(rows, replicate, np.int32),
        "step": np.repeat(np.arange(steps, dtype=np.int32), len(names)),
    }
    if model.spec.start is not None:  # calendar time: month 0 is the scenario's start
        cols["date"] = month_labels(model.spec.start, cols["step"])
    cols["group"] = pd.Categorical(np.tile(names, steps), categories=names)
    for metric in METRICS:
        if metric in data:  # the model may collect a subset (CommissioningModel's ``metrics``)
            cols[metric] = np.asarray(np.stack(data[metric]), float).ravel()
    return pd.DataFrame(cols)


#: Column descriptions written as Parquet field metadata beside the metrics' own.
COLUMN_DESCRIPTIONS = {
    "scenario": "scenario name (the scenario file's name field)",
    "scenario_hash": "simulation.scenario.scenario_hash of the resolved scenario (16 hex digits)",
    "replicate": "replicate index; its seed is manifest.json replicate_seeds[replicate]",
    "step": "month after the burn-in (0 = first recorded month)",
    "date": "calendar month of the step, YYYY-MM: the scenario's start plus step months "
            "(only with start:)",
    "group": "commissioning group name, or 'overall' (population-weighted over groups)",
}


def column_metadata(name: str, description: str | None = None) -> dict[bytes, bytes] | None:
    """Parquet field metadata of a column: the metric registry's entry for a metric column
    (:func:`simulation.reporters.field_metadata`), else ``definition`` = ``description``
    (None when there is neither)."""
    meta = field_metadata(name)
    if meta is None and description:
        meta = {b"definition": description.encode()}
    return meta


def to_arrow(frame: pd.DataFrame) -> pa.Table:
    """A results frame as an Arrow table whose fields carry their description: metric columns
    the registry's title, unit, range, direction and definition
    (:func:`simulation.reporters.field_metadata`), key columns a description."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    fields = []
    for f in table.schema:
        meta = column_metadata(f.name, COLUMN_DESCRIPTIONS.get(f.name))
        fields.append(f.with_metadata(meta) if meta else f)
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    pq.write_table(to_arrow(frame), path)


def ego_table(model: CommissioningModel) -> pd.DataFrame:
    """Ego-network measures of every board member at the model's current step.

    Columns: group, agent (slot), role, type, size (alters), density (ties among alters over
    possible), effective_size (Burt 1992: n − 2t/n) and constraint (Burt 1992).
    """
    from . import measures
    from .population import ROLES
    from .scenario import STAKEHOLDER_TYPES

    coo = model.board.tocoo()
    ego = measures.ego_measures(model.ties.csr(), coo.col)
    names = [g.name for g in model.spec.groups]
    return pd.DataFrame({
        "group": [names[g] for g in coo.row],
        "agent": coo.col,
        "role": [ROLES[r] for r in model.pop.role[coo.col]],
        "type": [STAKEHOLDER_TYPES[k] for k in model.pop.kind[coo.col]],
        "size": ego["size"],
        "density": ego["density"],
        "effective_size": ego["effective_size"],
        "constraint": ego["constraint"],
    })


def export_graphml(model: CommissioningModel, path: str | os.PathLike[str]) -> Path:
    """Write the current tie network as GraphML with node attributes (type, role, group,
    locality, board membership, engagement) for Gephi, Cytoscape or networkx."""
    import networkx as nx

    from .population import ROLES
    from .scenario import STAKEHOLDER_TYPES

    p = model.pop
    names = [g.name for g in model.spec.groups]
    g = model.ties.to_networkx({
        "type": np.asarray(STAKEHOLDER_TYPES)[p.kind],
        "role": np.asarray(ROLES)[p.role],
        "group": np.asarray([names[i] if i >= 0 else "" for i in p.group]),
        "locality": p.area,
        "board": model.on_board.astype(int),
        "engagement": model.engagement.round(6),
    })
    path = Path(path)
    _atomic_write(path, lambda p: nx.write_graphml(g, p))
    return path


def run_replicate(scenario: Scenario, seed: int, replicate: int = 0,
                  steps: int | None = None, metrics: Iterable[str] | None = None,
                  burn_in_cache: BurnInCache | None = None) -> pd.DataFrame:
    """Run one replicate and return its tidy time series (of every metric, or of
    ``metrics`` only: the same values, at the cost of those alone); ``burn_in_cache`` shares
    burned-in states (:class:`simulation.model.BurnInCache`)."""
    model = CommissioningModel(scenario, seed=seed, metrics=metrics, burn_in_cache=burn_in_cache)
    for _ in range(scenario.steps if steps is None else steps):
        model.step()
    return tidy(model, replicate)


def summarise(ts: pd.DataFrame, window: int = 12) -> pd.DataFrame:
    """Per replicate and group: final value and mean over the last ``window`` steps (with
    the scenario and scenario_hash columns when the time series has them)."""
    last = ts["step"].max()
    metrics = [m for m in METRICS if m in ts.columns]
    keys = [k for k in ("scenario", "scenario_hash") if k in ts.columns]
    final = ts[ts["step"] == last].set_index(["replicate", "group"])[keys + metrics]
    tail = (ts[ts["step"] > last - window].groupby(["replicate", "group"], observed=True)[metrics]
            .mean().add_suffix("__last12"))
    out = final.join(tail).reset_index()
    return out[keys + [c for c in out.columns if c not in keys]]


_SKILL_PARTS = {"relevance_patient", "relevance_floor", "relevance_ceiling"}


def pooled_skill(rows: pd.DataFrame, scenario: Scenario, conf: float = 0.95, suffix: str = ""
                 ) -> Interval:
    """Decision skill across replicates: the ratio of the mean gain (R − R_floor) over the
    mean span (R_ceiling − R_floor) of ``rows`` (one per replicate; columns
    ``relevance_patient``, ``relevance_floor``, ``relevance_ceiling`` + ``suffix``), with a
    bootstrap interval (:func:`simulation.statistics.ratio_interval`); not interpretable when
    the mean span is below ``decisions.min_span``."""
    r, lo, hi = (rows[f"{c}{suffix}"].to_numpy(float)
                 for c in ("relevance_patient", "relevance_floor", "relevance_ceiling"))
    return ratio_interval(r - lo, hi - lo, conf, min_den=scenario.decisions.min_span,
                          seed=int(scenario.seed))


@dataclass
class RunResult:
    """Results of :func:`run_scenario`."""

    scenario: Scenario
    timeseries: pd.DataFrame
    summary: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)

    def overall_table(self, metrics: list[str] | None = None, conf: float = 0.95) -> pd.DataFrame:
        """Mean and t-interval across replicates of each metric's final overall value.

        Intervals come from :func:`simulation.statistics.mean_interval` (Student t with
        n − 1 degrees of freedom, clipped to the metric's range); ``note`` says in words why
        an interval is missing (one replicate) or was clipped.
        """
        overall = self.summary[self.summary["group"] == "overall"]
        rows = []
        for m in metrics or list(METRICS):
            if m == "relevance_skill" and _SKILL_PARTS <= set(overall.columns):
                iv = pooled_skill(overall, self.scenario, conf)
            else:
                iv = mean_interval(overall[m].to_numpy(float), conf, metric_bounds(m))
            rows.append({"metric": m, "mean": iv.mean, "ci_low": iv.low, "ci_high": iv.high,
                         "n": iv.n, "note": iv.note})
        return pd.DataFrame(rows)

    def _repr_html_(self) -> str:
        """Jupyter's view of a result: scenario, replicates, months, seed and hash, then each
        metric's final overall mean and 95% CI (:meth:`overall_table`), named by the metric
        registry (title, unit or range, which way is better) with its id beside it."""
        import html

        from .reporters import metric_info
        from .statistics import format_interval

        m = self.manifest
        reps = int(self.summary["replicate"].nunique()) if "replicate" in self.summary else 0
        head = (f"<b>{html.escape(self.scenario.name)}</b>: {reps} replicate(s), "
                f"{self.scenario.steps} months, root seed {m.get('root_seed', self.scenario.seed)}"
                f", scenario hash <code>{html.escape(str(m.get('scenario_hash', '')))[:12]}</code>")
        rows = []
        for r in self.overall_table().itertuples():
            info = metric_info(r.metric)
            unit = info.unit or f"score, {info.range_text}"
            mean = "–" if not np.isfinite(r.mean) else (
                f"{r.mean:,.1f}" if "£" in unit else f"{r.mean:.3f}")
            ci = format_interval(r.ci_low, r.ci_high, r.note)
            rows.append(f"<tr><td title='{html.escape(info.definition)}'>{html.escape(info.title)}"
                        f" <code style='opacity:0.6'>{html.escape(r.metric)}</code></td>"
                        f"<td>{html.escape(unit)}</td><td>{html.escape(info.direction_text)}</td>"
                        f"<td style='text-align:right'>{mean}</td>"
                        f"<td style='text-align:right'>{html.escape(ci)}</td></tr>")
        table = ("<table><thead><tr><th>metric</th><th>unit</th><th>better</th><th>mean</th>"
                 "<th>95% CI</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
        return (f"<div><p>{head}</p><p>final month, overall: mean and 95% t-interval across "
                f"replicates (hover a metric for its definition; docs/metrics.md)</p>{table}</div>")


def iter_replicates(
    scenario: Scenario, seeds: list[int], on_step: Callable[[], None] | None = None
) -> Iterator[tuple[int, CommissioningModel, float]]:
    """Run one replicate per seed; yield ``(replicate, finished model, seconds)``.

    ``on_step`` is called after every model step (progress bars).  Stopping the iteration
    early (or Ctrl-C between replicates) keeps everything yielded so far.
    """
    for r, s in enumerate(seeds):
        t0 = time.perf_counter()
        model = CommissioningModel(scenario, seed=s)
        if r == 0:  # the replicates together may pay for the compiled kernels (same bits)
            _kernels.kernels(model.kernel_work * len(seeds))
        for _ in range(scenario.steps):
            model.step()
            if on_step is not None:
                on_step()
        yield r, model, time.perf_counter() - t0


def eras(scenario: Scenario) -> list[dict[str, Any]]:
    """The eras of commissioning of a run: ``{"from_step": 0, "era": ...}`` then one per
    ``reorganise`` event (era ``ccg`` where groups decide alone)."""
    def era(structure: Any) -> str:
        return "ccg" if structure is None else structure.era

    out = [{"from_step": 0, "era": era(scenario.structure)}]
    for ev in sorted((e for e in scenario.events if e.type == "reorganise"), key=lambda e: e.step):
        out.append({"from_step": ev.step, "era": era(ev.structure)})
    return out


def build_manifest(
    scenario: Scenario, seeds: list[int], timings: list[float], **extra: Any
) -> dict[str, Any]:
    """The record of a run: resolved scenario and its hash, root and replicate seeds, package
    versions, git commit, platform and timings (plus ``extra`` fields)."""
    return {
        "kind": "commnet run results",
        "scenario_name": scenario.name,
        "scenario_hash": scenario_hash(scenario),
        **extra,
        **({"calendar": calendar_record(scenario)} if scenario.start is not None else {}),
        "root_seed": scenario.seed,
        "replicate_seeds": list(seeds),
        "replicates": len(seeds),
        "steps": scenario.steps,
        "eras": eras(scenario),
        "versions": package_versions(),
        "git_commit": git_commit(),
        "platform": platform.platform(),
        # COMMNET_KERNELS and whether the compiled kernels ran (either path: the same bits)
        "kernels": {"mode": _kernels.mode(), "compiled_loaded": _kernels.loaded()},
        "seconds_per_replicate": list(timings),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "scenario": scenario.model_dump(mode="json"),
    }


def run_scenario(
    scenario: Scenario,
    *,
    replicates: int = 1,
    seed: int | None = None,
    steps: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunResult:
    """Run ``replicates`` independent replicates of a scenario.

    Parameters
    ----------
    scenario : Scenario
    replicates : int
    seed : int, optional
        Root seed (default ``scenario.seed``); replicate seeds are spawned from it.
    steps : int, optional
        Overrides ``scenario.steps``.
    progress : callable, optional
        Called with the replicate index after each replicate finishes.
    """
    if steps is not None:
        scenario = scenario.model_copy(update={"steps": steps})
    if seed is not None:
        scenario = scenario.model_copy(update={"seed": seed})
    seeds = replicate_seeds(scenario.seed, replicates)
    frames, timings = [], []
    for r, model, seconds in iter_replicates(scenario, seeds):
        frames.append(tidy(model, r))
        timings.append(seconds)
        if progress is not None:
            progress(r)
    ts = pd.concat(frames, ignore_index=True)
    return RunResult(scenario, ts, summarise(ts), build_manifest(scenario, seeds, timings))


# --------------------------------------------------------------------------- calendar time


#: The survey questions and respondent classes of the history view (``survey_history.png``).
HISTORY_QUESTIONS = ("engaged_some", "influence", "reflected", "informed")
HISTORY_CLASSES = ("formal", "other", "stakeholder")


def _survey_metrics(columns: Iterable[str]) -> list[str]:
    from .reporters import SURVEY_QUESTIONS

    have = set(columns)
    return [f"survey_{q}_{c}" for q in SURVEY_QUESTIONS for c in HISTORY_CLASSES
            if f"survey_{q}_{c}" in have]


def survey_by_year(ts: pd.DataFrame, start: str | None = None, *, year: str = "financial",
                   conf: float = 0.95, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Each survey metric by year: the mean over replicates of its yearly mean, with a
    Student-t interval across replicates.

    For every group (``overall`` first), metric and year, each replicate's metric is averaged
    over the run's months in that year (months where it is undefined, NaN, are skipped); the
    replicates' yearly means are then summarised by :func:`simulation.statistics.mean_interval`
    (mean, ``conf`` t-interval with n − 1 degrees of freedom clipped to the metric's range,
    ``n`` the replicates with a finite yearly mean, ``note`` why an interval is missing).

    Parameters
    ----------
    ts : DataFrame
        A run's time series (:func:`tidy`): ``replicate``, ``step``, ``group``, metric
        columns, and ``date`` (``YYYY-MM``) unless ``start`` is given.
    start : str, optional
        The calendar month of step 0 (``YYYY-MM``); default: read the ``date`` column.
    year : {"financial", "calendar"}
        ``financial`` (default): NHS financial years, April to March, labelled ``2013/14``;
        ``calendar``: January to December, labelled ``2013``.
    metrics : sequence of str, optional
        Default: every ``survey_<question>_<formal|other|stakeholder>`` column of ``ts``.

    Returns
    -------
    DataFrame
        One row per group, metric and year: ``group``, ``metric``, ``question``,
        ``respondents`` (formal, other or stakeholder), ``year`` (label), ``first_month`` and
        ``last_month`` (``YYYY-MM``, the run's months in that year), ``months`` (how many:
        fewer than 12 in a year the run only partly covers), ``mean``, ``ci_low``,
        ``ci_high``, ``n``, ``note``.
    """
    from .calendar_time import financial_year, financial_year_label

    if year not in ("financial", "calendar"):
        raise ValueError(f"year must be 'financial' or 'calendar', got {year!r}")
    if start is not None:
        dates = pd.Series(month_labels(start, ts["step"].to_numpy()), index=ts.index)
    elif "date" in ts.columns and ts["date"].notna().all():
        dates = ts["date"].astype(str)
    elif "date" in ts.columns:
        raise ValueError("the time series' date column is empty in places (a scenario without "
                         "start:); pass start='YYYY-MM'")
    else:
        raise ValueError("the time series has no date column (the scenario gives no start:); "
                         "pass start='YYYY-MM'")
    metrics = list(metrics) if metrics is not None else _survey_metrics(ts.columns)
    month_of = {d: (financial_year(d) if year == "financial" else int(d[:4]))
                for d in pd.unique(dates)}
    frame = ts[["replicate", "group", *metrics]].copy()
    frame["group"] = frame["group"].astype(str)
    frame["_year"] = dates.map(month_of).to_numpy()
    frame["_date"] = dates.to_numpy()
    span = frame.groupby("_year")["_date"].agg(["min", "max", "nunique"])
    yearly = frame.groupby(["group", "_year", "replicate"], sort=False)[metrics].mean()
    groups = list(dict.fromkeys(["overall", *frame["group"]]))
    groups = [g for g in groups if g in set(frame["group"])]
    rows = []
    for g in groups:
        per_group = yearly.loc[g]
        for m in metrics:
            question, _, respondents = m.removeprefix("survey_").rpartition("_")
            bounds = metric_bounds(m)
            for y in sorted(span.index):
                values = per_group.loc[y, m].to_numpy(float) if y in per_group.index else []
                iv = mean_interval(values, conf, bounds)
                rows.append({
                    "group": g, "metric": m, "question": question, "respondents": respondents,
                    "year": financial_year_label(y) if year == "financial" else str(y),
                    "first_month": span.loc[y, "min"], "last_month": span.loc[y, "max"],
                    "months": int(span.loc[y, "nunique"]),
                    "mean": iv.mean, "ci_low": iv.low, "ci_high": iv.high, "n": iv.n,
                    "note": iv.note})
    return pd.DataFrame(rows, columns=["group", "metric", "question", "respondents", "year",
                                       "first_month", "last_month", "months", "mean", "ci_low",
                                       "ci_high", "n", "note"])


def calendar_events(scenario: Scenario, types: Sequence[str] = ("reorganise",)
                    ) -> list[tuple[str, str]]:
    """``(YYYY-MM, label)`` of the scenario's events of the given types (default the
    reorganisations), for the history figure; empty without ``start:``.  The label is the
    event's ``name`` (or ``label``) if it has one; else, for an event with a ``structure``
    field, its type and the era it starts (``reorganise: icb``; ``ccg`` for a structure of
    null, groups deciding alone); else its type."""
    if scenario.start is None:
        return []
    out = []
    for ev in scenario.events:
        if getattr(ev, "type", None) in types and ev.step is not None:
            name = getattr(ev, "name", None) or getattr(ev, "label", None)
            if not name and "structure" in (getattr(type(ev), "model_fields", None) or {}):
                structure = ev.structure
                era = "ccg" if structure is None else getattr(structure, "era", None)
                name = f"{ev.type}: {era}" if era else ev.type
            out.append((add_months(scenario.start, ev.step), str(name or ev.type)))
    return out


def calendar_record(scenario: Scenario) -> dict[str, Any] | None:
    """The run's calendar for ``manifest.json``: start, first and last recorded month, and
    every event's step and date (None without ``start:``)."""
    if scenario.start is None:
        return None
    return {
        "start": scenario.start,
        "first_month": scenario.start,
        "last_month": add_months(scenario.start, scenario.steps),
        "date_column": "YYYY-MM: start plus step months",
        "events": [{"index": i, "type": ev.type, "step": ev.step,
                    "date": add_months(scenario.start, ev.step)}
                   for i, ev in enumerate(scenario.events)],
    }


def write_history(result: RunResult, out: str | os.PathLike[str], *, figures: bool = True
                  ) -> dict[str, Path]:
    """For a scenario with ``start:``: write ``survey_by_year.csv`` (:func:`survey_by_year`,
    NHS financial years) and, with ``figures``, ``survey_history.png``
    (:func:`simulation.figures.plot_survey_history`, with the scenario's reorganisations);
    nothing without a start.  Returns the paths written."""
    if result.scenario.start is None or not len(result.timeseries):
        return {}
    out = Path(out)
    table = survey_by_year(result.timeseries, result.scenario.start)
    paths = {"survey_by_year": out / "survey_by_year.csv"}
    _atomic_write(paths["survey_by_year"], lambda p: table.to_csv(p, index=False))
    if figures:
        from .figures import plot_survey_history, save

        n = int(result.timeseries["replicate"].nunique())
        fig = plot_survey_history(
            table, events=calendar_events(result.scenario),
            title=f"{result.scenario.name} ({n} replicate{'s' if n != 1 else ''})")
        paths["survey_history"] = save(fig, out / "survey_history.png")
    return paths


def write_figures(result: RunResult, model: CommissioningModel | None,
                  out: str | os.PathLike[str]) -> dict[str, Path]:
    """Save ``trajectories.png`` (every replicate of ``result``) and, given a finished model,
    ``network.png`` (its final ties) in ``out``; return their paths.  The figure functions
    return figures; this is where a run's figures are written."""
    from .figures import plot_network, plot_trajectories, save

    out = Path(out)
    n = int(result.timeseries["replicate"].nunique()) if len(result.timeseries) else 0
    paths = {"trajectories": save(plot_trajectories(
        result.timeseries, title=f"{result.scenario.name} ({n} replicate{'s' if n != 1 else ''})"),
        out / "trajectories.png")}
    if model is not None:
        fig = plot_network(model.pop, model.ties.src, model.ties.dst, model.ties.weight,
                           model.on_board, seed=model.seed_value)
        paths["network"] = save(fig, out / "network.png")
    return paths


def _atomic_write(path: Path, writer: Callable[[Path], None]) -> None:
    """Write via a temporary file in the same folder, then rename (never a half file)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        writer(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_results(result: RunResult, out: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``timeseries.parquet``, ``summary.parquet`` (fields described by
    :func:`to_arrow`), ``summary.csv``, ``overall.csv`` and ``manifest.json``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "timeseries": out / "timeseries.parquet",
        "summary": out / "summary.parquet",
        "summary_csv": out / "summary.csv",
        "overall": out / "overall.csv",
        "manifest": out / "manifest.json",
    }
    _atomic_write(paths["timeseries"], lambda p: _write_parquet(result.timeseries, p))
    _atomic_write(paths["summary"], lambda p: _write_parquet(result.summary, p))
    _atomic_write(paths["summary_csv"], lambda p: result.summary.to_csv(p, index=False))
    _atomic_write(paths["overall"], lambda p: result.overall_table().to_csv(p, index=False))
    _atomic_write(paths["manifest"],
                  lambda p: p.write_text(json.dumps(result.manifest, indent=2, default=str)))
    return paths
