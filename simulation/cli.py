"""The ``commnet`` command line: run, validate and describe scenarios (and more).

Bad input never produces a traceback: scenario problems are printed with the file, field,
value and what is allowed, and the command exits with status 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from .loader import ScenarioError, load_scenario

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="commnet: agent-based simulation of healthcare commissioning networks.",
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True, soft_wrap=True)

Overrides = Annotated[
    list[str] | None,
    typer.Option("--set", help="override a scenario field: dotted.path=value (repeatable)"),
]


def fail(exc: ScenarioError) -> None:
    """Print a scenario error and exit with status 2."""
    err.print(f"[bold red]error[/]: {exc}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(2)


def _load(path: Path, overrides: list[str] | None):
    try:
        return load_scenario(path, overrides or [])
    except ScenarioError as exc:
        fail(exc)


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    steps: Annotated[int | None, typer.Option(
        min=1, max=100_000, help="months to simulate (default: scenario)")] = None,
    seed: Annotated[int | None, typer.Option(
        min=0, max=2**63 - 1, help="root seed (default: scenario)")] = None,
    replicates: Annotated[int, typer.Option(min=1, help="independent replicates")] = 1,
    out: Annotated[Path | None, typer.Option(help="output folder")] = None,
    overrides: Overrides = None,
    figures: Annotated[bool, typer.Option(help="write PNG figures")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Run a scenario: tidy time series, summary, manifest and figures in OUT."""
    from .figures import plot_network, plot_trajectories
    from .results import (
        RunResult,
        build_manifest,
        iter_replicates,
        replicate_seeds,
        summarise,
        tidy,
        write_results,
    )

    spec = _load(scenario, overrides)
    if steps is not None:
        spec = spec.model_copy(update={"steps": steps})
    if seed is not None:
        spec = spec.model_copy(update={"seed": seed})
    out = out or Path("results") / spec.name
    seeds = replicate_seeds(spec.seed, replicates)
    frames, timings, first_model = [], [], None
    interrupted = False
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err, disable=quiet, transient=True) as bar:
        task = bar.add_task(f"{spec.name}", total=replicates * spec.steps)
        try:
            for r, model, seconds in iter_replicates(spec, seeds,
                                                     on_step=lambda: bar.advance(task)):
                frames.append(tidy(model, r))
                timings.append(seconds)
                if first_model is None:
                    first_model = model
        except KeyboardInterrupt:
            interrupted = True
    if not frames:
        err.print("interrupted before the first replicate finished; nothing written")
        raise typer.Exit(130)
    import pandas as pd

    ts = pd.concat(frames, ignore_index=True)
    manifest = build_manifest(spec, seeds[: len(frames)], timings,
                              scenario_file=str(scenario), overrides=overrides or [],
                              replicates_requested=replicates)
    result = RunResult(spec, ts, summarise(ts), manifest)
    try:  # every file is written whole or not at all (temporary file, then rename)
        paths = write_results(result, out)
        if first_model is not None:
            from .results import _atomic_write, ego_table, export_graphml

            paths["board_ego"] = out / "board_ego.csv"
            ego = ego_table(first_model)
            _atomic_write(paths["board_ego"], lambda p: ego.to_csv(p, index=False))
            if first_model.n_agents <= 20_000:
                paths["graphml"] = export_graphml(first_model, out / "network.graphml")
        if figures and first_model is not None:
            m = first_model
            paths["trajectories"] = plot_trajectories(
                ts, out / "trajectories.png", title=f"{spec.name} ({len(frames)} replicates)")
            paths["network"] = plot_network(m.pop, m.ties.src, m.ties.dst, m.ties.weight,
                                            m.on_board, out / "network.png", seed=m.seed_value)
    except OSError as exc:  # read-only folder, full disk: said plainly, exit 2
        from .experiment.store import os_error_message

        fail(ScenarioError([("--out", "", os_error_message(exc, out))]))
    _print_summary(result)
    console.print(f"results in [bold]{out}[/] ({', '.join(p.name for p in paths.values())})")
    if interrupted:
        err.print(f"interrupted: {len(frames)} of {replicates} replicates written")
        raise typer.Exit(130)


def _print_summary(result) -> None:
    table = Table(title=f"{result.scenario.name}: final month, overall (mean, 95% CI)")
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("95% CI", justify="right")
    shown = ("relevance_skill", "misallocated_per_head", "accuracy_board", "board_uncertainty",
             "reach", "coherence_internal",
             "coherence_external", "tie_persistence", "retention", "relevance_patient",
             "relevance_provider", "relevance_localities", "wasted_spend", "engagement_gp",
             "reflected_formal", "reflected_other")
    tab = result.overall_table(list(shown))
    for row in tab.itertuples():
        ci = "" if not np.isfinite(row.ci_low) else f"{row.ci_low:.3f} – {row.ci_high:.3f}"
        table.add_row(row.metric, f"{row.mean:.3f}", ci)
    console.print(table)


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="scenario YAML files")],
    overrides: Overrides = None,
) -> None:
    """Check scenario files; print every problem; exit 2 if any file is invalid."""
    bad = 0
    for f in files:
        try:
            load_scenario(f, overrides or [])
            console.print(f"[green]ok[/]  {f}")
        except ScenarioError as exc:
            bad += 1
            err.print(f"[bold red]invalid[/] {exc}", highlight=False)
    if bad:
        raise typer.Exit(2)


@app.command()
def describe(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    overrides: Overrides = None,
) -> None:
    """Counts by type, localities, board composition and network statistics."""
    from .model import CommissioningModel
    from .reporters import METRICS

    spec = _load(scenario, overrides)
    model = CommissioningModel(spec, collect=False)
    pop = model.pop
    console.print(f"[bold]{spec.name}[/]: {spec.description.strip()}")
    t = Table(title="commissioning groups")
    for col in ("group", "population", "practices", "localities", "agents", "board"):
        t.add_column(col, justify="right" if col != "group" else "left")
    practices = np.bincount(pop.practice_group, minlength=pop.n_groups)
    areas = np.bincount(pop.area_group, minlength=pop.n_groups)
    agents = np.bincount(pop.group[pop.group >= 0], minlength=pop.n_groups)
    board = np.asarray(pop.board.sum(axis=1)).ravel().astype(int)
    for g, gs in enumerate(spec.groups):
        t.add_row(gs.name, f"{pop.group_population[g]:,}", str(practices[g]), str(areas[g]),
                  str(agents[g]), str(board[g]))
    t.add_row("total", f"{pop.group_population.sum():,}", str(practices.sum()), str(areas.sum()),
              str(pop.n), "")
    console.print(t)
    counts = pop.counts_by_kind()
    console.print("agents by type: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    console.print(
        f"localities as institutions: {'on' if spec.localities.enabled else 'off'}; "
        f"relationship mode: {spec.relationships.mode}; exchange rule: {spec.exchange.rule}"
    )
    b = spec.board
    console.print(
        f"board template: {b.gps} GPs, {b.practice_managers} practice manager(s), {b.nurses} "
        f"nurse(s), {b.secondary_care_doctors} secondary-care doctor(s), {b.lay_members} lay "
        f"members, {b.officers} officers, LA attendee {'yes' if b.local_authority_attendee else 'no'}"
    )
    deg = model.ties.degree()
    st = Table(title="network at month 0 (overall)")
    st.add_column("statistic")
    st.add_column("value", justify="right")
    st.add_row("ties", f"{model.ties.m:,}")
    st.add_row("mean degree", f"{deg.mean():.2f}")
    st.add_row("isolates", str(int((deg == 0).sum())))
    for name in ("density", "degree_centralisation", "clustering", "modularity_localities",
                 "ei_index", "board_ties_provider", "board_ties_patient",
                 "board_ties_local_authority"):
        st.add_row(name, f"{METRICS[name][0](model)[-1]:.3f}")
    console.print(st)


# ----------------------------------------------------------------- experiments
# Thin wrappers: the work is in simulation.experiment.commands.

Workers = Annotated[int | None, typer.Option(
    min=1, help="local pool size, or Dask LocalCluster workers (default: all cores)")]
Executor = Annotated[str, typer.Option(
    help="where runs execute: local (process pool), dask, or serial (this process)")]
Scheduler = Annotated[str | None, typer.Option(
    help="address of a running Dask scheduler, e.g. tcp://host:8786 (implies --executor dask; "
         "without it --executor dask starts a local cluster)")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar or summary")]


@app.command()
def sweep(
    experiment: Annotated[Path, typer.Argument(help="experiment YAML file (experiments/*.yaml)")],
    out: Annotated[Path | None, typer.Option(
        help="results folder (default: results/<experiment name>)")] = None,
    workers: Workers = None,
    executor: Executor = "local",
    scheduler: Scheduler = None,
    resume: Annotated[bool, typer.Option(
        help="continue the experiment in OUT: skip stored runs, run the rest")] = False,
    retry_failed: Annotated[bool, typer.Option(
        help="with --resume: run the runs recorded as failed again")] = False,
    overwrite: Annotated[bool, typer.Option(help="discard results already in OUT")] = False,
    max_runs: Annotated[int | None, typer.Option(
        min=1, help="stop after this many runs (resume later for the rest)")] = None,
    quiet: Quiet = False,
) -> None:
    """Run an experiment's design (grid, cases, Latin hypercube, Sobol, Morris) into OUT.

    Results are stored as each run finishes; after a crash or Ctrl-C, --resume completes the
    rest.  Exit status: 0 all runs ok, 1 some runs failed (recorded with their errors),
    2 bad input, 130 interrupted.
    """
    from .experiment.commands import sweep_command

    try:
        code = sweep_command(experiment, out, workers, executor, scheduler, resume,
                             retry_failed, overwrite, max_runs, quiet, console, err)
    except ScenarioError as exc:
        fail(exc)
    raise typer.Exit(code)


@app.command()
def compare(
    scenarios: Annotated[list[Path], typer.Argument(help="scenario files; the first is the "
                                                         "reference")],
    replicates: Annotated[int, typer.Option(min=2, help="replicates per scenario")] = 10,
    steps: Annotated[int | None, typer.Option(min=1, help="months (default: scenario)")] = None,
    seed: Annotated[int | None, typer.Option(
        help="root seed shared by all scenarios (default: the first scenario's)")] = None,
    overrides: Overrides = None,
    metric: Annotated[list[str] | None, typer.Option(
        help="metric to show (repeatable; 'all' for every one); the CSV has all")] = None,
    reduce: Annotated[str, typer.Option(
        help="final (last month) or last12 (mean of the last 12 months)")] = "final",
    out: Annotated[Path | None, typer.Option(
        help="results folder (default: results/compare/<names>)")] = None,
    workers: Workers = None,
    executor: Executor = "local",
    scheduler: Scheduler = None,
    resume: Annotated[bool, typer.Option(help="continue a comparison stored in OUT")] = False,
    overwrite: Annotated[bool, typer.Option(help="discard results already in OUT")] = False,
    figures: Annotated[bool, typer.Option(help="write the trajectories figure")] = True,
    quiet: Quiet = False,
) -> None:
    """Compare scenarios: each metric's mean and 95% CI, the difference from the first
    scenario with its CI and Hedges' g (table, compare.csv, trajectories.png)."""
    from .experiment.commands import compare_command

    try:
        code = compare_command(scenarios, replicates, steps, seed, overrides or [], metric,
                               reduce, out, workers, executor, scheduler, resume, overwrite,
                               figures, quiet, console, err)
    except ScenarioError as exc:
        fail(exc)
    raise typer.Exit(code)


@app.command()
def patterns(
    replicates: Annotated[int, typer.Option(min=2, help="paired replicates per arm")] = 30,
    robustness: Annotated[int, typer.Option(
        min=0, help="Latin-hypercube points over the uncertain parameters (0 = none)")] = 0,
    robustness_replicates: Annotated[int, typer.Option(
        min=2, help="paired replicates per arm at each hypercube point")] = 5,
    workers: Workers = None,
    seed: Annotated[int, typer.Option(help="root seed of the replicate seeds")] = 2013,
    scale: Annotated[float, typer.Option(min=0.01, max=1.0,
                                         help="population scale of every arm")] = 1.0,
    steps: Annotated[int | None, typer.Option(min=37, help="months (default: 60)")] = None,
    only: Annotated[list[str] | None, typer.Option(
        help="pattern key to run (repeatable; e.g. 1, 2-shock, A1)")] = None,
    out: Annotated[Path, typer.Option(help="output folder")] = Path("results/patterns"),
    quiet: Quiet = False,
) -> None:
    """Run the brief's six patterns and the ablations as paired comparisons (common random
    numbers): table, patterns.csv, patterns.png; --robustness K adds the share of a Latin
    hypercube over the uncertain parameters in which each pattern holds.

    Example: commnet patterns --replicates 30 --workers 2 --robustness 40
    """
    from .experiment.patterns import patterns_command

    try:
        code = patterns_command(replicates, robustness, robustness_replicates, workers, seed,
                                scale, steps, out, only or [], quiet, console, err)
    except ScenarioError as exc:
        fail(exc)
    raise typer.Exit(code)


@app.command()
def calibrate(
    calibration: Annotated[Path, typer.Argument(help="calibration YAML file (calibration/*.yaml)")],
    out: Annotated[Path | None, typer.Option(
        help="output folder (default: results/calibration/<name>)")] = None,
    workers: Workers = None,
    executor: Executor = "local",
    scheduler: Scheduler = None,
    resume: Annotated[bool, typer.Option(help="continue the calibration stored in OUT")] = False,
    generations: Annotated[int | None, typer.Option(
        min=1, help="ABC-SMC generations (default: the file's)")] = None,
    population_size: Annotated[int | None, typer.Option(
        min=10, help="particles per generation (default: the file's)")] = None,
    quiet: Quiet = False,
) -> None:
    """Fit parameters to published figures with ABC-SMC (pyabc): posterior.parquet,
    predictive.csv, identification.csv, calibration.png and a calibrated scenario in OUT.

    Example: commnet calibrate calibration/gp_survey_2015.yaml --workers 2
    """
    import time

    from .experiment.calibrate import calibrate as run_calibration
    from .experiment.calibrate import load_calibration

    try:
        spec = load_calibration(calibration)[0]
        out = out or Path("results") / "calibration" / spec.name
        t0 = time.perf_counter()
        if not quiet:
            console.print(f"[bold]{spec.name}[/]: {len(spec.parameters)} parameters, "
                          f"{len(spec.targets)} targets, ABC-SMC with "
                          f"{population_size or spec.abc.population_size} particles × "
                          f"{generations or spec.abc.generations} generations → {out}",
                          highlight=False)
        res = run_calibration(calibration, out, workers=workers, executor=executor,
                              scheduler=scheduler, resume=resume, generations=generations,
                              population_size=population_size)
    except ScenarioError as exc:
        fail(exc)
    if not quiet:
        table = Table(title=f"targets vs posterior predictive ({res['evaluations']} model runs, "
                            f"{res['generations']} generations, {time.perf_counter() - t0:.0f} s)")
        for col in ("target", "observed", "predicted", "90% interval", "covered"):
            table.add_column(col)
        for r in res["predictive"].itertuples():
            table.add_row(r.target, f"{r.observed:.3f}", f"{r.predicted_median:.3f}",
                          f"{r.predicted_q05:.3f} – {r.predicted_q95:.3f}",
                          "yes" if r.covered else "no")
        console.print(table)
        table = Table(title="posterior (width = 90% interval / 90% of prior; ≈1: not identified)")
        for col in ("parameter", "median", "90% interval", "width"):
            table.add_column(col)
        for r in res["identification"].itertuples():
            table.add_row(r.parameter, f"{r.median:.4g}", f"{r.q05:.4g} – {r.q95:.4g}",
                          f"{r.width_ratio:.2f}")
        console.print(table)
        console.print(f"calibrated scenario: [bold]{res['scenario']}[/]")


@app.command()
def sensitivity(
    results: Annotated[Path, typer.Argument(help="results folder of a sobol or morris sweep")],
    outcome: Annotated[list[str] | None, typer.Option(
        help="outcome to analyse (repeatable; default: all recorded)")] = None,
    group: Annotated[str, typer.Option(help="group whose outcomes are analysed")] = "overall",
    out: Annotated[Path | None, typer.Option(
        help="output folder (default: RESULTS/sensitivity)")] = None,
    resamples: Annotated[int, typer.Option(min=10, help="bootstrap resamples for CIs")] = 1000,
    figures: Annotated[bool, typer.Option(help="write a bar chart per outcome")] = True,
    quiet: Quiet = False,
) -> None:
    """Sobol S1/ST (or Morris mu*/sigma) indices with 95% CIs: table, CSV and bar charts."""
    from .experiment.commands import sensitivity_command

    try:
        code = sensitivity_command(results, outcome, group, out, resamples, figures, quiet,
                                   console)
    except ScenarioError as exc:
        fail(exc)
    raise typer.Exit(code)


@app.command(name="app")
def app_command(
    scenario: Annotated[Path | None, typer.Argument(help="scenario YAML (default: teaching)")] = None,
    port: Annotated[int, typer.Option(help="port of the local server")] = 8765,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    browser: Annotated[bool, typer.Option(help="open a browser window")] = True,
) -> None:
    """Open the teaching app (Solara, works offline) in the browser."""
    try:
        from .app.launch import launch
    except ImportError as exc:  # pragma: no cover - the app extra is part of dev
        err.print(f"error: the teaching app needs the app extra: pip install -e '.[app]' ({exc})")
        raise typer.Exit(2) from None
    try:
        code = launch(str(scenario) if scenario else None, port, host, open_browser=browser)
    except ScenarioError as exc:
        fail(exc)
    raise typer.Exit(code or 0)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except ScenarioError as exc:  # pragma: no cover - commands catch their own
        err.print(f"error: {exc}")
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
