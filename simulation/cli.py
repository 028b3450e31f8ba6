"""The ``commnet`` command line: run, validate and describe scenarios (and more).

Bad input never produces a traceback: scenario problems are printed with the file, field,
value and what is allowed, and the command exits with status 2.  So does a run that cannot get
the memory it needs (``MemoryError``, caught at this boundary).

Nothing a file or an argument says reaches the terminal raw: both consoles show every control
character of the text they print as an escape (``\\e``, ``\\x07``; :class:`SafeConsole`), values
from files are printed without rich markup, every problem is a bounded excerpt and a list of
problems stops at 20 lines with "… and N more" (:mod:`simulation._text`).

Every option has a ``metavar`` (``--steps MONTHS``, ``--set PATH=VALUE``) instead of typer's
type tags, flags show none, choices are listed (``--executor local|dask|serial``), and every
command's help ends with an example; the help and the tables fold long words rather than cut
them, so nothing is lost at 80 columns (``tests/test_cli.py`` renders every help at
``COLUMNS=80``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.segment import Segment
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

from . import _text

if TYPE_CHECKING:  # the loader (pydantic, numpy) is imported by the commands that use it
    from .loader import ScenarioError

# Start-up cost: only typer and rich are imported here, so `commnet --help` stays fast.  Each
# command imports what it uses (the loader, numpy, the model, pandas) inside its body, and
# tests/test_cli.py checks that importing this module loads none of mesa, pandas, pyarrow,
# scipy or networkx.


def _no_type(ctx: Any) -> None:
    return None


def _no_flag_types(params: list[Any]) -> list[Any]:
    """No type tags in the help: flags (``--quiet``, ``--figures/--no-figures``, ``--help``)
    get an empty metavar, so no ``<bool>`` shows beside them, and arguments (named by their
    metavar, ``SCENARIO``) show no ``<path>``."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        if param.param_type_name == "argument":
            param.display_type_rich = _no_type
    return params


class _Command(TyperCommand):
    """A typer command whose flags carry no type tag in the help."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _no_flag_types(super().get_params(ctx))


class _Group(TyperGroup):
    """The command group: flags without type tags, commands listed in the order written."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _no_flag_types(super().get_params(ctx))

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)


app = typer.Typer(
    cls=_Group,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="commnet: agent-based simulation of healthcare commissioning networks.",
    epilog="\b\nExample: commnet run scenarios/teaching.yaml --steps 12 --replicates 3",
    pretty_exceptions_enable=False,
)


class SafeConsole(Console):
    """A rich console that never writes a control character it did not make itself.

    The text of every segment is cleaned (:func:`simulation._text.clean`: ``ESC``, ``BEL``,
    C1 controls, bidirectional overrides shown as escapes; line feeds kept) just before the
    console adds its own styles and cursor controls, so a scenario name or a value in a data
    file cannot set the terminal's title or colours, whatever renderable it is printed in.
    """

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(
            seg if seg.control else Segment(_text.clean(seg.text, newlines=True), seg.style)
            for seg in buffer)


console = SafeConsole()
err = SafeConsole(stderr=True, soft_wrap=True)


def shown(value: object, limit: int = 300) -> str:
    """A file name, name or value for a markup string: a cleaned excerpt, markup escaped."""
    return escape(_text.excerpt(value, limit))


def _reflow(doc: str | None) -> str:
    """A docstring as help text: paragraphs kept, the line breaks inside each joined (rich
    help would keep them, breaking lines in mid-sentence at any width)."""
    import inspect

    paragraphs = inspect.cleandoc(doc or "").split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


def _first_sentence(text: str) -> str:
    """The command list's line: the help's first sentence, whole (click would cut it at a
    fixed width with '...')."""
    first = text.split("\n\n")[0]
    end = first.find(". ")
    return first if end < 0 else first[: end + 1]


def command(example: str, **kwargs: Any):
    """``app.command`` with the help's example line, the command class above and the
    docstring reflowed as the help."""

    def decorate(func: Any) -> Any:
        text = _reflow(func.__doc__)
        kwargs.setdefault("short_help", _first_sentence(text))
        return app.command(cls=_Command, epilog=f"\b\nExample: {example}", help=text,
                           **kwargs)(func)

    return decorate


Overrides = Annotated[
    list[str] | None,
    typer.Option("--set", metavar="PATH=VALUE",
                 help="override a scenario field, e.g. seed=7 (repeatable; see docs/parameters.md)"),
]
SEED_MAX = 2**63 - 1


def _check_seed(value: int | None) -> int | None:
    if value is not None and not 0 <= value <= SEED_MAX:
        raise typer.BadParameter(f"{value} is not in 0 … 2^63−1")
    return value


def _versions() -> str:
    """``commnet X (Mesa Y, numpy Z, Python W)`` from package metadata, importing neither."""
    import platform
    from importlib import metadata

    from . import __version__

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return (f"commnet {__version__} (Mesa {version('mesa')}, numpy {version('numpy')}, "
            f"Python {platform.python_version()})")


def _print_version(value: bool) -> None:
    if value:
        console.print(_versions(), highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="print the version of commnet, Mesa, numpy and Python, and exit")] = False,
) -> None:
    """commnet: agent-based simulation of healthcare commissioning networks."""
    show_register_warnings()


def show_register_warnings() -> None:
    """Print :class:`~simulation.errors.RegisterWarning` s (a register's tiny practices,
    localities sized from population) as ``warning: ...`` on stderr, each every time; other
    warnings are shown as Python shows them."""
    import warnings

    from rich.markup import escape

    from .errors import RegisterWarning

    if getattr(warnings.showwarning, "_commnet", False):
        return
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, RegisterWarning):
            err.print(f"[bold yellow]warning[/]: {escape(str(message))}", highlight=False,
                      soft_wrap=True)
        else:
            default(message, category, filename, lineno, file, line)

    show._commnet = True  # type: ignore[attr-defined]
    warnings.showwarning = show
    warnings.simplefilter("always", RegisterWarning)


#: Longest problem line printed (a message with its file names and a value's excerpt).
PROBLEM_LINE = 1500


def problem_lines(exc: ScenarioError) -> str:
    """An error's problems, one per line: each a cleaned excerpt (at most
    :data:`PROBLEM_LINE` characters), at most :data:`simulation._text.MAX_PROBLEMS` of them
    and "… and N more"."""
    problems = getattr(exc, "problems", None)
    if not problems:
        return _text.excerpt(str(exc), PROBLEM_LINE)
    lines = []
    for source, path, message in problems:
        where = f"{source}: {path}" if path else str(source)
        lines.append(_text.excerpt(f"{where}: {message}", PROBLEM_LINE))
    # readers cap their own lists at MAX_PROBLEMS and a "… and N more" line: kept whole
    return "\n".join(_text.cap(lines, _text.MAX_PROBLEMS + 1))


def fail(exc: ScenarioError) -> None:
    """Print a scenario error and exit with status 2."""
    err.print(f"[bold red]error[/]: {escape(problem_lines(exc))}", highlight=False, markup=True,
              soft_wrap=True)
    raise typer.Exit(2)


@contextmanager
def scenario_errors() -> Iterator[None]:
    """Turn a :class:`~simulation.loader.ScenarioError` raised inside into :func:`fail`."""
    from .loader import ScenarioError

    try:
        yield
    except ScenarioError as exc:
        fail(exc)


def _load(path: Path, overrides: list[str] | None):
    from .loader import load_scenario

    with scenario_errors():
        return load_scenario(path, overrides or [])


#: files ``commnet run`` writes into its folder (besides figures, ``*.png``)
RUN_FILES = ("timeseries.parquet", "summary.parquet", "summary.csv", "overall.csv",
             "manifest.json", "board_ego.csv", "network.graphml", "survey_by_year.csv")


def _identity(scenario_dump: dict[str, Any], overrides: list[str]) -> tuple[Any, ...]:
    """What makes two runs the same run for the overwrite guard: the resolved scenario apart
    from ``seed`` and ``steps`` (``--seed``/``--steps`` re-run the same scenario) and the
    ``--set`` overrides given."""
    rest = {k: v for k, v in scenario_dump.items() if k not in ("seed", "steps")}
    return rest, sorted(overrides)


def check_run_folder(out: Path, scenario_dump: dict[str, Any], overrides: list[str],
                     overwrite: bool) -> None:
    """Refuse (exit 2) to write a run into ``out`` if it holds something else.

    ``out`` may be missing, empty, or hold a ``commnet run`` of the same scenario with the
    same ``--set`` overrides (read from its ``manifest.json``).  Anything else -- another
    scenario, other overrides, a sweep or files that are not a run -- needs ``--overwrite``,
    which deletes the previous run's files (:data:`RUN_FILES` and ``*.png``) and keeps any
    other file.
    """
    import json

    from .loader import ScenarioError

    if not out.exists():
        return
    if not out.is_dir():
        fail(ScenarioError([("--out", str(out), "is a file, not a folder")]))
    entries = [p for p in out.iterdir() if not p.name.startswith(".")]
    if not entries:
        return
    why = None
    try:
        old = json.loads((out / "manifest.json").read_text())
        if "scenario" not in old or "scenario_name" not in old:
            why = "holds results that are not a commnet run (its manifest.json has no scenario)"
        elif _identity(old["scenario"], old.get("overrides", [])) != _identity(scenario_dump,
                                                                               overrides):
            sets = " ".join(f"--set {o}" for o in old.get("overrides", [])) or "no --set"
            why = (f"holds the results of another scenario or other overrides "
                   f"({old['scenario_name']} from {old.get('scenario_file', '?')}, {sets})")
    except FileNotFoundError:
        why = "is not empty and holds no commnet run (no manifest.json)"
    except (OSError, ValueError) as exc:
        why = f"has a manifest.json that cannot be read ({exc})"
    if why is None:
        return
    if not overwrite:
        fail(ScenarioError([("--out", str(out), f"{why}; use another --out folder, or "
                             "--overwrite to replace that run")]))
    remove_stale(out, keep=())


def remove_stale(out: Path, keep: Any) -> list[Path]:
    """Delete the run files and figures in ``out`` that are not in ``keep`` (this run's)."""
    keep = {Path(p).name for p in keep}
    stale = [p for p in out.iterdir() if p.is_file() and p.name not in keep
             and (p.name in RUN_FILES or p.suffix == ".png")]
    for p in stale:
        p.unlink()
    return stale


@command("commnet run scenarios/teaching.yaml --replicates 3 --steps 12")
def run(
    scenario: Annotated[Path, typer.Argument(metavar="SCENARIO", help="scenario YAML file")],
    steps: Annotated[int | None, typer.Option(
        min=1, max=100_000, metavar="MONTHS",
        help="months to simulate, 1 to 100000 (default: the scenario's)")] = None,
    seed: Annotated[int | None, typer.Option(
        metavar="SEED", callback=_check_seed,
        help="root seed, 0 to 2^63−1 (default: the scenario's)")] = None,
    replicates: Annotated[int, typer.Option(
        min=1, metavar="N", help="independent replicates")] = 1,
    out: Annotated[Path | None, typer.Option(
        metavar="DIR", help="output folder (default: results/NAME, NAME the scenario's)")] = None,
    overrides: Overrides = None,
    figures: Annotated[bool, typer.Option(help="write PNG figures")] = True,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="replace a run of another scenario or other --set in OUT")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Run a scenario: tidy time series, summary, manifest and figures in OUT.

    OUT may hold an earlier run of the same scenario and --set overrides, which is replaced;
    anything else needs --overwrite.  Files of the earlier run that this run does not write
    (figures after --no-figures, for instance) are removed.  A scenario with start: also
    gets survey_by_year.csv and survey_history.png: the survey questions by NHS financial
    year, mean and 95% interval across replicates.
    """
    import json

    from .results import (
        RunResult,
        build_manifest,
        iter_replicates,
        replicate_seeds,
        summarise,
        tidy,
        write_figures,
        write_history,
        write_results,
    )

    spec = _load(scenario, overrides)
    if steps is not None:
        spec = spec.model_copy(update={"steps": steps})
    if seed is not None:
        spec = spec.model_copy(update={"seed": seed})
    out = out or Path("results") / _text.folder_name(spec.name, Path(scenario).stem)
    _announce_cpu_time(spec, replicates)
    dump = json.loads(json.dumps(spec.model_dump(mode="json"), default=str))
    check_run_folder(out, dump, overrides or [], overwrite)
    seeds = replicate_seeds(spec.seed, replicates)
    frames, timings, first_model = [], [], None
    interrupted = False
    with _progress(err, quiet) as bar:
        task = bar.add_task(shown(spec.name, 80), total=replicates * spec.steps)
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
            paths.update(write_figures(result, first_model, out))
        paths.update(write_history(result, out, figures=figures))  # with start: only
        removed = remove_stale(out, keep=paths.values())
    except OSError as exc:  # read-only folder, full disk: said plainly, exit 2
        from .experiment.store import os_error_message
        from .loader import ScenarioError

        fail(ScenarioError([("--out", "", os_error_message(exc, out))]))
    _print_summary(result)
    console.print(f"results in [bold]{shown(out)}[/] "
                  f"({', '.join(p.name for p in paths.values())})", soft_wrap=True)
    if removed:
        console.print(f"removed from the earlier run: {', '.join(p.name for p in removed)}",
                      highlight=False, soft_wrap=True)
    if interrupted:
        err.print(f"interrupted: {len(frames)} of {replicates} replicates written")
        raise typer.Exit(130)


#: A run whose estimated CPU time exceeds this many seconds says so before it starts.
ANNOUNCE_CPU_SECONDS = 180.0


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _announce_cpu_time(spec: Any, replicates: int) -> None:
    """Print the estimated CPU time of a long run before it starts
    (:func:`simulation.memory.estimate_cpu_seconds`)."""
    from .loader import count_agents
    from .memory import estimate_cpu_seconds

    seconds = estimate_cpu_seconds(spec, replicates)
    if seconds > ANNOUNCE_CPU_SECONDS:
        err.print(f"note: this run will take about {_duration(seconds)} of CPU time (an estimate: "
                  f"{count_agents(spec):,} agents × {spec.steps + spec.burn_in:,} months × "
                  f"{replicates} replicate(s)); Ctrl-C stops it and keeps the replicates "
                  "finished", highlight=False)


def _progress(to: Console, quiet: bool):
    """The run's progress bar: description, a 20-character bar, done/total and time left,
    which fit in 80 columns with room for a long scenario name (folded, never cut)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description}", table_column=_fold_column()),
                    BarColumn(bar_width=20), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=to, disable=quiet, transient=True)


def _fold_column():
    from rich.table import Column

    return Column(overflow="fold")


def _print_summary(result) -> None:
    from .statistics import format_interval

    table = Table(title=f"{shown(result.scenario.name, 80)}: final month, overall (mean, 95% "
                        "t-interval over replicates)")
    table.add_column("metric", overflow="fold")
    table.add_column("mean", justify="right", no_wrap=True)
    table.add_column("95% CI", justify="right", overflow="fold")
    metrics = ("relevance_skill", "decision_span_per_head", "misallocated_per_head",
               "misallocated_floor_per_head", "misallocated_ceiling_per_head", "accuracy_board",
               "board_uncertainty", "reach", "coherence_internal", "coherence_external",
               "tie_persistence", "retention", "relevance_patient", "relevance_provider",
               "relevance_localities", "wasted_spend", "engagement_gp", "reflected_formal",
               "reflected_other")
    tab = result.overall_table(list(metrics))
    for row in tab.itertuples():
        ci = format_interval(row.ci_low, row.ci_high, row.note)
        table.add_row(row.metric, f"{row.mean:.3f}", ci)
    console.print(table)


@command("commnet validate scenarios/*.yaml")
def validate(
    files: Annotated[list[Path], typer.Argument(metavar="SCENARIO",
                                                help="scenario YAML files")],
    overrides: Overrides = None,
) -> None:
    """Check scenario files; print every problem; exit 2 if any file is invalid."""
    from .loader import ScenarioError, load_scenario

    bad = 0
    for f in files:
        try:
            load_scenario(f, overrides or [])
            console.print(f"[green]ok[/]  {shown(f)}", highlight=False)
        except ScenarioError as exc:
            bad += 1
            err.print(f"[bold red]invalid[/] {escape(problem_lines(exc))}", highlight=False)
    if bad:
        raise typer.Exit(2)


#: stakeholder types in words, for ``describe``
KIND_WORDS = {"gp": "GPs", "manager": "practice and commissioning managers",
              "provider": "provider staff", "patient": "patient representatives and lay members",
              "local_authority": "local-authority staff"}


def localities_source(spec: Any, group: Any) -> str:
    """Where a group's localities come from, for ``describe``: the map's PCNs, the plain
    register's locality column, its population (``population/70k``: one locality per
    ``practices_from.people_per_locality`` people) or the scenario's ``localities.count``."""
    reg = spec.practices_from
    ex = group.practices.explicit
    if reg is None or ex is None:
        return "localities.count"
    if ex[0].locality is not None:
        return "PCNs (map)" if reg.locality == "pcn" else "locality column"
    if reg.sized_groups and group.name in reg.sized_groups:
        return f"population/{reg.people_per_locality // 1000}k"
    return "localities.count"


def deprivation_table(model: Any) -> Table:
    """Practices, patients, mean IMD score and month-0 need profile by deprivation fifth."""
    import numpy as np

    from .needs import imd_quintiles

    pop = model.pop
    q = imd_quintiles(pop.practice_imd, pop.list_size)
    t = Table(title="need by deprivation fifth (practice IMD score; 1 = least deprived)")
    for col in ("fifth", "practices", "patients", "mean IMD", *model.spec.services):
        t.add_column(col, justify="right")
    w = pop.list_size.astype(float)
    for k in range(5):
        rows = q == k
        if not rows.any():
            continue
        need = np.average(model.practice_need[rows], axis=0, weights=w[rows])
        t.add_row(str(k + 1), f"{int(rows.sum()):,}", f"{int(w[rows].sum()):,}",
                  f"{np.average(pop.practice_imd[rows], weights=w[rows]):.1f}",
                  *(f"{x:.3f}" for x in need))
    return t


@command("commnet describe scenarios/east_of_england_2013.yaml")
def describe(
    scenario: Annotated[Path, typer.Argument(metavar="SCENARIO", help="scenario YAML file")],
    overrides: Overrides = None,
) -> None:
    """Counts by type, localities, board composition and network statistics."""
    import numpy as np

    from .model import CommissioningModel
    from .reporters import METRICS, label

    spec = _load(scenario, overrides)
    model = CommissioningModel(spec, collect=False)
    pop = model.pop
    console.print(f"[bold]{shown(spec.name)}[/]: {shown(spec.description.strip(), 2000)}",
                  highlight=False)
    t = Table(title="commissioning groups")
    for col in ("group", "population", "practices", "localities", "localities from", "agents",
                "board"):
        t.add_column(col, justify="left" if col in ("group", "localities from") else "right")
    practices = np.bincount(pop.practice_group, minlength=pop.n_groups)
    areas = np.bincount(pop.area_group, minlength=pop.n_groups)
    agents = np.bincount(pop.group[pop.group >= 0], minlength=pop.n_groups)
    board = np.asarray(pop.board.sum(axis=1)).ravel().astype(int)
    for g, gs in enumerate(spec.groups):
        t.add_row(escape(gs.name), f"{pop.group_population[g]:,}", str(practices[g]),
                  str(areas[g]), localities_source(spec, gs), str(agents[g]), str(board[g]))
    t.add_row("total", f"{pop.group_population.sum():,}", str(practices.sum()), str(areas.sum()),
              "", str(pop.n), "")
    console.print(t)
    if pop.practice_imd is not None and np.isfinite(pop.practice_imd).any():
        console.print(deprivation_table(model))
    counts = pop.counts_by_kind()
    console.print("agents by type: " + ", ".join(f"{KIND_WORDS.get(k, k)} {v:,}"
                                                 for k, v in counts.items()), highlight=False)
    if spec.start is not None:  # calendar time: which months the run records
        from .calendar_time import add_months

        dated = "; ".join(f"{ev.type} {add_months(spec.start, ev.step)} (step {ev.step})"
                          for ev in spec.events)
        console.print(f"calendar: month 0 = {spec.start} … month {spec.steps} = "
                      f"{add_months(spec.start, spec.steps)}"
                      + (f"; events: {dated}" if dated else ""), highlight=False,
                      soft_wrap=True)
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
    st_spec = spec.structure
    if st_spec is not None:
        phi = spec.localities.budget_share if spec.localities.enabled else 0.0
        console.print(f"era: {st_spec.era}; upper bodies: {len(st_spec.bodies)} deciding "
                      f"{st_spec.body_share:.0%} of the budget; groups "
                      f"{1 - st_spec.body_share - phi:.0%}, localities {phi:.0%}",
                      highlight=False)
        seats = np.asarray(pop.body_board.sum(axis=1)).ravel().astype(int)
        for body, n_seats in zip(st_spec.bodies, seats, strict=True):
            console.print(f"  {shown(body.name)}: board of {n_seats}, over "
                          f"{', '.join(shown(g) for g in body.groups)}", highlight=False)
    else:
        console.print("era: ccg (groups decide alone)", highlight=False)
    reorgs = [ev for ev in spec.events if ev.type == "reorganise"]
    for ev in reorgs:
        era = "ccg" if ev.structure is None else ev.structure.era
        console.print(f"  reorganise at step {ev.step} into era {era}", highlight=False)
    deg = model.ties.degree()
    st = Table(title="network at month 0 (overall)")
    st.add_column("statistic", overflow="fold")
    st.add_column("value", justify="right")
    st.add_row("ties", f"{model.ties.m:,}")
    st.add_row("mean degree", f"{deg.mean():.2f}")
    st.add_row("isolates", str(int((deg == 0).sum())))
    for name in ("density", "degree_centralisation", "clustering", "modularity_localities",
                 "ei_index", "board_ties_provider", "board_ties_patient",
                 "board_ties_local_authority"):
        st.add_row(label(name), f"{METRICS[name][0](model)[-1]:.3f}")
    console.print(st)
    console.print("[dim]statistics: docs/metrics.md (in a project made by commnet init too)[/]")


# ----------------------------------------------------------------- experiments
# Thin wrappers: the work is in simulation.experiment.commands.

def _cap_workers(value: int | None) -> int | None:
    """``--workers`` above the cores this process may use is capped to them, with a note
    (each worker is a process holding its own copy of a model)."""
    from .memory import cpu_count

    cores = cpu_count()
    if value is not None and value > cores:
        err.print(f"note: --workers {value} is more than the {cores} core(s) available to "
                  f"this process; using {cores}", highlight=False)
        return cores
    return value


Workers = Annotated[int | None, typer.Option(
    min=1, metavar="N", callback=_cap_workers,
    help="local pool size, or Dask LocalCluster workers (default and most: the cores "
         "available)")]
Executor = Annotated[Literal["local", "dask", "serial"], typer.Option(
    metavar="local|dask|serial",
    help="where runs execute: local (process pool), dask, or serial (this process)")]
Scheduler = Annotated[str | None, typer.Option(
    metavar="ADDRESS",
    help="address of a running Dask scheduler, e.g. tcp://host:8786 (implies --executor dask; "
         "without it --executor dask starts a local cluster)")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar or summary")]


@command("commnet sweep experiments/engagement_by_locality.yaml --workers 2")
def sweep(
    experiment: Annotated[Path, typer.Argument(metavar="EXPERIMENT",
                                               help="experiment YAML file (experiments/*.yaml)")],
    out: Annotated[Path | None, typer.Option(
        metavar="DIR", help="results folder (default: results/NAME, the experiment's name)")] = None,
    workers: Workers = None,
    executor: Executor = "local",
    scheduler: Scheduler = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="continue the experiment in OUT: skip stored runs, run the rest")] = False,
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed", help="with --resume: run the runs recorded as failed again")] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="discard results already in OUT")] = False,
    max_runs: Annotated[int | None, typer.Option(
        min=1, metavar="N", help="stop after this many runs (resume later for the rest)")] = None,
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", metavar="PATH=VALUE",
        help="change the experiment's base scenario, e.g. engagement.gp.mean=0.3 (repeatable; "
             "see docs/parameters.md)")] = None,
    quiet: Quiet = False,
) -> None:
    """Run an experiment's design (grid, cases, Latin hypercube, Sobol, Morris) into OUT.

    Results are stored as each run finishes; after a crash or Ctrl-C, --resume completes the
    rest (with the same --set).  --set changes the base scenario before the design's
    parameters are applied, as `commnet run --set` does.  Exit status: 0 all runs ok, 1 some
    runs failed (recorded with their errors), 2 bad input, 130 interrupted.
    """
    from .experiment.commands import sweep_command

    with scenario_errors():
        code = sweep_command(experiment, out, workers, executor, scheduler, resume,
                             retry_failed, overwrite, max_runs, quiet, console, err,
                             overrides or [])
    raise typer.Exit(code)


@command("commnet compare scenarios/teaching.yaml scenarios/no_localities.yaml")
def compare(
    scenarios: Annotated[list[Path], typer.Argument(
        metavar="SCENARIO", help="scenario files; the first is the reference")],
    replicates: Annotated[int, typer.Option(min=2, metavar="N", help="replicates per scenario")] = 10,
    steps: Annotated[int | None, typer.Option(
        min=1, metavar="MONTHS", help="months (default: the scenario's)")] = None,
    seed: Annotated[int | None, typer.Option(
        metavar="SEED", callback=_check_seed,
        help="root seed shared by all scenarios (default: the first scenario's)")] = None,
    overrides: Overrides = None,
    metric: Annotated[list[str] | None, typer.Option(
        metavar="METRIC",
        help="metric to show (repeatable; 'all' for every one); the CSV has all")] = None,
    reduce: Annotated[Literal["last12", "final"], typer.Option(
        metavar="last12|final",
        help="last12: mean of the last 12 months (the default, as in commnet report); "
             "final: the last month")] = "last12",
    out: Annotated[Path | None, typer.Option(
        metavar="DIR", help="results folder (default: results/compare/ and the names)")] = None,
    workers: Workers = None,
    executor: Executor = "local",
    scheduler: Scheduler = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="continue a comparison stored in OUT")] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="discard results already in OUT")] = False,
    figures: Annotated[bool, typer.Option(help="write the trajectories figure")] = True,
    quiet: Quiet = False,
) -> None:
    """Compare scenarios: mean and 95% CI of each metric, and the difference from the first.

    Each run is reduced to one number per metric by --reduce (default: mean of the last 12
    months), named in the table, in compare.csv's reduction column and in the report.  The
    difference comes with its CI and Hedges' g (table, compare.csv, trajectories.png);
    fewer than 10 replicates, or intervals wider than the differences, draw a warning.
    """
    from .experiment.commands import compare_command

    with scenario_errors():
        code = compare_command(scenarios, replicates, steps, seed, overrides or [], metric,
                               reduce, out, workers, executor, scheduler, resume, overwrite,
                               figures, quiet, console, err)
    raise typer.Exit(code)


def _check_replicates(value: str) -> str:
    v = value.strip()
    if v.lower() == "auto":
        return "auto"
    # the length first: int() of a string over 4,300 digits raises ValueError
    if not (v.isascii() and v.isdigit()) or len(v.lstrip("0")) > 9 or int(v) < 2:
        raise typer.BadParameter(f"{_text.value(value)} is neither 'auto' nor a count from 2 "
                                 "to 999,999,999")
    return v


@command("commnet patterns --replicates auto --roots 3 --workers 2")
def patterns(
    replicates: Annotated[str, typer.Option(
        metavar="N|auto", callback=_check_replicates,
        help="paired replicates per arm and root seed, or auto: add pairs in batches until "
             "every judged row is decided (or --max-replicates)")] = "30",
    roots: Annotated[str | None, typer.Option(
        metavar="K|SEEDS",
        help="root seeds pooled: a count K (--seed and K−1 spawned from it) or a list "
             "2013,9173 (default: --seed alone)")] = None,
    max_replicates: Annotated[int, typer.Option(
        min=2, metavar="N", help="with --replicates auto: most pairs per row, all roots")] = 300,
    robustness: Annotated[int, typer.Option(
        min=0, metavar="K",
        help="Latin-hypercube points over the uncertain parameters (0 = none)")] = 0,
    robustness_replicates: Annotated[int, typer.Option(
        "--robustness-reps", min=2, metavar="N",
        help="paired replicates per arm at each hypercube point")] = 5,
    workers: Workers = None,
    seed: Annotated[int, typer.Option(
        metavar="SEED", callback=_check_seed, help="root seed of the replicate seeds")] = 2013,
    scale: Annotated[float, typer.Option(
        min=0.01, max=1.0, metavar="FRACTION", help="population scale of every arm")] = 1.0,
    steps: Annotated[int | None, typer.Option(
        min=37, metavar="MONTHS", help="months (default: 60)")] = None,
    only: Annotated[list[str] | None, typer.Option(
        metavar="KEY", help="pattern key to run (repeatable; e.g. 1, 2-shock, A1)")] = None,
    out: Annotated[Path, typer.Option(metavar="DIR", help="output folder")] = Path("results/patterns"),
    quiet: Quiet = False,
) -> None:
    """Run the brief's six patterns and the ablations as paired comparisons.

    Common random numbers: every arm has the same replicate seeds, pooled over the root
    seeds.  Each judged row gets a verdict (holds, reversed, no effect within the metric's
    margin, inconclusive) and its minimum detectable effect.  Writes a table, patterns.csv
    and patterns.png; --robustness K adds the share of a Latin hypercube over the uncertain
    parameters in which each pattern holds.
    """
    from .experiment.patterns import patterns_command

    with scenario_errors():
        code = patterns_command(replicates, robustness, robustness_replicates, workers, seed,
                                scale, steps, out, only or [], quiet, console, err,
                                roots=roots, max_replicates=max_replicates)
    raise typer.Exit(code)


@command("commnet routes scenarios/east_of_england_2013.yaml --workers 2")
def routes(
    scenario: Annotated[Path, typer.Argument(metavar="SCENARIO", help="scenario YAML file")],
    replicates: Annotated[int, typer.Option(
        min=2, metavar="N", help="replicates (each runs all 32 route combinations)")] = 10,
    seed: Annotated[int | None, typer.Option(
        metavar="SEED", callback=_check_seed,
        help="root seed of the replicate seeds (default: the scenario's)")] = None,
    out: Annotated[Path | None, typer.Option(
        metavar="DIR", help="output folder (default: results/routes/NAME)")] = None,
    workers: Workers = None,
    scale: Annotated[float, typer.Option(
        min=0.01, max=1.0, metavar="FRACTION", help="population scale")] = 1.0,
    steps: Annotated[int | None, typer.Option(
        min=12, metavar="MONTHS", help="months (default: the scenario's)")] = None,
    data_sensitivity: Annotated[bool, typer.Option(
        "--data-sensitivity",
        help="repeat with observation.data_lag and observation.activity_supply_share at the "
             "ends of their plausible ranges (routes_sensitivity.csv)")] = False,
    quiet: Quiet = False,
) -> None:
    """Where the board's knowledge comes from: Shapley shares of the five knowledge routes.

    Every combination of observation, activity data, informal ties, locality meetings and
    GP board seats runs with the same replicate seeds; each route's share of decision skill
    and of £ misallocated per head (last 12 months) comes with a 95% CI.  Writes routes.csv,
    routes_coalitions.csv, routes.png and manifest.json.
    """
    from .experiment.routes import routes_command

    with scenario_errors():
        code = routes_command(scenario, replicates, seed, out, workers, scale, steps,
                              data_sensitivity, quiet, console, err)
    raise typer.Exit(code)


@command("commnet calibrate calibration/gp_survey_2015.yaml --workers 2")
def calibrate(
    calibration: Annotated[Path, typer.Argument(
        metavar="CALIBRATION", help="calibration YAML file (calibration/*.yaml)")],
    out: Annotated[Path | None, typer.Option(
        metavar="DIR", help="output folder (default: results/calibration/NAME)")] = None,
    workers: Workers = None,
    executor: Executor = "local",
    scheduler: Scheduler = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="continue the calibration stored in OUT")] = False,
    generations: Annotated[int | None, typer.Option(
        min=1, metavar="N", help="ABC-SMC generations (default: the file's)")] = None,
    population_size: Annotated[int | None, typer.Option(
        min=10, metavar="N", help="particles per generation (default: the file's)")] = None,
    quiet: Quiet = False,
) -> None:
    """Fit parameters to published figures with ABC-SMC (pyabc).

    Writes posterior.parquet, predictive.csv, identification.csv, calibration.png and a
    calibrated scenario in OUT.
    """
    import time

    from .experiment.calibrate import calibrate as run_calibration
    from .experiment.calibrate import load_calibration

    with scenario_errors():
        spec = load_calibration(calibration)[0]
        out = out or Path("results") / "calibration" / _text.folder_name(
            spec.name, Path(calibration).stem)
        t0 = time.perf_counter()
        if not quiet:
            console.print(f"[bold]{shown(spec.name)}[/]: {len(spec.parameters)} parameters, "
                          f"{len(spec.targets)} targets, ABC-SMC with "
                          f"{population_size or spec.abc.population_size} particles × "
                          f"{generations or spec.abc.generations} generations → {out}",
                          highlight=False)
        res = run_calibration(calibration, out, workers=workers, executor=executor,
                              scheduler=scheduler, resume=resume, generations=generations,
                              population_size=population_size)
    if not quiet:
        table = Table(title=f"targets vs posterior predictive ({res['evaluations']} model runs, "
                            f"{res['generations']} generations, {time.perf_counter() - t0:.0f} s)")
        for col in ("target", "", "observed", "predicted", "90% interval", "covered"):
            table.add_column(col)
        for r in res["predictive"].itertuples():
            table.add_row(r.target, "held out" if r.held_out else "fitted", f"{r.observed:.3f}",
                          f"{r.predicted_median:.3f}",
                          f"{r.predicted_q05:.3f} – {r.predicted_q95:.3f}",
                          "yes" if r.covered else "no")
        console.print(table)
        table = Table(title="posterior (width = 90% interval / 90% of prior, sd ratio = "
                            "posterior sd / prior sd; ≈1: not identified)")
        for col in ("parameter", "median", "90% interval", "width", "sd ratio"):
            table.add_column(col)
        for r in res["identification"].itertuples():
            table.add_row(r.parameter, f"{r.median:.4g}", f"{r.q05:.4g} – {r.q95:.4g}",
                          f"{r.width_ratio:.2f}", f"{r.sd_ratio:.2f}")
        console.print(table)
        console.print(f"calibrated scenario: [bold]{shown(res['scenario'])}[/]")


@command("commnet sensitivity results/sobol_key_parameters")
def sensitivity(
    results: Annotated[Path, typer.Argument(
        metavar="RESULTS", help="results folder of a sobol or morris sweep")],
    outcome: Annotated[list[str] | None, typer.Option(
        metavar="OUTCOME", help="outcome to analyse (repeatable; default: all recorded)")] = None,
    group: Annotated[str, typer.Option(
        metavar="GROUP", help="group whose outcomes are analysed")] = "overall",
    out: Annotated[Path | None, typer.Option(
        metavar="DIR", help="output folder (default: RESULTS/sensitivity)")] = None,
    resamples: Annotated[int, typer.Option(
        min=10, metavar="N", help="bootstrap resamples for CIs")] = 1000,
    figures: Annotated[bool, typer.Option(help="write a bar chart per outcome")] = True,
    quiet: Quiet = False,
) -> None:
    """Sobol S1/ST (or Morris mu*/sigma) indices with 95% CIs: table, CSV and bar charts.

    RESULTS is the folder a sobol or morris sweep wrote (results/NAME by default).
    """
    from .experiment.commands import sensitivity_command

    with scenario_errors():
        code = sensitivity_command(results, outcome, group, out, resamples, figures, quiet,
                                   console)
    raise typer.Exit(code)


@command("commnet report results/east_of_england_2013")
def report(
    folder: Annotated[Path, typer.Argument(
        metavar="FOLDER", help="results folder: run, compare, sweep or calibration")],
    out: Annotated[Path | None, typer.Option(
        metavar="FILE", help="HTML file (default: FOLDER/report.html)")] = None,
) -> None:
    """One self-contained HTML report of a results folder: question, assumptions, results with
    units and intervals, caveats, provenance.
    """
    from .report import write_report

    with scenario_errors():  # an --out that cannot be written is a ScenarioError too
        path = write_report(folder, out)
    from .report import damaged_parts

    for note in damaged_parts(folder):
        err.print(f"note: {shown(note, 600)}", highlight=False)
    console.print(f"report: [bold]{shown(path)}[/] ({path.stat().st_size / 1e6:.1f} MB, "
                  "self-contained)", highlight=False)


@command("commnet discover results/discovery_accuracy --outcome accuracy_board__last12 "
         "--below 0.962")
def discover(
    results: Annotated[Path, typer.Argument(metavar="RESULTS", help="results folder of a sweep")],
    outcome: Annotated[str, typer.Option(
        metavar="NAME", help="outcome column (manifest.json lists them)")],
    below: Annotated[float | None, typer.Option(
        metavar="X", help="cases of interest: outcome < X")] = None,
    above: Annotated[float | None, typer.Option(
        metavar="X", help="cases of interest: outcome > X")] = None,
    over: Annotated[Literal["uncertainties", "levers", "all"], typer.Option(
        metavar="uncertainties|levers|all",
        help="parameters the boxes may restrict")] = "uncertainties",
    per: Annotated[Literal["point", "run"], typer.Option(
        metavar="point|run",
        help="a case is a design point (mean over replicates) or a run")] = "point",
    group: Annotated[str, typer.Option(metavar="GROUP", help="group whose outcome is used")] = "overall",
    box: Annotated[int | None, typer.Option(
        metavar="N", help="report this box of the peeling trajectory (default: the knee)")] = None,
    min_coverage: Annotated[float | None, typer.Option(
        metavar="C", help="report the densest box with at least this coverage")] = None,
    peel_alpha: Annotated[float, typer.Option(
        metavar="A", help="PRIM: share peeled per step")] = 0.05,
    mass_min: Annotated[float, typer.Option(
        metavar="M", help="PRIM: smallest box; CART: smallest leaf (share of cases)")] = 0.05,
    out: Annotated[Path | None, typer.Option(
        metavar="DIR", help="output folder (default: RESULTS/discover)")] = None,
    figures: Annotated[bool, typer.Option(help="write tradeoff.png")] = True,
    quiet: Quiet = False,
) -> None:
    """Scenario discovery (EMA Workbench PRIM and CART): which parameter ranges make the
    outcome fall below (or rise above) a threshold. Writes boxes.csv, trajectory.csv,
    cart.csv, tradeoff.png and manifest.json in RESULTS/discover.
    """
    from .experiment.discover import discover_command

    with scenario_errors():
        code = discover_command(results, outcome, below, above, over, group, per, box,
                                min_coverage, peel_alpha, mass_min, out, figures, quiet,
                                console)
    raise typer.Exit(code)


@command("commnet init my_project")
def init(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="new project folder")],
) -> None:
    """Start a project: copy the shipped scenarios, experiments, calibration, data, notebooks
    and docs into DIR.

    DIR may exist, but no file in it is replaced.  The docs that help texts and reports
    point to (docs/parameters.md, docs/metrics.md, docs/ODD.md) are in DIR/docs.  Then,
    inside DIR: commnet validate scenarios/teaching.yaml, commnet run scenarios/teaching.yaml.
    """
    from .project import init_project

    with scenario_errors():
        written = init_project(folder)
    folders = sorted({p.relative_to(folder).parts[0] for p in written})
    console.print(f"{len(written)} files in {shown(folder)} "
                  f"({', '.join(f + '/' for f in folders)})", highlight=False, soft_wrap=True)
    console.print(f"next: cd {shown(folder)} && commnet run scenarios/teaching.yaml --steps 12",
                  highlight=False, soft_wrap=True)


#: modules of the ``app`` extra the server imports (solara-server brings uvicorn/starlette)
APP_MODULES = ("solara", "uvicorn", "starlette", "ipyvuetify", "ipyvue")


def _missing_app_modules() -> list[str]:
    """The modules of the ``app`` extra that cannot be imported (empty when installed).

    The server runs in a child process, so without this check a missing module would end
    there as a traceback; ``uvicorn`` and ``starlette`` are imported (cheap, and a module that
    exists but fails to import counts as missing), the others only looked up.
    """
    import importlib
    import importlib.util

    missing = []
    for name in APP_MODULES:
        try:
            if name in ("uvicorn", "starlette"):
                importlib.import_module(name)
            elif importlib.util.find_spec(name) is None:
                missing.append(name)
        except ImportError:
            missing.append(name)
    return missing


@command("commnet app scenarios/teaching.yaml --no-browser", name="app")
def app_command(
    scenario: Annotated[Path | None, typer.Argument(
        metavar="SCENARIO", help="scenario YAML (default: teaching)")] = None,
    port: Annotated[int, typer.Option(metavar="PORT", help="port of the local server")] = 8765,
    host: Annotated[str, typer.Option(metavar="HOST", help="address to listen on; 0.0.0.0 serves "
                                      "a classroom network and prints the addresses students "
                                      "type")] = "127.0.0.1",
    browser: Annotated[bool, typer.Option(help="open a browser window")] = True,
) -> None:
    """Open the teaching app (Solara, works offline) in the browser."""
    missing = _missing_app_modules()
    if missing:
        err.print(f"error: the teaching app needs the app extra, which is not installed "
                  f"(no module {', '.join(missing)}): pip install 'commnet[app]' "
                  "(in a source checkout: pip install -e '.[app]')",
                  highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2)
    from .app.launch import launch

    with scenario_errors():
        code = launch(str(scenario) if scenario else None, port, host, open_browser=browser)
    raise typer.Exit(code or 0)


@command("commnet classroom scenarios/teaching.yaml --seats 30  |  commnet classroom debrief "
         "results/classroom/SESSION")
def classroom(
    target: Annotated[str, typer.Argument(
        metavar="SCENARIO|debrief", help="the lesson's scenario, or 'debrief'")],
    folder: Annotated[str | None, typer.Argument(
        metavar="FOLDER", help="with debrief: the session folder")] = None,
    seats: Annotated[int, typer.Option(min=1, metavar="N", help="seats for students")] = 30,
    host: Annotated[str, typer.Option(
        metavar="HOST", help="address to listen on (0.0.0.0: the classroom network)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="port")] = 8770,
    months: Annotated[int | None, typer.Option(
        min=1, metavar="MONTHS", help="months in the lesson (default: the scenario's)")] = None,
    seed: Annotated[int | None, typer.Option(
        metavar="SEED", callback=_check_seed, help="seed (default: the scenario's)")] = None,
    out: Annotated[Path | None, typer.Option(
        metavar="DIR", help="session folder (default results/classroom/<time>)")] = None,
    replicates: Annotated[int, typer.Option(
        min=2, metavar="N", help="with debrief: replicates per scenario")] = 10,
    workers: Workers = None,
) -> None:
    """The commissioning game: every student takes a seat in one shared run.

    Prints the facilitator's link (keep it private) and the join address and code for the
    students.  'commnet classroom debrief FOLDER' turns a lesson's logged decisions into
    behaviour parameters and compares them with the scenario (see docs/classroom.md).
    """
    from .classroom.commands import classroom_command

    with scenario_errors():
        code = classroom_command(target, folder, seats, host, port, months, seed, out,
                                 replicates, workers, console, err)
    raise typer.Exit(code)
#: What a failed allocation says (exit 2).
MEMORY_ADVICE = ("out of memory: this machine, or a limit on this process (ulimit -v, a "
                 "container's or batch job's memory limit), did not allow the memory the run "
                 "needs; reduce `scale`, the groups, the steps or --workers, or run where more "
                 "memory is available")


def main() -> None:
    """Console-script entry point."""
    try:
        app(prog_name="commnet")
    except MemoryError:  # numpy's _ArrayMemoryError too: anywhere, the usual clean error
        err.print(f"[bold red]error[/]: {MEMORY_ADVICE}", highlight=False)
        sys.exit(2)
    except Exception as exc:  # pragma: no cover - commands catch their own ScenarioError
        loader = sys.modules.get("simulation.loader")
        if loader is None or not isinstance(exc, loader.ScenarioError):
            raise
        err.print(f"error: {escape(problem_lines(exc))}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
