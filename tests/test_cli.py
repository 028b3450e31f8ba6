"""The command line: start-up imports, help, version, overwrite guard, documented commands."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"

HEAVY = ("mesa", "pandas", "pyarrow", "scipy", "networkx", "matplotlib", "SALib", "dask")


def _modules_after(code: str) -> set[str]:
    """Top-level modules in sys.modules after running ``code`` in a fresh interpreter."""
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_importing_the_cli_loads_no_heavy_module():
    loaded = _modules_after("import simulation.cli")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    assert "numpy" not in loaded and "pydantic" not in loaded


def test_importing_the_package_is_lazy_and_keeps_its_public_names():
    loaded = _modules_after("import simulation")
    assert not loaded & {*HEAVY, "numpy"}, sorted(loaded & {*HEAVY, "numpy"})
    import simulation

    assert sorted(simulation.__all__) == sorted(simulation._LAZY)
    for name in simulation.__all__:  # every public name resolves to the real object
        obj = getattr(simulation, name)
        module = sys.modules[f"simulation.{simulation._LAZY[name]}"]
        assert obj is getattr(module, name)
    assert set(simulation.__all__) <= set(dir(simulation))


def test_submodule_import_still_works_through_the_lazy_package():
    from simulation import needs

    assert needs.__name__ == "simulation.needs"


def test_validating_a_scenario_needs_no_numpy_or_heavy_module():
    loaded = _modules_after(
        "from simulation.loader import load_scenario\n"
        f"load_scenario({str(SCENARIOS / 'teaching.yaml')!r})")
    assert not loaded & {*HEAVY, "numpy"}, sorted(loaded & {*HEAVY, "numpy"})


def test_unknown_package_attribute_is_an_attribute_error():
    import pytest

    import simulation

    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        simulation.nonexistent  # noqa: B018


# ------------------------------------------------------------------ help at 80 columns

COMMANDS = ["run", "validate", "describe", "sweep", "compare", "patterns", "routes",
            "calibrate", "sensitivity", "init", "app"]
TYPE_TAG = r"<(bool|int|float|str|path|list\[\w+\]|int range|float range|choice)>"


def _help(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "simulation.cli", *args, "--help"],
                          capture_output=True, text=True, cwd=ROOT, check=True,
                          env={**_env(), "COLUMNS": "80"})
    return proc.stdout


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.pop("FORCE_COLOR", None)
    env["NO_COLOR"] = "1"
    return env


def _words(cmd) -> set[str]:
    """Every word the help of a click command should show whole."""
    words = set((cmd.help or "").split()) | set((cmd.epilog or "").replace("\b", "").split())
    for p in cmd.params:
        words |= set((getattr(p, "help", None) or "").split())
        words |= {o for o in [*p.opts, *p.secondary_opts] if o.startswith("--")}
        if p.metavar:
            words.add(p.metavar)
    return words


def test_help_at_80_columns_cuts_no_word_and_shows_no_type_tags():
    import re

    import typer

    from simulation.cli import app

    group = typer.main.get_command(app)
    for name in [None, *COMMANDS]:
        text = _help(*([name] if name else []))
        assert "…" not in text, (name, text)
        assert not re.search(TYPE_TAG, text), (name, re.findall(TYPE_TAG, text))
        assert all(len(line) <= 80 for line in text.splitlines()), name
        cmd = group if name is None else group.commands[name]
        flat = " ".join(text.split())
        missing = sorted(w for w in _words(cmd) if w not in flat)
        assert not missing, (name, missing)
        assert "Example: commnet" in text, name
        # an example is one line, so it can be copied as it stands
        example = cmd.epilog.removeprefix("\b\n").removeprefix("Example: ")
        assert any(example in line for line in text.splitlines()), (name, example)


def test_choices_are_listed_and_checked():
    text = _help("sweep")
    assert "local|dask|serial" in text
    assert "last12|final" in _help("compare")
    proc = subprocess.run([sys.executable, "-m", "simulation.cli", "sweep",
                           "experiments/engagement_by_locality.yaml", "--executor", "mpi"],
                          capture_output=True, text=True, cwd=ROOT, check=False, env=_env())
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "local" in proc.stderr and "serial" in proc.stderr


def test_version_names_commnet_mesa_and_numpy():
    from importlib import metadata

    import simulation

    proc = subprocess.run([sys.executable, "-m", "simulation.cli", "--version"],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    assert proc.stdout.startswith(f"commnet {simulation.__version__} ")
    assert f"Mesa {metadata.version('mesa')}" in proc.stdout
    assert f"numpy {metadata.version('numpy')}" in proc.stdout


def test_progress_columns_fit_80_columns():
    from rich.console import Console

    from simulation.cli import _progress

    console = Console(width=80, record=True, force_terminal=False)
    with _progress(console, quiet=True) as bar:
        task = bar.add_task("east_of_england_2013_with_a_long_name", total=12_000)
        bar.advance(task, 3_456)
        console.print(bar.make_tasks_table(bar.tasks))
    text = console.export_text()
    assert "3456/12000" in text and "…" not in text


# -------------------------------------------------------------- run: the results folder

def _run(*args: str):
    from typer.testing import CliRunner

    from simulation.cli import app

    return CliRunner().invoke(app, ["run", *args, "--steps", "3", "-q"])


def test_run_refuses_another_scenario_or_other_overrides_unless_overwrite(tiny_path, tmp_path):
    out = tmp_path / "o"
    first = _run(str(tiny_path), "--out", str(out), "--no-figures")
    assert first.exit_code == 0, first.output
    # the summary table at 80 columns (the test console's width): names whole, nothing cut
    assert "…" not in first.output and "misallocated_per_head" in first.output
    again = _run(str(tiny_path), "--out", str(out), "--no-figures", "--seed", "9")
    assert again.exit_code == 0, again.output  # same scenario and overrides: a re-run
    other = _run(str(tiny_path), "--out", str(out), "--no-figures",
                 "--set", "engagement.gp.mean=0.3")
    assert other.exit_code == 2
    assert "another scenario or other overrides" in other.output and "--overwrite" in other.output
    forced = _run(str(tiny_path), "--out", str(out), "--no-figures",
                  "--set", "engagement.gp.mean=0.3", "--overwrite")
    assert forced.exit_code == 0, forced.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["overrides"] == ["engagement.gp.mean=0.3"]
    teaching = _run(str(SCENARIOS / "teaching.yaml"), "--out", str(out), "--no-figures")
    assert teaching.exit_code == 2 and "tiny" in teaching.output


def test_run_refuses_a_folder_that_is_not_a_run(tiny_path, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    res = _run(str(tiny_path), "--out", str(out))
    assert res.exit_code == 2 and "no manifest.json" in res.output
    assert (out / "notes.txt").exists() and not (out / "timeseries.parquet").exists()


def test_run_removes_figures_it_did_not_write(tiny_path, tmp_path):
    out = tmp_path / "o"
    assert _run(str(tiny_path), "--out", str(out)).exit_code == 0
    assert (out / "trajectories.png").exists() and (out / "network.png").exists()
    (out / "keep.txt").write_text("not a run file")
    res = _run(str(tiny_path), "--out", str(out), "--no-figures")
    assert res.exit_code == 0, res.output
    assert not list(out.glob("*.png"))
    assert (out / "keep.txt").exists() and (out / "timeseries.parquet").exists()


# ---------------------------------------------- the commands in README.md and docs/*.md

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def documented_commands() -> list[tuple[str, int, list[str]]]:
    """``(file, line, argv)`` of every ``commnet ...`` line in a fenced code block."""
    import glob
    import shlex

    found = []
    for doc in DOCS:
        fenced = False
        for i, line in enumerate(doc.read_text().splitlines(), 1):
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            text = line.split(" #")[0].strip()
            if fenced and text.startswith("commnet "):
                argv = []
                for word in shlex.split(text)[1:]:
                    hits = sorted(glob.glob(word, root_dir=ROOT)) if "*" in word else []
                    argv += hits or [word]
                found.append((doc.name, i, argv))
    return found


def _option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def _set_option(argv: list[str], name: str, value: str | None) -> list[str]:
    """``argv`` with option ``name`` set to ``value`` (dropped when ``value`` is None)."""
    out, skip = [], False
    for i, word in enumerate(argv):
        if skip:
            skip = False
            continue
        if word == name:
            skip = i + 1 < len(argv)
            continue
        out.append(word)
    return out + ([name, value] if value is not None else [])


def _experiment_name(path: str) -> str:
    import yaml

    return yaml.safe_load((ROOT / path).read_text())["name"]


def test_documented_commands_parse_and_name_existing_files():
    """Every documented command parses (command, options, values, choices) and its files
    exist -- or, for a results folder, were written by a command documented before it."""
    import typer

    from simulation.cli import app

    group = typer.main.get_command(app)
    commands = documented_commands()
    assert len(commands) >= 15
    written: dict[str, set[str]] = {}
    for doc, line, argv in commands:
        where = f"{doc}:{line}: commnet {' '.join(argv)}"
        assert argv[0] in group.commands, where
        cmd = group.commands[argv[0]]
        ctx = group.make_context("commnet", [argv[0]], resilient_parsing=True)
        cmd.make_context(argv[0], list(argv[1:]), parent=ctx)  # raises on a bad option/value
        outs = written.setdefault(doc, set())
        if argv[0] == "sweep":
            outs.add(_option(argv, "--out") or f"results/{_experiment_name(argv[1])}")
        for word in argv[1:]:
            if word.endswith((".yaml", ".csv")):
                assert (ROOT / word).is_file(), f"{where}: no file {word}"
        if argv[0] == "sensitivity":
            assert argv[1] in outs, f"{where}: no documented sweep writes {argv[1]}"


def _cheap(argv: list[str]) -> list[str] | None:
    """The documented command at a small size, or None if it is not run by the test."""
    name = argv[0]
    if name in ("validate", "init"):
        return argv
    if name == "describe" and argv[1].endswith("teaching.yaml"):
        return argv
    if name == "run":
        argv = _set_option(_set_option(argv, "--steps", "3"), "--replicates", "1")
        return [*argv, "--quiet"]
    if name == "compare":
        argv = _set_option(_set_option(argv, "--replicates", "2"), "--steps", "3")
        argv = _set_option(_set_option(argv, "--workers", None), "--executor", "serial")
        return [*argv, "--quiet", "--no-figures"]
    if name == "sweep" and "--resume" not in argv and "--scheduler" not in argv:
        argv = _set_option(_set_option(argv, "--workers", None), "--executor", "serial")
        return _set_option([*argv, "--quiet"], "--max-runs", "2")
    return None


def test_documented_commands_run_at_small_sizes(tmp_path, monkeypatch):
    """The cheap documented commands run (small --steps/--replicates, 2 sweep runs) in a
    scratch project folder with the repository's scenarios and experiments."""
    from typer.testing import CliRunner

    from simulation.cli import app

    for folder in ("scenarios", "experiments", "calibration", "data"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    monkeypatch.chdir(tmp_path)
    ran, seen = [], set()
    for doc, line, argv in documented_commands():
        small = _cheap(argv)
        if small is None or tuple(small) in seen:
            continue
        seen.add(tuple(small))
        res = CliRunner().invoke(app, small)
        assert res.exit_code == 0, f"{doc}:{line}: commnet {' '.join(small)}\n{res.output}"
        ran.append(small[0])
    assert {"run", "validate", "compare", "sweep", "init"} <= set(ran), ran


def test_describe_prints_human_labels_not_raw_ids():
    """issue 21: describe printed raw metric ids and stakeholder codes."""
    from typer.testing import CliRunner

    from simulation.cli import app

    res = CliRunner().invoke(app, ["describe", str(ROOT / "scenarios" / "teaching.yaml")])
    assert res.exit_code == 0, res.output
    for words in ("Network density (0–1)", "Board ties to local authorities", "GPs",
                  "local-authority staff", "patient representatives and lay members"):
        assert words in res.output, words
    for raw in ("degree_centralisation", "board_ties_provider", "local_authority ",
                "modularity_localities"):
        assert raw not in res.output, raw
