"""Hostile input: every bad file or value is a clean ScenarioError (exit 2), never a crash."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulation.loader import MAX_FILE_BYTES, ScenarioError, load_scenario, safe_yaml
from simulation.model import CommissioningModel

ROOT = Path(__file__).resolve().parents[1]
TEACHING = ROOT / "scenarios" / "teaching.yaml"


def _cli(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "simulation.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout, check=False)


@pytest.mark.parametrize("text, message", [
    ("name: a\nname: b\n", "duplicate key 'name'"),
    ("a: " + "[" * 100 + "]" * 100 + "\n", "nested more than 32 levels"),
    ("!!python/object/apply:os.system ['true']\n", "not valid YAML"),
    ("name: a\nseed: !!timestamp x\n", "line 2, column 7: cannot read this value as !!timestamp"),
    ("name: a\nseed: !!map [1]\n", "line 2, column 7: !!map needs a mapping, but found a sequence"),
    ("name: a\nseed: !!int abc\n", "line 2, column 7: cannot read this value as !!int"),
])
def test_bad_yaml_files(tmp_path, text, message):
    p = tmp_path / "s.yaml"
    p.write_text(text)
    with pytest.raises(ScenarioError, match=message):
        load_scenario(p)


def test_special_and_huge_files_are_refused_without_reading(tmp_path):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ScenarioError, match="not a regular file"):
        load_scenario(fifo)  # would hang if opened
    with pytest.raises(ScenarioError, match="not a regular file"):
        load_scenario("/dev/zero")
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(ScenarioError, match="file too large"):
        load_scenario(big)
    with pytest.raises(ScenarioError, match="cannot read file"):
        load_scenario(tmp_path / ("x" * 5000 + ".yaml"))


@pytest.mark.parametrize("override, message", [
    ("exchange.rate=true", "a boolean, where a number is meant"),
    ("steps=false", "a boolean, where a number is meant"),
    ("need.baseline=[.inf, 1, 1, 1, 1, 1]", "finite number"),
    ("decisions.budget_per_head=.nan", "finite number"),
    ("seed=null", "valid integer"),
    ("steps=" + "[" * 60 + "]" * 60, "nested more than 32 levels"),
])
def test_bad_overrides(override, message):
    with pytest.raises(ScenarioError, match=message):
        load_scenario(TEACHING, [override])


def test_set_changes_only_the_field_it_names():
    base = load_scenario(TEACHING)
    s = load_scenario(TEACHING, ["engagement.gp.mean=0.3"])
    assert s.engagement.gp.mean == 0.3 and s.engagement.gp.sd == base.engagement.gp.sd
    assert s.model_dump(exclude={"engagement"}) == base.model_dump(exclude={"engagement"})


@pytest.mark.parametrize("args", [("--seed", "-1"), ("--steps", "0"), ("--steps", "-1")])
def test_cli_refuses_out_of_range_options(tmp_path, args):
    proc = _cli("run", str(TEACHING), *args, "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "o").exists()


def test_safe_yaml_keeps_plain_values():
    assert safe_yaml("a: [1, 2.5, x]\nb: {c: true}\n") == {"a": [1, 2.5, "x"], "b": {"c": True}}


# ------------------------------------------------------------------ property-based fuzzing
BASE = yaml.safe_load(TEACHING.read_text())
PATHS = ["steps", "seed", "scale", "burn_in", "exchange.rate", "exchange.rule",
         "network.gp_ties_in_locality", "ties.capacity", "decisions.max_shift",
         "localities.count", "localities.enabled", "engagement.gp.mean", "need.drift_sd",
         "observation.data_lag", "turnover.annual_rate", "groups.0.population",
         "groups.0.practices.count", "decisions.interval"]
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
    st.text(max_size=8), st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), VALUES), min_size=1, max_size=3))
def test_fuzzed_overrides_are_accepted_and_run_or_refused_cleanly(changes):
    overrides = [f"{path}={yaml.safe_dump(value, default_flow_style=True).strip()}"
                 .replace("\n...", "") for path, value in changes]
    try:
        s = load_scenario(TEACHING, overrides)
    except ScenarioError as exc:
        assert str(exc)  # a message, not a crash
        return
    small = s.model_copy(update={"steps": min(s.steps, 2), "burn_in": min(s.burn_in, 2),
                                 "scale": min(s.scale, 0.3)})
    m = CommissioningModel(small, collect=True)
    for _ in range(small.steps):
        m.step()


# ------------------------------------------------------------------ extends, sizes, YAML 1.1 words
TINY_GROUPS = ("groups:\n  - {name: A, population: 60000, practices: {count: 8}, "
               "localities: {count: 2}, commissioning_managers: 4}\n")


@pytest.mark.parametrize("target, message", [
    ("/etc/hosts.yaml", "must be a path relative to this file's folder"),
    ("/etc/passwd", "must name a .yaml or .yml file"),
    ("base.txt", "must name a .yaml or .yml file"),
    ("~/base.yaml", "must be a path relative"),
    ("../../../../../../../../etc/base.yaml", "lies outside the scenario's folder tree"),
    ("x" * 5000 + ".yaml", "not a usable file name"),
    ("nothere.yaml", "base file 'nothere.yaml' not found"),
    ("sub", "must name a .yaml or .yml file"),
    ("[1, 2]", "must be a file name"),
])
def test_extends_is_restricted_to_yaml_files_in_the_scenario_tree(tmp_path, target, message):
    folder = tmp_path / "study" / "variants"
    folder.mkdir(parents=True)
    (folder / "sub").mkdir()
    child = folder / "v.yaml"
    child.write_text(f"extends: {target}\nname: v\n")
    with pytest.raises(ScenarioError, match=message) as info:
        load_scenario(child)
    assert str(info.value).startswith(f"{child}: extends: ")


def test_extends_may_reach_a_sibling_folder_and_errors_name_the_including_file(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "variants").mkdir()
    base = tmp_path / "base" / "b.yaml"
    base.write_text("name: b\n" + TINY_GROUPS)
    child = tmp_path / "variants" / "v.yaml"
    child.write_text("extends: ../base/b.yaml\nname: v\n")
    assert load_scenario(child).name == "v"
    base.write_text("name: b\nname: c\n")  # a broken base: the message says who pointed there
    with pytest.raises(ScenarioError) as info:
        load_scenario(child)
    text = str(info.value)
    assert text.startswith(f"{child}: extends: base file {base}") and "duplicate key" in text


def test_extends_inside_the_project_from_a_results_folder():
    # a calibrated scenario written under results/ extends ../../scenarios/<base>.yaml
    from simulation.loader import extends_root
    assert extends_root(ROOT / "results" / "x" / "c.yaml") == ROOT
    assert extends_root(TEACHING) == ROOT


def test_more_localities_than_practices_is_an_error(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: s\n" + TINY_GROUPS.replace("localities: {count: 2}", "localities: {count: 9}"))
    with pytest.raises(ScenarioError, match=r"groups\[0\]: localities.count is 9 but the group has 8 "
                                            r"practices"):
        load_scenario(p)


@pytest.mark.parametrize("extra, message", [
    ("seed: null", "seed must be a non-negative integer"),
    ("seed: .inf", "seed must be a non-negative integer"),
    ("seed: -3", "seed must be a non-negative integer"),
    ("seed: true", "seed must be a non-negative integer"),
])
def test_generate_refuses_bad_seeds(tmp_path, extra, message):
    p = tmp_path / "g.yaml"
    p.write_text(f"name: g\n{extra}\ngenerate: {{groups: 3, population: {{total: 600000}}}}\n")
    with pytest.raises(ScenarioError, match=message):
        load_scenario(p)


@pytest.mark.parametrize("rule", ["localities_min: 100000000000000000000000",
                                  "la_max_span: 10000000000000000000000", "provider_staff: 1000000000"])
def test_generate_bounds_its_rules(tmp_path, rule):
    p = tmp_path / "g.yaml"
    p.write_text(f"name: g\ngenerate: {{groups: 3, population: {{total: 600000}}, {rule}}}\n")
    with pytest.raises(ScenarioError, match="less than or equal"):
        load_scenario(p)


def test_generated_localities_never_exceed_practices(tmp_path):
    p = tmp_path / "g.yaml"
    p.write_text("name: g\ngenerate: {groups: 3, population: {total: 600000}, mean_list_size: 100000, "
                 "localities_min: 5, localities_max: 8}\n")
    s = load_scenario(p)
    assert all(g.localities.count <= g.practices.count for g in s.groups)


def test_dense_network_is_refused_before_allocation_with_the_estimate(monkeypatch):
    # the estimate counts the generated informal ties: 100 + 100 per GP and 100 per manager
    from simulation import loader
    dense = ["network.gp_ties_in_locality=100", "network.gp_ties_across_localities=100",
             "network.manager_ties=100"]
    sparse_need = loader.estimate_memory(load_scenario(TEACHING, check_memory=False))
    dense_need = loader.estimate_memory(load_scenario(TEACHING, dense, check_memory=False))
    assert dense_need > sparse_need
    monkeypatch.setattr(loader, "available_memory", lambda: (sparse_need + dense_need) // 2)
    load_scenario(TEACHING)
    with pytest.raises(ScenarioError, match=r"needs about [\d.]+ GiB \(an estimate: [\d,]+ agents"):
        load_scenario(TEACHING, dense)


def test_yaml_1_1_words_stay_the_strings_typed():
    assert safe_yaml("a: [off, no, on, yes, true, False]") == {"a": ["off", "no", "on", "yes", True, False]}
    s = load_scenario(TEACHING, ["localities.enabled=off", "innovation.enabled=yes"])
    assert s.localities.enabled is False and s.innovation.enabled is True


def test_an_experiment_case_named_off_is_the_string_off(tmp_path):
    from simulation.experiment.spec import load_experiment
    (tmp_path / "t.yaml").write_text("name: t\n" + TINY_GROUPS)
    (tmp_path / "e.yaml").write_text("name: e\nbase: t.yaml\ndesign: {kind: cases}\ncases:\n"
                                     "  - {name: off, set: {network.informal: off}}\n"
                                     "  - {name: on, set: {network.informal: on}}\n")
    exp = load_experiment(tmp_path / "e.yaml")
    assert [c.name for c in exp.spec.cases] == ["off", "on"]
    assert [b["network"]["informal"] for b in exp.bases] == [False, True]


def test_a_study_elsewhere_may_extend_the_shipped_scenarios(tmp_path):
    child = tmp_path / "study" / "v.yaml"
    child.parent.mkdir()
    child.write_text(f"extends: {os.path.relpath(TEACHING, child.parent)}\nname: v\n")
    assert load_scenario(child).name == "v"


@pytest.mark.parametrize("text, message", [
    ("a: &l0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 10)),
     "values once aliases"),
    ("a: &a [*a]\n", "recursive alias"),
])
def test_alias_bombs_are_refused_quickly(tmp_path, text, message):
    p = tmp_path / "s.yaml"
    p.write_text(text)
    with pytest.raises(ScenarioError, match=message):
        load_scenario(p)


def test_a_quoted_number_is_not_converted():
    with pytest.raises(ScenarioError, match=r"steps: got '5', a string, where a number is meant"):
        load_scenario(TEACHING, ["steps='5'"])


@pytest.mark.parametrize("name", ["a" * 5000 + ".csv", "x\0y.csv"])
def test_data_file_names_too_long_or_with_nul_are_clean_errors(tmp_path, name):
    # found by benchmarks/fuzz_campaign.py: OSError (File name too long) from the register check
    for extra in ({"practices_from": {"file": name, "format": "plain"}},
                  {"network": {"survey": {"format": "csv", "nodes": name, "edges": name}}}):
        data = yaml.safe_load(TEACHING.read_text())
        if "practices_from" in extra:
            data.pop("groups")
        data.update(extra)
        p = tmp_path / "s.yaml"
        p.write_text(yaml.safe_dump(data))
        with pytest.raises(ScenarioError, match=r"cannot read|not found|not a usable file name"):
            load_scenario(p)


# ------------------------------------------------------------------ issue 23: paths, names, text, limits
def _cli_in(cwd, *args, timeout=120, env=None):
    return subprocess.run([sys.executable, "-m", "simulation.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200",
                               **(env or {})})


def _project(tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "pyproject.toml").write_text("")
    (proj / "teaching.yaml").write_text(TEACHING.read_text())
    return proj


@pytest.mark.parametrize("target_kind", ["file", "folder"])
def test_a_symlinked_base_outside_the_project_is_refused_without_reading(tmp_path, target_kind):
    proj = _project(tmp_path)
    secret = tmp_path / "elsewhere"
    secret.mkdir()
    (secret / "base.yaml").write_text("root:*:20228:0:99999:7:::\n")
    if target_kind == "file":
        (proj / "base.yaml").symlink_to(secret / "base.yaml")
        extends = "base.yaml"
    else:  # a folder link inside the project: the lexical path stays inside
        (proj / "linked").symlink_to(secret)
        extends = "linked/base.yaml"
    child = proj / "v.yaml"
    child.write_text(f"extends: {extends}\nname: v\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(child)
    text = str(info.value)
    assert "symbolic link" in text and str(secret / "base.yaml") in text
    assert str(proj / ("base.yaml" if target_kind == "file" else "linked")) in text
    assert "root:" not in text and "20228" not in text  # never read


def test_a_symlinked_base_inside_the_project_is_followed(tmp_path):
    proj = _project(tmp_path)
    (proj / "alias.yaml").symlink_to(proj / "teaching.yaml")
    child = proj / "v.yaml"
    child.write_text("extends: alias.yaml\nname: v\n")
    assert load_scenario(child).name == "v"


@pytest.mark.parametrize("field", ["base", "case"])
def test_an_experiment_base_linked_outside_its_tree_is_refused_without_reading(tmp_path, field):
    """Found by benchmarks/fuzz_campaign.py --seed 99: an experiment's `base:` (or a case's
    `scenario:`) that is a symbolic link leading outside the experiment's folder tree was
    read, and its validation error quoted the file.  It is refused as `extends:` is; a link
    inside the tree is followed."""
    from simulation.experiment.spec import load_experiment

    proj = _project(tmp_path)
    secret = tmp_path / "elsewhere"
    secret.mkdir()
    (secret / "base.yaml").write_text("name: s\nroot:*:20228:0:99999:7::: 1\n")
    (proj / "out.yaml").symlink_to(secret / "base.yaml")
    (proj / "alias.yaml").symlink_to(proj / "teaching.yaml")
    head = "steps: 2\nreplicates: 1\noutcomes: [accuracy_board]\n"
    for name, base in (("bad.yaml", "out.yaml"), ("good.yaml", "alias.yaml")):
        if field == "base":
            text = (f"name: e\nbase: {base}\n{head}design: grid\n"
                    "parameters: {engagement.gp.mean: [0.3, 0.6]}\n")
        else:
            text = (f"name: e\nbase: alias.yaml\n{head}design: {{kind: cases}}\n"
                    f"cases:\n  - {{name: a}}\n  - {{name: b, scenario: {base}}}\n")
        (proj / name).write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_experiment(proj / "bad.yaml")
    text = str(info.value)
    assert "symbolic link" in text and str(secret / "base.yaml") in text
    assert "was not read" in text and "root:" not in text and "20228" not in text
    assert load_experiment(proj / "good.yaml").spec.name == "e"


@pytest.mark.parametrize("where", ["header", "cell"])
def test_a_huge_value_in_a_register_file_is_quoted_as_a_bounded_excerpt(tmp_path, where):
    """Found by an ad-hoc fuzz of the data files (6 Dec 2026): a 200,000-character header
    cell or a 100,000-character list size was quoted whole in the error (the CLI bounds what
    it prints, but the ScenarioError itself, which Python callers read, held it all)."""
    scenario = (ROOT / "scenarios" / "register_plain.yaml").read_text()
    (tmp_path / "s.yaml").write_text(scenario.replace("../data/synthetic/", ""))
    rows = (ROOT / "data" / "synthetic" / "practices_plain.csv").read_text().splitlines()
    if where == "header":
        rows = [r.replace("list_size", "L" * 200_000) if r.startswith("practice,") else r
                for r in rows]
    else:
        i = next(i for i, r in enumerate(rows) if r.startswith("Z1"))
        cells = rows[i].split(",")
        cells[1] = "9" * 100_000
        rows[i] = ",".join(cells)
    (tmp_path / "practices_plain.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(tmp_path / "s.yaml")
    text = str(err.value)
    assert len(text) < 2000 and ("(200,000 characters)" in text or "(100,000 characters)" in text)


@pytest.mark.parametrize("value", ["9" * 5000, "1", "x", "auto"])
def test_patterns_replicates_are_checked_without_a_traceback(tmp_path, value):
    """A --replicates of 5,000 digits raised ValueError (int() refuses over 4,300 digits)
    from the option's check: a traceback instead of a usage error."""
    from simulation.cli import _check_replicates

    if value == "auto":
        assert _check_replicates(" auto ") == "auto"
        assert _check_replicates("30") == "30"
        return
    import typer

    with pytest.raises(typer.BadParameter) as err:
        _check_replicates(value)
    assert len(str(err.value)) < 300 and "neither 'auto' nor a count" in str(err.value)
    if len(value) > 100:
        proc = _cli_in(tmp_path, "patterns", "--replicates", value)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert "(5,000 characters)" in proc.stderr


def test_text_helpers():
    from simulation import _text

    assert _text.clean("\x1b]0;pwned\x07\x1b[31mRED") == "\\e]0;pwned\\x07\\e[31mRED"
    assert _text.clean("a\u202eb\x9bc") == "a\\u202eb\\x9bc"  # bidi override, C1 CSI
    assert _text.clean("é ✓ 你好") == "é ✓ 你好"
    assert _text.clean("a\nb", newlines=True) == "a\nb" and _text.clean("a\nb") == "a\\nb"
    assert _text.excerpt("x" * 2_000_000) == "x" * _text.EXCERPT + "… (2,000,000 characters)"
    assert _text.value("y" * 500).endswith("…' (500 characters)")
    assert len(_text.value(list(range(1000)))) < 200
    assert _text.cap(list(range(25))) == [*range(20), "… and 5 more"]
    assert _text.cap([1, 2]) == [1, 2]


@pytest.mark.parametrize("name, folder", [
    ("/abs/path", "abs_path"), ("../../x", "x"), (" ", "stem"), ("", "stem"), ("..", "stem"),
    ("a\0b", "a_b"), ("\x1b]0;pwned\x07\x1b[31mRED", "]0_pwned__[31mRED"), (".hidden", "hidden"),
    ("C:\\x", "C_x"), ("n" * 500, "n" * 80), ("ok name-1", "ok name-1"),
])
def test_default_output_folder_is_one_clean_component(name, folder):
    from simulation._text import folder_name

    got = folder_name(name, "stem")
    assert got == folder and "/" not in got and got.isprintable() and got not in (".", "..")


def test_path_like_nul_and_control_names_run_into_a_clean_folder_and_print_cleanly(tmp_path):
    # a name validate accepts is one run can run (the NUL byte used to end in a ValueError)
    proj = _project(tmp_path)
    (proj / "n.yaml").write_text('extends: teaching.yaml\nname: "../../\\e]0;pwned\\a\\e[31mx\\0y"\n')
    assert _cli_in(proj, "validate", "n.yaml").returncode == 0
    proc = _cli_in(proj, "run", "n.yaml", "--steps", "1", "--no-figures")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "\x1b]" not in out and "\x07" not in out and "\\e]0;pwned\\x07" in out
    made = [p.name for p in (proj / "results").iterdir()]
    assert made == ["]0_pwned__[31mx_y"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]  # nothing written above


def test_huge_values_and_long_problem_lists_are_bounded(tmp_path):
    proj = _project(tmp_path)
    (proj / "big.yaml").write_text('extends: teaching.yaml\nname: "' + "y" * 2_000_000 + '"\n'
                                   'steps: "' + "z" * 2_000_000 + '"\n')
    groups = ", ".join(["{name: 1}"] * 1000)
    (proj / "many.yaml").write_text(f"extends: teaching.yaml\nname: m\ngroups: [{groups}]\n")
    (proj / "bad.yaml").write_text('extends: teaching.yaml\nname: "\\e[31m[/bold] x"\nsteps: -1\n')
    proc = _cli_in(proj, "validate", "big.yaml", "many.yaml", "bad.yaml")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert max(map(len, lines)) < 1600 and len(lines) <= 2 * 22
    assert "characters)" in proc.stderr  # the excerpt says how long the whole was
    assert "many.yaml: … and 2,980 more" in proc.stderr
    assert "\x1b" not in proc.stderr and "bad.yaml" in proc.stderr  # markup-like text printed


def test_experiment_files_with_many_problems_or_huge_values_are_bounded(tmp_path):
    """Found by benchmarks/fuzz_campaign.py --seed 7121: an experiment with more than 20 bad
    cases raised ValueError (the capped problem list was paired with every pydantic error),
    and a parameter value of 3,000 long strings was quoted whole (312,133 characters)."""
    from conftest import ONE_GROUP

    from simulation.experiment.spec import load_experiment

    (tmp_path / "tiny.yaml").write_text(ONE_GROUP)
    head = "base: tiny.yaml\nsteps: 3\noutcomes: [accuracy_board]\n"
    cases = ", ".join(["{name: 1}"] * 1000)
    (tmp_path / "cases.yaml").write_text(f"name: c\n{head}design: {{kind: cases}}\n"
                                         f"cases: [{cases}]\n")
    long = yaml.safe_dump([["x" * 100] * 3000, 0.5], default_flow_style=True, width=10**9)
    (tmp_path / "grid.yaml").write_text(f"name: g\n{head}design: grid\nparameters:\n"
                                        f"  engagement.gp.mean: {long.strip()}\n")
    with pytest.raises(ScenarioError) as err:
        load_experiment(tmp_path / "cases.yaml")
    assert len(err.value.problems) == 21 and err.value.problems[-1][2] == "… and 980 more"
    with pytest.raises(ScenarioError) as err:
        load_experiment(tmp_path / "grid.yaml")
    text = str(err.value)
    assert len(text) < 1000 and "(a list of 3,000 items) is not allowed" in text
    for name in ("cases.yaml", "grid.yaml"):
        proc = _cli_in(tmp_path, "validate", name)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert max(map(len, proc.stderr.splitlines())) < 1600


def test_memory_guard_reads_cgroup_and_address_space_limits(tmp_path, monkeypatch):
    import resource

    from simulation import memory

    monkeypatch.setattr(memory, "CGROUP_ROOT", tmp_path)
    monkeypatch.setattr(memory, "_cgroup_dirs", lambda: [tmp_path])
    (tmp_path / "memory.max").write_text(f"{3 * 2**30}\n")
    (tmp_path / "memory.current").write_text(f"{2**30}\n")
    assert memory.memory_limits()["cgroup memory limit"] == 2 * 2**30
    (tmp_path / "memory.max").write_text("max\n")
    (tmp_path / "memory.limit_in_bytes").write_text(f"{5 * 2**30}\n")  # cgroup v1
    (tmp_path / "memory.usage_in_bytes").write_text(f"{2**30}\n")
    assert memory.memory_limits()["cgroup memory limit"] == 4 * 2**30
    monkeypatch.setattr(resource, "getrlimit", lambda what: (8 * 2**40, resource.RLIM_INFINITY))
    assert 0 < memory.memory_limits()["address-space limit"] < 8 * 2**40
    monkeypatch.setattr(memory, "_meminfo", lambda: 64 * 2**30)
    assert memory.available_memory() == 4 * 2**30
    assert memory.limiting_factor() == "cgroup memory limit"


def test_an_address_space_limit_refuses_before_allocation(tmp_path):
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1200 * 2**20,) * 2); "
            "from simulation.cli import main; sys.argv = ['commnet', 'run', sys.argv[1], "
            "'--steps', '1', '--out', sys.argv[2], '-q']; main()")
    proc = subprocess.run([sys.executable, "-c", code, str(ROOT / "scenarios" / "england_2013.yaml"),
                           str(tmp_path / "o")], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"},
                          check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "address-space" in proc.stderr and "GiB is available" in proc.stderr


def test_an_allocation_failure_anywhere_is_a_clean_error(tmp_path):
    code = ("import sys, numpy as np, simulation.model as m\n"
            "def boom(*a, **k):\n    np.ones(2**44)\n"  # numpy's _ArrayMemoryError
            "m.CommissioningModel.__init__ = boom\n"
            "from simulation.cli import main\n"
            "sys.argv = ['commnet', 'run', sys.argv[1], '--steps', '1', '--out', sys.argv[2], '-q']\n"
            "main()\n")
    proc = subprocess.run([sys.executable, "-c", code, str(TEACHING), str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "out of memory" in proc.stderr and "reduce" in proc.stderr


def test_workers_above_the_cores_are_capped_with_a_note(capsys):
    from simulation.cli import _cap_workers
    from simulation.memory import cpu_count

    cores = cpu_count()
    assert _cap_workers(cores + 62) == cores
    assert f"--workers {cores + 62} is more than the {cores} core(s)" in capsys.readouterr().err
    assert _cap_workers(1) == 1 and _cap_workers(None) is None
    assert capsys.readouterr().err == ""


def test_a_long_run_prints_its_cpu_time_estimate_first(capsys):
    from simulation.cli import ANNOUNCE_CPU_SECONDS, _announce_cpu_time
    from simulation.memory import estimate_cpu_seconds

    s = load_scenario(TEACHING)
    long = s.model_copy(update={"steps": 100_000})
    assert estimate_cpu_seconds(s) < ANNOUNCE_CPU_SECONDS < estimate_cpu_seconds(long)
    _announce_cpu_time(s, 1)
    assert capsys.readouterr().err == ""
    _announce_cpu_time(long, 1)
    expected = f"{long.steps + long.burn_in:,} months"  # burn-in months included
    assert f"of CPU time (an estimate: 85 agents × {expected}" in capsys.readouterr().err


def test_disjoint_pairs_refuse_negative_node_ids():
    import numpy as np

    from simulation.exchange import sample_disjoint_pairs

    with pytest.raises(ValueError, match="node ids >= 0"):
        sample_disjoint_pairs([-1, -2], [-3, -4], 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="dst must hold node ids"):
        sample_disjoint_pairs([1, 2], [3, -4], 3, 0)


def test_the_app_server_releases_closed_sessions(monkeypatch):
    import threading
    import time

    pytest.importorskip("solara")
    from solara.server import kernel_context

    from simulation.app import serve

    fake = {"a": object(), "b": object()}
    monkeypatch.setattr(kernel_context, "contexts", fake)
    trims = []
    monkeypatch.setattr(serve, "_trim", lambda: trims.append(len(fake)))
    stop = threading.Event()
    worker = threading.Thread(target=serve.release_closed_sessions, args=(stop, 0.02))
    worker.start()
    try:
        time.sleep(0.1)
        assert trims == []  # nothing closed: nothing to do
        del fake["a"]
        for _ in range(100):
            if trims:
                break
            time.sleep(0.02)
        assert trims == [1]
    finally:
        stop.set()
        worker.join(5)
    assert serve.CULL_TIMEOUT == "2m"


def test_a_huge_seed_of_a_generated_scenario_is_a_bounded_excerpt(tmp_path):
    # found by the issue-23 fuzz campaign (seed 20261206): the generator's message quoted it whole
    p = tmp_path / "g.yaml"
    p.write_text(f"name: g\nseed: \"{'x' * 100_000}\"\ngenerate: {{groups: 3}}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert len(str(info.value)) < 1000 and "characters)" in str(info.value)


def test_a_huge_set_item_is_refused_before_parsing():
    # found by the issue-23 fuzz campaign (seed 7230): a 6 MB --set value took > 120 s to parse
    import time

    t0 = time.perf_counter()
    with pytest.raises(ScenarioError, match=r"too long \(6,000,002 characters\); a --set item"):
        load_scenario(TEACHING, ["x=" + "y" * 6_000_000])
    assert time.perf_counter() - t0 < 5


def _two_pass(text):
    """safe_yaml before it composed once: compose to measure, then parse again to load."""
    from simulation.loader import MAX_DEPTH, MAX_NODES, _measure, _UniqueKeyLoader

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep") from None
    if node is not None:
        depth, size = _measure(node)
        if depth > MAX_DEPTH:
            raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
        if size > MAX_NODES:
            raise ValueError(f"{size:,} values once aliases (*name) are expanded; at most "
                             f"{MAX_NODES:,} are read")
    return yaml.load(text, Loader=_UniqueKeyLoader)


def _outcome(fn, text):
    try:
        return ("ok", repr(fn(text)))
    except yaml.YAMLError as exc:
        return ("YAMLError", str(exc))
    except ValueError as exc:
        return ("ValueError", str(exc))
    except Exception as exc:  # what the reference crashed with
        return ("crash", type(exc).__name__)


_GUARDS = ("nested more than", "values once aliases", "a recursive alias")


def _agrees(new, old):
    """The new safe_yaml gives the old one's value or message, except where the old one
    crashed or let a constructor's ValueError through: there a YAML error naming the tag."""
    if old[0] == "crash" or (old[0] == "ValueError" and not old[1].startswith(_GUARDS)):
        return new[0] == "YAMLError" and ("cannot read this" in new[1] or "needs a mapping" in new[1])
    return new == old


@pytest.mark.parametrize("text", [
    "a: yes\nb: off\nc: True\nd: 0o17\ne: 1_000\nf: .5\ng: ~\nh: 2013-04-01\n",
    "x: &a [1, 2]\ny: *a\nz: {<<: {p: 1}, q: 2}\n",
    "- - - deep\n- {a: [b, {c: d}]}\n",
    "name: a\nname: b\n",  # duplicate key
    "a: [1, 2\n",  # unterminated flow sequence
    "1\t", "!", "a: !!python/name:os.system\n", "a: " + "[" * 40 + "]" * 40, "", "# only\n",
    "a: &x [*x]\n",  # a recursive alias
    "a: !!int abc\n", "a: [1, !!timestamp x]\n", "!!map [a]\n", "a: !!set b\n",
    "a: !!bool maybe\n",  # the reference crashed or passed a bare ValueError on these
    "---\na: 1\n---\nb: 2\n",  # two documents
])
def test_safe_yaml_composes_once_with_the_same_values_and_errors(text):
    assert _agrees(_outcome(safe_yaml, text), _outcome(_two_pass, text))


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml"))
                         + sorted((ROOT / "experiments").glob("*.yaml")), ids=lambda p: p.name)
def test_safe_yaml_reads_shipped_files_as_before(path):
    text = path.read_text()
    assert _agrees(_outcome(safe_yaml, text), _outcome(_two_pass, text))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from([*"ab:-[]{},&*!'\"#|>? \n\t\x07é1.~%", "- ", ": ", "---\n",
                                 "&x ", "*x", "<<: "]), max_size=40).map("".join))
def test_safe_yaml_composes_once_as_before_on_fuzz(text):
    assert _agrees(_outcome(safe_yaml, text), _outcome(_two_pass, text))
