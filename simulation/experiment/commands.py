"""The work behind ``commnet sweep``, ``commnet compare`` and ``commnet sensitivity``.

:mod:`simulation.cli` declares the commands and their options; these functions run them,
print to the given consoles and return the exit status (0 done, 1 some runs failed,
130 interrupted).  Bad input raises :class:`~simulation.loader.ScenarioError` (exit 2).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..loader import ScenarioError

__all__ = ["compare_command", "sensitivity_command", "sweep_command"]

EXECUTORS = ("local", "dask", "serial")


def _check_executor(executor: str, scheduler: str | None) -> str:
    if executor not in EXECUTORS:
        raise ScenarioError([("--executor", "", f"unknown executor {executor!r}; use one of "
                              f"{', '.join(EXECUTORS)}")])
    if scheduler is not None and executor == "serial":
        raise ScenarioError([("--scheduler", "", "a scheduler address needs --executor dask")])
    return "dask" if scheduler is not None else executor


def _status(report: Any, console: Any, err: Any, quiet: bool, rerun: str) -> int:
    lines = report.lines(rerun)
    if quiet:  # what a resume repaired is said even when quiet
        for note in report.repaired:
            err.print(f"repaired: {note}", highlight=False, markup=False, soft_wrap=True)
    if not quiet:
        for line in lines:
            console.print(line, highlight=False, markup=False, soft_wrap=True)
    elif report.failed_total or report.interrupted:
        for line in lines[2:] if report.out is not None else lines[1:]:
            err.print(line, highlight=False, markup=False, soft_wrap=True)
    if report.interrupted:
        return 130
    return 1 if report.failed_total else 0


def sweep_command(experiment: Path, out: Path | None, workers: int | None, executor: str,
                  scheduler: str | None, resume: bool, retry_failed: bool, overwrite: bool,
                  max_runs: int | None, quiet: bool, console: Any, err: Any,
                  overrides: Sequence[str] = ()) -> int:
    """Run or resume an experiment file; print the summary; return the exit status.

    ``overrides`` (``--set dotted.path=value``) change the experiment's base scenario(s)
    before the design is applied; they are recorded in the manifest, and a ``--resume`` with
    other overrides is refused (the base scenario hash differs)."""
    from .runner import sweep
    from .spec import load_experiment

    kind = _check_executor(executor, scheduler)
    if retry_failed and not resume:
        raise ScenarioError([("--retry-failed", "", "goes with --resume (it reruns the failed "
                              "runs of an existing results folder)")])
    exp = load_experiment(experiment, overrides)
    from rich.markup import escape

    from .._text import excerpt, folder_name

    out = out or Path("results") / folder_name(exp.name, Path(experiment).stem)
    if not quiet:
        console.print(f"[bold]{escape(excerpt(exp.name))}[/]: {exp.spec.design.kind} design, "
                      f"{exp.spec.runs_per_replicate()} points × {exp.spec.replicates} "
                      f"replicates → {escape(excerpt(out, 300))}", highlight=False)
    report = sweep(exp, out=out, executor=kind, workers=workers, scheduler=scheduler,
                   resume=resume, overwrite=overwrite, retry_failed=retry_failed,
                   max_runs=max_runs, quiet=quiet, console=err)
    rerun = f"commnet sweep {shlex.quote(str(experiment))} --out {shlex.quote(str(out))}"
    rerun += "".join(f" --set {shlex.quote(o)}" for o in overrides)
    return _status(report, console, err, quiet, rerun)


def compare_command(scenarios: Sequence[Path], replicates: int, steps: int | None,
                    seed: int | None, overrides: Sequence[str], metrics: Sequence[str] | None,
                    reduce: str, out: Path | None, workers: int | None, executor: str,
                    scheduler: str | None, resume: bool, overwrite: bool, figures: bool,
                    quiet: bool, console: Any, err: Any) -> int:
    """Compare scenarios; print the table; write CSV and figure; return the exit status."""
    from ..reporters import METRICS
    from .compare import default_out, print_compare, run_compare

    kind = _check_executor(executor, scheduler)
    if len(scenarios) < 2:
        raise ScenarioError([("compare", "", "give at least two scenario files")])
    if reduce not in ("final", "last12"):
        raise ScenarioError([("--reduce", "", f"{reduce!r}: use last12 (mean of the last 12 "
                              "months) or final (the last month)")])
    shown = None
    if metrics:
        shown = list(METRICS) if list(metrics) == ["all"] else list(metrics)
        bad = [m for m in shown if m not in METRICS]
        if bad:
            raise ScenarioError([("--metric", "", f"unknown metric(s) {', '.join(bad)}; "
                                  f"metrics: {', '.join(METRICS)}")])
    out = out or default_out(scenarios)
    result = run_compare(scenarios, replicates=replicates, steps=steps, seed=seed,
                         overrides=overrides, metrics=shown, reduce=reduce, out=out,
                         figures=figures, executor=kind, workers=workers, scheduler=scheduler,
                         resume=resume, overwrite=overwrite, quiet=quiet, console=err)
    print_compare(result, console)
    files = [p for p in (result.csv, result.figure) if p is not None]
    console.print(f"table and figure: {', '.join(str(p) for p in files)}", highlight=False)
    rerun = "commnet compare " + " ".join(shlex.quote(str(s)) for s in scenarios) + \
        f" --replicates {replicates} --out {shlex.quote(str(out))}"
    return _status(result.report, console, err, True, rerun)


def sensitivity_command(folder: Path, outcomes: Sequence[str] | None, group: str,
                        out: Path | None, resamples: int, figures: bool, quiet: bool,
                        console: Any) -> int:
    """Sobol or Morris indices of a stored sweep: table, CSV and bar charts."""
    from .sensitivity import analyse, print_indices, write

    result = analyse(folder, outcomes or None, group, resamples=resamples)
    out = out or Path(folder) / "sensitivity"
    files = write(result, out, figures)
    if not quiet:
        print_indices(result, console)
    else:  # an undersized design is said even when quiet
        from .sensitivity import design_warnings

        for warning in design_warnings(result.table, result.kind):
            console.print(f"warning: {warning}", highlight=False, markup=False, soft_wrap=True)
    console.print(f"{len(files)} file(s) in {out} (sensitivity.csv"
                  f"{' and a bar chart per outcome' if figures else ''})", highlight=False)
    return 0
