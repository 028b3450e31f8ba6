"""Running an experiment: design → seeds → runs on an executor → results store.

:func:`run_experiment` is the library entry point (``simulation.run_experiment``); the
``commnet sweep`` command calls :func:`sweep`, which also returns what the end-of-sweep
summary needs.

* Run ``r * P + p`` is replicate *r* of design point *p* (P points).  Runs are submitted in
  that order, so the replicates of every point advance together and a partial sweep is
  balanced across the design.
* Every run's seed is fixed by the root seed before anything runs
  (:func:`~simulation.experiment.designs.run_seeds`), so results are identical whatever the
  executor or the number of workers.
* A run that raises is recorded with its error and the sweep goes on.  A worker process that
  dies is replaced; the runs it had in flight are rerun one at a time, so only the run that
  kills its worker is recorded as failed.
* Results are written as each run finishes; ``resume=True`` skips the runs already stored and
  refuses if the experiment (or its base scenario) changed since the folder was started.
* One writer at a time: a sweep holds an advisory lock on ``out`` (``writer.lock``) from
  opening the store to its last write; a second sweep on the same folder is refused with the
  holder's pid and host.
* Ctrl-C stops submitting, stores the runs in flight as they finish, and returns; a second
  Ctrl-C abandons them.
"""

from __future__ import annotations

import collections
import functools
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, CancelledError, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..loader import ScenarioError, available_memory
from ..results import git_commit, package_versions
from .designs import Design, build_design, run_seeds
from .executors import RunTask, execute_run, open_executor
from .spec import MAX_RUNS, Experiment, load_experiment
from .store import (
    ResultsStore,
    WriterLock,
    arrow_type,
    join_frame,
    make_schemas,
    now_ms,
    os_error_message,
    to_arrow_value,
)

__all__ = ["SweepReport", "design_memory", "prepare", "run_experiment", "sweep"]


@dataclass
class SweepReport:
    """What a sweep did (returned by :func:`sweep`)."""

    experiment: Experiment
    out: Path | None
    total: int
    done_before: int = 0
    ran: int = 0
    ok: int = 0
    failed: int = 0
    failed_total: int = 0
    stored: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    executor: str = ""
    errors: collections.Counter = field(default_factory=collections.Counter)
    frame: pd.DataFrame | None = None
    store: ResultsStore | None = None
    repaired: list[str] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        """Runs of the design not yet stored."""
        return self.total - self.stored

    def lines(self, rerun: str | None = None) -> list[str]:
        """The end-of-sweep summary, one sentence per line."""
        exp = self.experiment
        session = (f"this session: {self.ran} runs in {_duration(self.seconds)} on "
                   f"{self.executor}" if self.ran else "nothing run in this session")
        out = [f"{exp.name}: {self.stored} of {self.total} runs stored, "
               f"{self.stored - self.failed_total} ok, {self.failed_total} failed ({session})"]
        out += [f"repaired: {note}" for note in self.repaired]
        if self.out is not None:
            out.append(f"results in {self.out}/ (runs, outcomes"
                       f"{', timeseries' if exp.spec.keep_timeseries else ''}); in Python: "
                       f"pd.read_parquet('{self.out}/outcomes')")
        if self.failed_total:
            common = "; ".join(f"{n}× {msg}" for msg, n in self.errors.most_common(3))
            out.append(f"{self.failed_total} run(s) failed; the error text of each is in the "
                       f"`error` column of the run table{': ' + common if common else ''}")
            if rerun:
                out.append(f"to run the failed runs again (after fixing the cause): "
                           f"{rerun} --resume --retry-failed")
        if self.interrupted or self.remaining:
            why = "interrupted" if self.interrupted else "stopped"
            out.append(f"{why}: {self.remaining} run(s) not yet done"
                       + (f"; continue with: {rerun} --resume" if rerun else ""))
        return out


def _duration(s: float) -> str:
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60)} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60)} min"


def _first_line(error: str | None) -> str:
    line = (error or "").strip().splitlines()[0] if error else ""
    return line if len(line) <= 200 else line[:197] + "..."


@dataclass
class _Plan:
    exp: Experiment
    design: Design
    seeds: np.ndarray
    param_types: dict[str, Any]
    param_values: dict[str, list[Any]]
    schemas: dict[str, Any]
    outcome_columns: list[str]
    outcome_dicts: tuple[dict[str, Any], ...]

    @property
    def points(self) -> int:
        return len(self.design)

    @property
    def total(self) -> int:
        return self.points * self.exp.spec.replicates

    def locate(self, run_id: int) -> tuple[int, int]:
        """(point, replicate) of a run."""
        return run_id % self.points, run_id // self.points

    def task(self, run_id: int) -> RunTask:
        p, r = self.locate(run_id)
        case = self.design.case[p]
        return RunTask(run_id, p, r, int(self.seeds[r, p]), self.exp.bases[case],
                       self.design.values(p), self.outcome_dicts, self.exp.spec.keep_timeseries,
                       base_key=(f"{case}:{self.exp.base_hashes[case]}"
                                 if case < len(self.exp.base_hashes) else ""),
                       share_burn_in=self.share_burn_in)

    @functools.cached_property
    def share_burn_in(self) -> bool:
        """Whether every design point has the same burn-in, so the runs of one seed can share
        it: common seeds, every varied parameter among what the burn-in does not read
        (``BurnInCache.AFTER_BURN_IN``: events, steps, name, description, start), and every case's
        base scenario the same apart from those."""
        from ..model import BurnInCache

        after = set(BurnInCache.AFTER_BURN_IN)
        if self.exp.spec.seeds != "common" or self.points < 2:
            return False
        if any(name.split(".", 1)[0].split("[", 1)[0] not in after for name in self.design.names):
            return False
        bases = [{k: v for k, v in b.items() if k not in after} for b in self.exp.bases]
        return all(b == bases[0] for b in bases[1:])


def design_memory(points: int, parameters: int, runs: int) -> int:
    """Estimated peak bytes of laying out a design and its sweep's bookkeeping.

    Per point: the unit sample and its sampler's work copies (SALib keeps ~3 float64 copies),
    the parameter values as Python objects (~32 B each) in the design, the stored-value lists
    and the design frame: ~``200 + 160·D`` bytes for D parameters.  Per run: its seed, its
    place in the queue and its row of the run table read back at the end: ~``400 + 16·D``
    bytes.  That is 8-14 times what :mod:`tracemalloc` measures for laying out Sobol designs
    of 2^12-2^14 base samples (``tests/test_store.py``): the rest covers the sweep's own run
    table, so the guard errs on the side of refusing.
    """
    return int(points * (200 + 160 * parameters) + runs * (400 + 16 * parameters))


def _check_design_size(exp: Experiment) -> None:
    """Refuse, before anything is allocated, a design with more runs than :data:`MAX_RUNS`
    or one whose layout would not fit in the memory available."""
    spec = exp.spec
    points = spec.runs_per_replicate()
    runs = points * spec.replicates
    where = (f"{spec.design.kind} design: {points:,} points × {spec.replicates} replicates "
             f"= {runs:,} runs")
    if runs > MAX_RUNS:
        raise ScenarioError([(exp.source, "design", f"{where}; the limit is {MAX_RUNS:,} runs. "
                              "Use fewer samples or replicates")])
    need, have = design_memory(points, len(spec.parameters), runs), available_memory()
    if have is not None and need > have:
        raise ScenarioError([(exp.source, "design", f"{where} would need about "
                              f"{need / 2**30:.1f} GiB to lay out, but only "
                              f"{have / 2**30:.1f} GiB is available. Use fewer samples or "
                              "replicates")])


def prepare(experiment: Experiment | str | os.PathLike[str]) -> _Plan:
    """Load an experiment and lay out its design, seeds and table schemas (refusing, before
    anything is allocated, a design too large to run: :func:`design_memory`)."""
    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment)
    _check_design_size(exp)
    design = build_design(exp)
    spec = exp.spec
    seeds = run_seeds(spec.seed, len(design), spec.replicates, spec.seeds)
    types = {n: arrow_type(design.columns[n]) for n in design.names}
    values = {n: [to_arrow_value(v, types[n]) for v in design.columns[n]] for n in design.names}
    columns = [o.column for o in spec.outcomes]
    schemas = make_schemas(types, columns, design.case_names is not None)
    dumps = tuple(o.model_dump(mode="json") for o in spec.outcomes)
    return _Plan(exp, design, seeds, types, values, schemas, columns, dumps)


def _manifest(plan: _Plan) -> dict[str, Any]:
    exp, spec = plan.exp, plan.exp.spec
    return {
        "kind": "commnet experiment results",
        "experiment_name": spec.name,
        "experiment_file": str(exp.path.resolve()) if exp.path is not None else None,
        "experiment_sha256": exp.file_sha256,
        "design_hash": exp.design_hash(),
        "base_files": exp.base_files,
        "base_scenario_hashes": exp.base_hashes,
        "overrides": list(getattr(exp, "overrides", []) or []),
        "design": spec.design.kind,
        "parameters": plan.design.names,
        "points": plan.points,
        "replicates": spec.replicates,
        "runs": plan.total,
        "root_seed": spec.seed,
        "seeds": spec.seeds,
        "outcomes": plan.outcome_columns,
        "run_order": "run_id = replicate * points + point; submitted in run_id order",
        "tables": {"runs": "runs/", "outcomes": "outcomes/",
                   "timeseries": "timeseries/" if spec.keep_timeseries else None,
                   "design": "design.parquet"},
        "experiment": spec.model_dump(mode="json"),
        "versions": package_versions(),
        "git_commit": git_commit(),
        "platform": platform.platform(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "sessions": [],
    }


def _changes(old: dict[str, Any], plan: _Plan) -> str:
    new = plan.exp.spec.model_dump(mode="json")
    before = old.get("experiment") or {}
    keys = sorted(k for k in set(before) | set(new)
                  if k != "description" and before.get(k) != new.get(k))
    parts = []
    if keys:
        parts.append("changed fields: " + ", ".join(keys))
    if old.get("base_scenario_hashes") != plan.exp.base_hashes:
        parts.append("the base scenario(s) changed: " + ", ".join(plan.exp.base_files))
    return "; ".join(parts) or "the resolved experiment differs"


def _open_store(plan: _Plan, out: str | os.PathLike[str] | None, resume: bool,
                overwrite: bool) -> tuple[ResultsStore, dict[str, Any], list[str]]:
    """Open (or start) the results folder; on resume repair what a crash or damage left.

    Returns the store, its manifest and notes on what was repaired.
    """
    store = ResultsStore(out, plan.schemas)
    source = plan.exp.source
    notes: list[str] = []
    if (store.exists() or store.has_data()) and overwrite:
        store.clear()
    if not (store.exists() or store.has_data()):
        manifest = _manifest(plan)
        store.write_manifest(manifest)
        store.write_design(plan.design.frame())
        store.session = 1
        return store, manifest, notes
    try:
        old = store.read_manifest() if store.exists() else None
        problem = None if old is not None else "is missing (the tables hold results)"
    except ValueError as exc:
        old, problem = None, f"is damaged: {exc}"
    if not resume:
        if old is None:
            raise ScenarioError([(str(store.manifest_path), "", f"{problem}. Run again with "
                                  "--resume to check the stored runs against this experiment "
                                  "and rebuild it, or --overwrite to start again")])
        runs = store.read("runs") if old.get("design_hash") == plan.exp.design_hash() else None
        done = f" ({len(runs)} of {old.get('runs')} runs done)" if runs is not None else ""
        raise ScenarioError([(str(out), "", f"already holds results of experiment "
                              f"{old.get('experiment_name')!r}{done}; add --resume to "
                              "continue it, or --overwrite to start again")])
    if old is not None and old.get("design_hash") != plan.exp.design_hash():
        raise ScenarioError([(source, "", f"has changed since {out} was started "
                              f"({_changes(old, plan)}); --resume would mix results of "
                              "two experiments. Use a new --out folder, or --overwrite to "
                              "discard the old results")])
    damaged = _quarantine(store)
    store.repair()
    if damaged:
        _drop_incomplete(plan, store)
        notes += damaged
    if old is None:
        old = _rebuild_manifest(plan, store, problem)
        notes.append(f"{store.manifest_path} {problem}; the stored runs match this experiment "
                     "(run ids, parameters, seeds), so it was rebuilt from the experiment file")
    if not store.has_design():
        store.write_design(plan.design.frame())
        notes.append(f"{store.folder / 'design.parquet'} was missing or damaged; recreated from "
                     "the experiment file")
    manifest = old
    store.session = len(manifest.get("sessions", [])) + 1
    return store, manifest, notes


def _quarantine(store: ResultsStore) -> list[str]:
    """Move unreadable table files to ``_damaged/``; one note per file."""
    notes = []
    for _, path, why in store.damaged_files():
        dest = store.quarantine(path)
        notes.append(f"{path} could not be read ({why}); moved to {dest}; the runs it held "
                     "are run again")
    return notes


def _drop_incomplete(plan: _Plan, store: ResultsStore) -> None:
    """After a quarantine: make the tables consistent again, so the runs a damaged file held
    are run again (and nothing else)."""
    runs = store.read("runs")
    stored = set(runs["run_id"].tolist())
    ok = set(runs.loc[runs["status"] == "ok", "run_id"].tolist())
    drop: set[int] = set()
    tables = ["outcomes"] if plan.outcome_columns else []
    if plan.exp.spec.keep_timeseries:
        tables.append("timeseries")
    for t in tables:
        have = set(store.read(t)["run_id"].tolist())
        drop |= ok - have  # finished runs whose rows were in a damaged file
        drop |= have - stored  # rows of runs whose run-table rows were in one
    store.drop_runs(drop)


def _rebuild_manifest(plan: _Plan, store: ResultsStore, problem: str | None) -> dict[str, Any]:
    """A new manifest for a folder whose own is missing or damaged, if its runs are this
    experiment's (same run ids, design points, replicates, parameters and seeds)."""
    runs = store.read("runs")
    where = str(store.manifest_path)
    for rec in runs.to_dict("records"):
        rid = int(rec["run_id"])
        why = None
        if not 0 <= rid < plan.total:
            why = f"run {rid} is outside this experiment's {plan.total} runs"
        else:
            p, r = plan.locate(rid)
            if (int(rec["point"]), int(rec["replicate"])) != (p, r):
                why = f"run {rid} is point {rec['point']}, replicate {rec['replicate']}"
            elif int(rec["seed"]) != int(plan.seeds[r, p]):
                why = f"run {rid} has seed {rec['seed']}, this experiment gives {plan.seeds[r, p]}"
            for n in plan.design.names if why is None else ():
                got, want = rec.get(n), plan.param_values[n][p]
                if got != want:
                    why = f"run {rid} has {n} = {got!r}, this experiment gives {want!r}"
                    break
        if why:
            raise ScenarioError([(where, "", f"{problem}, and the stored runs are not this "
                                  f"experiment's ({why}), so they cannot be continued with it. "
                                  "Use another --out folder, or --overwrite to discard them")])
    manifest = _manifest(plan)
    top = int(runs["session"].max()) if not runs.empty else 0
    manifest["sessions"] = [{"session": i, "rebuilt": True} for i in range(1, top + 1)]
    manifest["rebuilt"] = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "why": problem}
    store.write_manifest(manifest)
    return manifest


class _Progress:
    """A rich progress bar: runs done, failed, remaining and an ETA (no-op when quiet)."""

    def __init__(self, title: str, total: int, done: int, failed: int, quiet: bool,
                 console: Any = None):
        self.bar = None
        if quiet:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed"),
            TextColumn("{task.fields[remaining]} remaining"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=console or Console(stderr=True), transient=False,
        )
        self.task = self.bar.add_task(title, total=total, completed=done, failed=failed,
                                      remaining=total - done)
        self.bar.start()

    def update(self, done: int, failed: int, total: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done, failed=failed, remaining=total - done)

    def note(self, text: str) -> None:
        if self.bar is not None:
            self.bar.console.print(text, highlight=False)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _batch(plan: _Plan, results: list[dict[str, Any]], session: int
           ) -> tuple[dict[str, list], dict[str, list], pd.DataFrame | None]:
    """Columns of the run table, the outcome table and the time series of finished runs."""
    design, cases = plan.design, plan.design.case_names
    runs: dict[str, list] = collections.defaultdict(list)
    outs: dict[str, list] = collections.defaultdict(list)
    frames = []
    stamp = now_ms()
    for res in results:
        rid = res["run_id"]
        p, r = plan.locate(rid)
        head = {"run_id": rid, "point": p, "replicate": r}
        if cases is not None:
            head["case"] = cases[p]
        for k, v in head.items():
            runs[k].append(v)
        for n in design.names:
            runs[n].append(plan.param_values[n][p])
        runs["seed"].append(int(plan.seeds[r, p]))
        runs["status"].append(res["status"])
        runs["error"].append(res["error"])
        runs["duration"].append(float(res.get("duration", np.nan)))
        runs["model_seconds"].append(float(res.get("model_seconds", np.nan)))
        runs["worker"].append(res.get("worker"))
        runs["session"].append(session)
        runs["finished"].append(stamp)
        values = res.get("values")
        if res["status"] == "ok" and values is not None:
            groups = res["groups"]
            for g, group in enumerate(groups):
                for k, v in head.items():
                    outs[k].append(v)
                for n in design.names:
                    outs[n].append(plan.param_values[n][p])
                outs["group"].append(group)
                for j, c in enumerate(plan.outcome_columns):
                    outs[c].append(float(values[g, j]))
        ts = res.get("timeseries")
        if ts is not None:
            ts = ts.drop(columns=["replicate"]).assign(
                run_id=rid, point=p, replicate=r, group=ts["group"].astype(str))
            frames.append(ts)
    timeseries = pd.concat(frames, ignore_index=True) if frames else None
    return dict(runs), dict(outs), timeseries


def _broke(fut: Future) -> bool:
    """Whether a finished future failed because its process pool broke."""
    return not fut.cancelled() and isinstance(fut.exception(), BrokenProcessPool)


def _failure(run_id: int, text: str) -> dict[str, Any]:
    return {"run_id": run_id, "status": "failed", "error": text, "duration": np.nan,
            "model_seconds": np.nan, "worker": None, "values": None, "timeseries": None}


def sweep(
    experiment: Experiment | str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | None = None,
    executor: str | Executor = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    retry_failed: bool = False,
    max_runs: int | None = None,
    quiet: bool = False,
    console: Any = None,
    compact_every: int = 256,
    dask_processes: bool = True,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> SweepReport:
    """Run (or continue) an experiment and store its results.

    Parameters
    ----------
    experiment : Experiment or path
        An experiment file, or one loaded with :func:`load_experiment`.
    out : path-like, optional
        Results folder; None keeps the results in memory only.
    executor : {"local", "dask", "serial"} or concurrent.futures.Executor
    workers : int, optional
        Local pool / Dask LocalCluster size (default: the cores available).
    scheduler : str, optional
        Address of a running Dask scheduler (implies ``executor="dask"``).
    resume : bool
        Continue the experiment stored in ``out``: skip the runs already stored.
    overwrite : bool
        Discard results already in ``out`` and start again.
    retry_failed : bool
        With ``resume``: run the runs recorded as failed again.
    max_runs : int, optional
        Stop after this many runs in this session (the rest can be resumed).
    quiet : bool
        No progress bar.
    compact_every : int
        Merge the part files every this many batches.
    dask_processes : bool
        Dask LocalCluster: processes (default) or threads.
    on_result : callable, optional
        Called in this process with each run's result as it arrives (tests, monitoring).

    Raises
    ------
    ScenarioError
        If the experiment file is invalid, ``out`` holds other results, or another sweep is
        writing to ``out`` (one writer at a time: :class:`~.store.WriterLock`).
    """
    plan = prepare(experiment)
    lock = WriterLock(out) if out is not None else None
    try:
        if lock is not None:
            lock.acquire()
        return _sweep(plan, out, executor, workers, scheduler, resume, overwrite,
                      retry_failed, max_runs, quiet, console, compact_every, dask_processes,
                      on_result)
    except OSError as exc:  # read-only folder, full disk, ...: said plainly, exit 2
        raise ScenarioError([("--out", "", _stored_note(os_error_message(exc, out), out))]
                            ) from None
    finally:
        if lock is not None:
            lock.release()


def _stored_note(message: str, out: str | os.PathLike[str] | None) -> str:
    """``message`` and what is kept: the runs already stored in ``out``."""
    if out is None or not (Path(out) / "manifest.json").exists():
        return message
    try:
        n = len(ResultsStore(out).read("runs"))
    except (OSError, ScenarioError):
        return message
    return (f"{message}. The {n} run(s) stored before it are kept; continue with --resume "
            "once it is fixed")


def _sweep(plan: _Plan, out: str | os.PathLike[str] | None, executor: str | Executor,
           workers: int | None, scheduler: str | None, resume: bool, overwrite: bool,
           retry_failed: bool, max_runs: int | None, quiet: bool, console: Any,
           compact_every: int, dask_processes: bool,
           on_result: Callable[[dict[str, Any]], None] | None) -> SweepReport:
    """The body of :func:`sweep`, run while holding the store's writer lock."""
    exp = plan.exp
    store, manifest, repaired = _open_store(plan, out, resume, overwrite)
    runs = store.read("runs")
    if retry_failed and not runs.empty:
        failed_ids = runs.loc[runs["status"] != "ok", "run_id"].tolist()
        if failed_ids:
            store.drop_runs(failed_ids)
            runs = runs[runs["status"] == "ok"]
    done = set(runs["run_id"].tolist())
    todo = [rid for rid in range(plan.total) if rid not in done]
    if max_runs is not None:
        todo = todo[:max_runs]
    report = SweepReport(exp, Path(out) if out is not None else None, plan.total,
                         done_before=len(done), repaired=repaired)
    failed_before = int((runs["status"] != "ok").sum()) if not runs.empty else 0
    if failed_before:
        report.errors.update(_first_line(e) for e in runs.loc[runs["status"] != "ok", "error"])
    session = {"session": store.session, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
               "host": platform.node(), "planned": len(todo)}
    t0 = time.perf_counter()
    stored, failed_total = len(done), failed_before
    progress = None
    writing_failed = False
    try:
        # nothing left to run: no pool or cluster is started
        kind, address = (executor, scheduler) if todo else ("serial", None)
        with open_executor(kind, workers, address, processes=dask_processes) as handle:
            report.executor = handle.description if todo else "nothing left to run"
            session["executor"] = handle.description
            manifest.setdefault("sessions", []).append(session)
            store.write_manifest(manifest)
            progress = _Progress(exp.name, plan.total, stored, failed_total, quiet, console)
            ex = handle.executor
            queue = collections.deque(todo)
            suspects: collections.deque[int] = collections.deque()
            inflight: dict[Future, int] = {}
            exhausted = False
            broken = [False]  # the pool broke while submitting (a worker died meanwhile)

            def submit(rid: int, back: collections.deque[int]) -> bool:
                try:
                    inflight[ex.submit(execute_run, plan.task(rid))] = rid
                    return True
                except BrokenProcessPool:  # not started: it goes back where it came from
                    back.appendleft(rid)
                    broken[0] = True
                    return False

            def fill() -> None:
                nonlocal exhausted
                if suspects:  # after a worker died: rerun its runs one at a time
                    if not inflight:
                        submit(suspects.popleft(), suspects)
                    return
                limit = max(2, 2 * handle.slots() + 1)
                while not exhausted and len(inflight) < limit:
                    if not queue:
                        exhausted = True
                        return
                    if not submit(queue.popleft(), queue):
                        return

            def collect(finished: set[Future]) -> None:
                """Store finished runs.

                When a worker process dies, every run in flight fails with it: a run that
                was alone in flight caused it and is recorded as failed; the others are
                suspects, rerun one at a time (with an executor that cannot be restarted
                they are recorded as failed).
                """
                nonlocal stored, failed_total
                results, lost = [], []
                alone = len(inflight) == 1
                for fut in finished:
                    rid = inflight.pop(fut)
                    try:
                        res = fut.result()
                    except CancelledError:
                        continue
                    except BrokenProcessPool:
                        lost.append(rid)
                        continue
                    except Exception as exc:  # e.g. dask's KilledWorker
                        res = _failure(rid, f"{type(exc).__name__}: {exc}")
                    results.append(res)
                if lost and (alone or handle.restart is None):
                    results += [_failure(rid, "the worker process died during this run "
                                         "(killed, out of memory, or a crash in native code)")
                                for rid in lost]
                elif lost:
                    suspects.extend(sorted(lost))
                if not results:
                    return
                for res in results:
                    if on_result is not None:
                        on_result(res)
                    report.ran += 1
                    if res["status"] == "ok":
                        report.ok += 1
                    else:
                        report.failed += 1
                        failed_total += 1
                        report.errors[_first_line(res["error"])] += 1
                store.write(*_batch(plan, results, store.session))
                store.maybe_compact(compact_every)
                stored += len(results)
                progress.update(stored, failed_total, plan.total)

            try:
                fill()
                while inflight or broken[0]:
                    finished = set()
                    if inflight:
                        finished, _ = wait(list(inflight), timeout=1.0,
                                           return_when=FIRST_COMPLETED)
                    if not broken[0] and not any(_broke(f) for f in finished):
                        collect(finished)
                    else:
                        # the pool is broken: every run in flight fails with it
                        rest, _ = wait(list(inflight), timeout=60)
                        collect(set(rest))
                        # runs a loaded machine has not yet reported are rerun, not lost
                        suspects.extend(sorted(inflight.values()))
                        inflight.clear()
                        broken[0] = False
                        if handle.restart is None:
                            progress.note("the executor's worker processes died; stopping "
                                          "(resume to continue)")
                            break
                        ex = handle.restart()
                        progress.note("a worker process died; the pool was restarted and the "
                                      "runs it had in flight are rerun one at a time")
                    fill()
            except KeyboardInterrupt:
                report.interrupted = True
                exhausted = True
                suspects.clear()
                for fut in list(inflight):  # runs not started yet are dropped
                    if fut.cancel():
                        inflight.pop(fut)
                progress.note(f"stopping: storing the {len(inflight)} run(s) in flight "
                              "(Ctrl-C again to abandon them)")
                try:
                    while inflight:
                        finished, _ = wait(list(inflight), timeout=1.0,
                                           return_when=FIRST_COMPLETED)
                        collect(finished)
                except KeyboardInterrupt:
                    if handle.abandon is not None:
                        handle.abandon()
                    inflight.clear()
    except OSError:
        writing_failed = True
        raise
    finally:
        if progress is not None:
            progress.stop()
        report.seconds = time.perf_counter() - t0
        report.stored, report.failed_total = stored, failed_total
        session.update(finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), ran=report.ran,
                       ok=report.ok, failed=report.failed, interrupted=report.interrupted,
                       seconds=round(report.seconds, 3))
        manifest["stored"], manifest["failed"] = stored, failed_total
        try:
            store.compact()
            store.write_manifest(manifest)
        except OSError:
            if not writing_failed:  # else the first error is the one reported
                raise
    outcomes = store.read("outcomes")
    outcomes = outcomes[outcomes["group"] == "overall"] if not outcomes.empty else outcomes
    report.frame = join_frame(store.read("runs"), outcomes, "overall")
    report.store = store
    return report


def run_experiment(
    experiment: Experiment | str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Run an experiment and return one row per run: parameters, seed, status, error,
    duration and the overall outcomes.

    ``df = simulation.run_experiment("experiments/engagement_by_locality.yaml")`` runs every
    run on a local process pool and keeps the results in memory; give ``out`` to store them
    (and to ``resume=True`` later).  Other options are those of :func:`sweep` (``executor``,
    ``workers``, ``scheduler``, ``resume``, ``overwrite``, ``retry_failed``, ``max_runs``,
    ``quiet``).  Group-level outcomes and time series: :func:`read_results` on ``out`` (or
    :func:`sweep`, whose report keeps the store).

    Raises
    ------
    KeyboardInterrupt
        After storing what had finished, if interrupted.
    """
    report = sweep(experiment, out=out, **options)
    if report.interrupted:
        raise KeyboardInterrupt
    return report.frame
