"""Unit tests of the teaching app's parts that need no browser (simulation.app.components)."""

from __future__ import annotations

import glob
import os
import textwrap
from pathlib import Path

import numpy as np
import pytest

from simulation.app import components as C
from simulation.app.launch import OFFLINE_CDN, app_environment, launch, server_command
from simulation.loader import ScenarioError, count_agents, load_scenario
from simulation.reporters import METRICS
from simulation.scenario import scenario_hash

REPO = Path(__file__).resolve().parents[1]

TEACHING = """\
name: app-test
description: one small group for the app tests
seed: 11
steps: 24
groups:
  - name: Riverside
    population: 60000
    practices: {count: 8}
    localities: {count: 2}
    commissioning_managers: 4
providers:
  - {name: Riverside Acute, kind: acute, serves: [Riverside]}
local_authorities:
  - {name: Riverside Council, serves: [Riverside]}
"""

LARGE = """\
name: app-test-large
seed: 3
steps: 12
groups:
  - {name: A, population: 300000, practices: {count: 45}, localities: {count: 5}}
  - {name: B, population: 250000, practices: {count: 40}, localities: {count: 4}}
  - {name: C, population: 200000, practices: {count: 30}, localities: {count: 4},
     engagement: {gp: {mean: 0.4, sd: 0.1}}}
  - {name: D, population: 350000, practices: {count: 50}, localities: {count: 6}}
providers:
  - {name: Acute1, kind: acute, serves: [A, B]}
  - {name: Acute2, kind: acute, serves: [C, D]}
  - {name: MH, kind: mental_health, serves: [A, B, C, D]}
local_authorities:
  - {name: LA1, serves: [A, B]}
  - {name: LA2, serves: [C, D]}
"""


@pytest.fixture
def teaching(tmp_path: Path) -> str:
    p = tmp_path / "teaching.yaml"
    p.write_text(TEACHING)
    return str(p)


@pytest.fixture
def large(tmp_path: Path) -> str:
    p = tmp_path / "large.yaml"
    p.write_text(LARGE)
    return str(p)


def defaults(path: str) -> dict:
    """The start values of every user input, as SolaraViz passes them on Reset."""
    params = C.make_model_params(path, load_scenario(path))
    out = {k: (v["value"] if isinstance(v, dict) else v) for k, v in params.items()}
    return {**out, "compare": C.COMPARE_OFF}  # one run (the page opens on a comparison)


# ----------------------------------------------------------------------------- controls
def test_controls_are_generated_from_the_schema(teaching):
    s = load_scenario(teaching)
    params = C.make_model_params(teaching, s)
    assert params["scenario_path"] == teaching  # fixed
    gp = params["engagement.gp.mean"]
    assert gp["type"] == "SliderFloat" and (gp["min"], gp["max"]) == (0.0, 1.0)
    assert gp["value"] == pytest.approx(s.engagement.gp.mean)
    loc = params["groups.*.localities.count"]
    assert loc["type"] == "SliderInt" and loc["min"] == 1 and loc["max"] == 12
    assert loc["value"] == 2
    assert params["relationships.mode"]["values"] == ["transactional", "networked"]
    assert set(params["exchange.rule"]["values"]) == {
        "degroot", "friedkin_johnsen", "deffuant", "hegselmann_krause"}
    assert params["localities.enabled"] == {"label": "Locality sub-groups", "type": "Checkbox",
                                            "value": True}
    for lever in ("knowledge_brokering", "coherence_building", "stability_management"):
        assert params[f"leadership.{lever}.enabled"]["type"] == "Checkbox"
        assert params[f"leadership.{lever}.intensity"]["type"] == "SliderFloat"
    assert params["seed"] == {"type": "InputText", "label": "Seed (whole number)", "value": "11"}
    # a fresh page opens on the classroom comparison: one click on ▶ runs the lesson
    assert params["compare"]["value"] == C.CLASSROOM_COMPARE
    assert C.COMPARISONS[C.CLASSROOM_COMPARE] is not None
    # no valid scenario: only the fixed path, the comparison and the seed
    assert set(C.make_model_params(teaching, None)) == {"scenario_path", "compare", "seed"}


def test_slider_bounds_come_from_field_bounds():
    for control in C.TEACHING_CONTROLS:
        annotation, info = C.schema_field(control.path)
        lo, hi = C._bounds(info)
        if annotation in (int, float):
            assert lo is not None and hi is not None, control.path
    _, info = C.schema_field("groups.*.localities.count")
    assert C._bounds(info) == (1, 50)
    with pytest.raises(ValueError, match="not a field"):
        C.schema_field("engagement.gp.average")


def _other_value(options: dict):
    if options["type"] == "Checkbox":
        return not options["value"]
    if options["type"] == "Select":
        return next(v for v in options["values"] if v != options["value"])
    return options["min"] if options["value"] != options["min"] else options["max"]


@pytest.mark.parametrize("control", C.TEACHING_CONTROLS, ids=lambda c: c.path)
def test_each_control_changes_exactly_its_setting(teaching, control):
    params = C.make_model_params(teaching, load_scenario(teaching))
    value = _other_value(params[control.path])
    settings = defaults(teaching)
    settings[control.path] = value
    m = C.TeachingModel(**settings)
    assert m.error is None, m.error
    got = C.scenario_value(m.runs[0].model.spec, control.path.replace("*", "0"))
    if isinstance(value, float):
        assert got == pytest.approx(value)
    else:
        assert got == value
    changed = {o.split("=")[0].replace(".0.", ".*.") for o in m.runs[0].overrides}
    assert changed - {control.path} <= {control.path.replace(".mean", ".sd")}


def test_untouched_controls_keep_the_file(teaching):
    m = C.TeachingModel(**defaults(teaching))
    assert m.error is None and m.runs[0].overrides == []
    assert scenario_hash(m.runs[0].model.spec) == scenario_hash(load_scenario(teaching))


def test_locality_count_applies_to_every_group(large):
    m = C.TeachingModel(large, **{"groups.*.localities.count": 3})
    assert m.error is None, m.error
    assert [g.localities.count for g in m.spec.groups] == [3, 3, 3, 3]


def test_engagement_slider_keeps_a_feasible_beta_and_reaches_group_overrides(large):
    m = C.TeachingModel(large, **{"engagement.gp.mean": 0.02})
    assert m.error is None, m.error
    gp = m.spec.engagement.gp
    assert gp.mean == pytest.approx(0.02) and gp.sd ** 2 < 0.02 * 0.98
    assert m.spec.groups[2].engagement.gp.mean == pytest.approx(0.02)
    assert any("spread (sd) lowered" in n for n in m.notes)
    assert any("group C," in n for n in m.notes)
    m = C.TeachingModel(large, **{"engagement.gp.mean": 0.0})
    assert m.error is None, m.error


# ----------------------------------------------------------------------------- seed, bad input
@pytest.mark.parametrize(("text", "expected"), [
    ("42", 42), (" 7 ", 7), ("", 5), (None, 5), (3, 3), ("1e3", 1000), ("1_000", 1000),
])
def test_seed_box_strings_are_parsed(text, expected):
    assert C.parse_seed(text, 5) == expected


@pytest.mark.parametrize("text", ["abc", "-1", "3.5", True])
def test_bad_seeds_are_refused(text):
    with pytest.raises(ValueError, match="seed must be a whole number"):
        C.parse_seed(text, 0)


def test_seed_from_text_box_reaches_the_model(teaching):
    a = C.TeachingModel(teaching, seed="123")
    b = C.TeachingModel(teaching, seed=123)
    assert a.runs[0].model.seed_value == 123 == a.seed_value
    np.testing.assert_array_equal(a.runs[0].model.belief, b.runs[0].model.belief)
    bad = C.TeachingModel(teaching, seed="twelve")
    assert "seed must be a whole number" in bad.error and not bad.running and bad.runs == []
    bad.step()  # a no-op, never an exception


def test_a_file_that_does_not_validate_gives_the_message(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text(TEACHING.replace("population: 60000", "populaton: 60000"))
    m = C.TeachingModel(str(p))
    assert m.error is not None and "populaton" in m.error and "did you mean" in m.error
    assert "Traceback" not in m.error
    assert not m.running and m.runs == [] and m.month == 0
    m.step()
    p.write_text("groups: [unclosed")
    assert "not valid YAML" in C.TeachingModel(str(p)).error
    assert "file not found" in C.TeachingModel(str(tmp_path / "nope.yaml")).error
    assert "no scenario file" in C.TeachingModel(None).error


def test_a_setting_the_schema_refuses_gives_the_message(teaching):
    m = C.TeachingModel(teaching, **{"exchange.rule": "majority_vote"})
    assert m.error is not None and "exchange.rule" in m.error


def test_mesa_reset_keywords_are_ignored(teaching):
    # SolaraViz's Reset passes Mesa's own scenario object along with the parameters
    import mesa.experimental.scenarios as ms

    m = C.TeachingModel(teaching, scenario=ms.Scenario(rng=None), **{"engagement.gp.mean": 0.3})
    assert m.error is None and m.spec.engagement.gp.mean == pytest.approx(0.3)


# ----------------------------------------------------------------------------- side by side
def test_side_by_side_runs_in_lock_step(teaching):
    m = C.TeachingModel(teaching, compare="GP engagement: high (0.8) vs low (0.2)")
    assert m.error is None
    a, b = m.runs
    assert a.model.spec.engagement.gp.mean == 0.8 and b.model.spec.engagement.gp.mean == 0.2
    assert a.model.seed_value == b.model.seed_value
    assert a.label.startswith("A:") and b.label.startswith("B:")
    np.testing.assert_array_equal(a.model.pop.kind, b.model.pop.kind)
    for _ in range(3):
        m.step()
    assert a.model.steps == b.model.steps == m.month == 3
    gp = a.model.pop.kind == 0
    assert a.model.engagement[gp].mean() > b.model.engagement[gp].mean()


def test_side_by_side_status_names_each_setting_once_in_plain_words(teaching):
    # the user's own GP engagement (0.3) is replaced by the preset's in each run, not listed
    # beside it: the status of A says 0.8 and only 0.8
    m = C.TeachingModel(teaching, compare="GP engagement: high (0.8) vs low (0.2)",
                        **{"engagement.gp.mean": 0.3, "localities.enabled": False})
    assert m.error is None, m.error
    a, b = m.runs
    assert a.changes == ["GP engagement 0.8", "Locality sub-groups off"]
    assert b.changes == ["GP engagement 0.2", "Locality sub-groups off"]
    assert a.model.spec.engagement.gp.mean == 0.8 and b.model.spec.engagement.gp.mean == 0.2
    for run in m.runs:
        assert sum(o.startswith("engagement.gp.mean=") for o in run.overrides) == 1
        assert not any("." in c.split(" ")[0] for c in run.changes)  # no dotted paths
    one = C.TeachingModel(teaching, **{"engagement.gp.mean": 0.3,
                                       "leadership.knowledge_brokering.enabled": True})
    assert one.runs[0].changes == ["GP engagement 0.3", "Knowledge brokering on"]
    assert C.TeachingModel(teaching).runs[0].changes == []


def test_initial_settings_are_the_files_values(teaching):
    pytest.importorskip("solara")
    from simulation.app.app import initial_settings

    params = C.make_model_params(teaching, load_scenario(teaching))
    s = initial_settings(params)
    assert s["scenario_path"] == teaching and s["compare"] == C.CLASSROOM_COMPARE
    assert s["engagement.gp.mean"] == load_scenario(teaching).engagement.gp.mean
    assert C.TeachingModel(**{**s, "compare": C.COMPARE_OFF}).runs[0].overrides == []
    a, b = C.TeachingModel(**s).runs
    assert a.changes == ["GP engagement 0.8"] and b.changes == ["GP engagement 0.2"]


def test_settings_a_reset_has_not_applied_are_named(teaching):
    """The app names every control whose value differs from what the running model was built
    from (a slider moved after Reset, or whose value reached the server after the click)."""
    pytest.importorskip("solara")
    from simulation.app.app import initial_settings, unapplied

    params = C.make_model_params(teaching, load_scenario(teaching))
    s = {**initial_settings(params), "compare": C.COMPARE_OFF}  # one run: the slider counts
    model = C.TeachingModel(**s)
    assert unapplied(params, s, model.built_with) == []
    moved = {**s, "engagement.gp.mean": 0.2, "seed": "5"}
    assert unapplied(params, moved, model.built_with) == ["Seed (whole number) 5",
                                                          "GP engagement 0.20"]
    # Mesa's Reset keywords are not settings; the model built from the moved values has
    # nothing left to apply
    rebuilt = C.TeachingModel(**moved, scenario="mesa's", rng=None)
    assert rebuilt.runs[0].changes == ["GP engagement 0.2"]
    assert unapplied(params, moved, rebuilt.built_with) == []
    gp = s["engagement.gp.mean"]
    assert gp != 0.2
    assert unapplied(params, s, rebuilt.built_with) == ["Seed (whole number) 11",
                                                        f"GP engagement {gp:g}"]  # exact


def test_a_control_the_comparison_sets_is_not_pending(teaching):
    """Under "GP engagement: high vs low" the GP slider's value is not used: moving it must not
    ask for a Reset that would change nothing."""
    pytest.importorskip("solara")
    from simulation.app.app import initial_settings, unapplied

    assert C.preset_paths(C.CLASSROOM_COMPARE) == {"engagement.gp.mean"}
    assert C.preset_paths(C.COMPARE_OFF) == C.preset_paths(C.COMPARE_FILE) == set()
    assert C.preset_paths("nonsense") == set() and C.preset_paths(None) == set()
    params = C.make_model_params(teaching, load_scenario(teaching))
    s = initial_settings(params)
    model = C.TeachingModel(**s)
    moved = {**s, "engagement.gp.mean": 0.3, "engagement.manager.mean": 0.2}
    assert unapplied(params, moved, model.built_with) == ["Manager engagement 0.20"]
    assert C.TeachingModel(**moved).runs[0].changes == ["GP engagement 0.8",
                                                        "Manager engagement 0.2"]


def test_sliders_land_on_the_files_value_exactly():
    """The file's 0.426 must not snap to 0.45 (a 0.05 step would, and an untouched page would
    then say a setting is not applied yet and run 0.45)."""
    pytest.importorskip("solara")
    from simulation.app.app import _shown, initial_settings, unapplied

    assert C.exact_step(0.6, 0.0, 0.05) == 0.05  # on the grid: the control's own step
    assert C.exact_step(0.426, 0.0, 0.05) == pytest.approx(0.001)
    assert C.exact_step(0.45, 0.0, 0.1) == pytest.approx(0.01)
    assert C.exact_step(0.5, 0.0, 0.1) == 0.1
    path = str(REPO / "scenarios" / "teaching.yaml")
    scenario = load_scenario(path)
    params = C.make_model_params(path, scenario)
    for name, spec in params.items():
        if isinstance(spec, dict) and spec.get("type") == "SliderFloat":
            k = (spec["value"] - spec["min"]) / spec["step"]
            assert k == pytest.approx(round(k), abs=1e-6), (name, spec)
    gp = params["engagement.gp.mean"]
    assert gp["value"] == scenario.engagement.gp.mean
    assert _shown(gp["value"]) == f"{scenario.engagement.gp.mean:g}"  # e.g. 0.426, not 0.43
    assert _shown(0.2) == "0.20" and _shown(0.30000000000000004) == "0.30"
    # a fresh page has nothing pending, also when the slider sends its value back with
    # float noise
    s = initial_settings(params)
    model = C.TeachingModel(**s)
    assert unapplied(params, s, model.built_with) == []
    noisy = {**s, "engagement.gp.mean": s["engagement.gp.mean"] + 1e-12}
    assert unapplied(params, noisy, model.built_with) == []


def test_every_comparison_builds(teaching):
    for name in C.COMPARISONS:
        m = C.TeachingModel(teaching, compare=name, **{"engagement.gp.mean": 0.45})
        assert m.error is None, (name, m.error)
        assert len(m.runs) == (1 if name == C.COMPARE_OFF else 2)
    m = C.TeachingModel(teaching, compare=C.COMPARE_FILE, **{"localities.enabled": False})
    assert m.runs[0].overrides == ["localities.enabled=false"] and m.runs[1].overrides == []
    assert "unknown comparison" in C.TeachingModel(teaching, compare="nonsense").error


def test_run_stops_at_the_scenario_length(tmp_path):
    p = tmp_path / "short.yaml"
    p.write_text(TEACHING.replace("steps: 24", "steps: 2"))
    m = C.TeachingModel(str(p))
    m.step()
    assert m.running
    m.step()
    assert not m.running and m.month == 2
    m.step()
    assert m.month == 2


# ----------------------------------------------------------------------------- layout
def test_layout_is_seeded_fixed_and_structured(large):
    m = C.TeachingModel(large)
    run = m.runs[0]
    pop = run.model.pop
    pos = C.compute_layout(pop, m.seed_value)
    assert pos.shape == (pop.n, 2) and np.isfinite(pos).all()
    np.testing.assert_array_equal(pos, run.layout)
    assert not np.allclose(pos, C.compute_layout(pop, m.seed_value + 1))
    before = run.layout.copy()
    for _ in range(3):
        m.step()
    np.testing.assert_array_equal(run.layout, before)  # nodes never move
    np.testing.assert_array_equal(C.compute_layout(pop, m.seed_value), before)
    # agents of one locality sit together: closer to their own locality's centre
    area = np.asarray(pop.area)
    has = area >= 0
    centres = np.array([pos[area == a].mean(axis=0) for a in range(pop.n_areas)])
    own = np.linalg.norm(pos[has] - centres[area[has]], axis=1)
    d_all = np.linalg.norm(pos[has][:, None, :] - centres[None, :, :], axis=2)
    assert (own <= d_all.min(axis=1) + 1e-12).mean() > 0.95
    # and groups apart: group centres further apart than each group's spread
    g = np.asarray(pop.group)
    gc = np.array([pos[g == k].mean(axis=0) for k in range(pop.n_groups)])
    spread = max(np.linalg.norm(pos[g == k] - gc[k], axis=1).max() for k in range(pop.n_groups))
    gaps = [np.linalg.norm(gc[i] - gc[j]) for i in range(4) for j in range(i + 1, 4)]
    assert min(gaps) > spread


def test_layout_does_not_touch_global_random_state(teaching):
    m = C.TeachingModel(teaching)
    state = np.random.get_state()[1].copy()  # noqa: NPY002 - checking it stays untouched
    C.compute_layout(m.runs[0].model.pop, 1)
    C.sample_nodes(m.runs[0].model, 10, 1)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_many_groups_get_a_disk_layout():
    from simulation.population import build_population
    from simulation.scenario import Scenario

    groups = [{"name": f"G{i}", "population": 20000, "practices": {"count": 3},
               "localities": {"count": 1}} for i in range(30)]
    s = Scenario.model_validate({"name": "many", "groups": groups,
                                 "providers": [{"name": "P", "kind": "acute",
                                                "serves": [g["name"] for g in groups]}]})
    pop = build_population(s, np.random.default_rng(0))
    pos = C.compute_layout(pop, 0)
    assert np.isfinite(pos).all() and np.abs(pos).max() < 2


# ----------------------------------------------------------------------------- drawing
def test_sample_keeps_everyone_when_small_and_key_agents_when_large(teaching, large):
    small = C.TeachingModel(teaching).runs[0]
    assert small.sample.complete and small.sample.drawn == small.model.n_agents
    m = C.TeachingModel(large).runs[0].model
    s = C.sample_nodes(m, 300, 5)
    assert s.drawn == 300 and not s.complete
    assert s.mask[np.asarray(m.on_board)].all()
    assert s.mask[np.isin(m.pop.kind, (2, 4))].all()
    np.testing.assert_array_equal(s.mask, C.sample_nodes(m, 300, 5).mask)
    tiny = C.sample_nodes(m, 20, 5)
    assert tiny.drawn == 20


def test_select_edges_keeps_the_strongest_weakest_first():
    src = np.array([0, 0, 1, 2, 3])
    dst = np.array([1, 2, 2, 3, 4])
    w = np.array([0.1, 0.9, 0.5, 0.7, 0.3])
    mask = np.array([True, True, True, True, False])
    idx, total = C.select_edges(src, dst, w, mask, max_edges=2)
    assert total == 4 and list(idx) == [3, 1]
    idx, total = C.select_edges(src, dst, w, mask, max_edges=10)
    assert list(idx) == [0, 2, 3, 1]


def test_node_colours_by_type_locality_and_accuracy(teaching):
    model = C.TeachingModel(teaching).runs[0].model
    for mode in C.COLOUR_MODES:
        colours, legend = C.node_colours(model, mode)
        assert colours.shape == (model.n_agents, 4)
        assert ((colours >= 0) & (colours <= 1)).all()
    colours, legend = C.node_colours(model, "stakeholder type")
    kind = np.asarray(model.pop.kind)
    for k in np.unique(kind):
        assert (colours[kind == k] == colours[kind == k][0]).all()
    assert legend[0][0] == "GP"
    colours, _ = C.node_colours(model, "locality")
    area = np.asarray(model.pop.area)
    assert not np.allclose(colours[area == 0][0], colours[area == 1][0])
    acc = C.belief_accuracy(model)
    np.testing.assert_allclose(acc, 1 - 0.5 * np.abs(model.belief - model.truth).sum(axis=1))
    assert ((acc >= 0) & (acc <= 1)).all()
    colours, legend = C.node_colours(model, "belief accuracy")
    assert legend == [] and len({tuple(c) for c in colours}) > 1
    with pytest.raises(ValueError, match="unknown colour mode"):
        C.node_colours(model, "favourite colour")


def test_network_figure_says_what_large_scenarios_leave_out(teaching, large):
    m = C.TeachingModel(teaching)
    fig, notes = C.network_figure(m.runs, "locality")
    assert notes == [""]
    assert C.figure_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"
    big = C.TeachingModel(large, max_nodes=400,
                          compare="Relationships: networked vs transactional")
    fig, notes = C.network_figure(big.runs, "belief accuracy", max_edges=500)
    assert len(notes) == 2 and all("fixed sample of 400" in n for n in notes)
    assert all("strongest" in n for n in notes)
    assert len(fig.axes) >= 2


def test_classroom_charts_are_big_thick_and_name_the_lesson(teaching):
    from simulation.app import classroom as K

    metrics = [p.metric for p in K.CLASSROOM_PANELS]
    assert metrics[0] == "relevance_skill"  # the lesson's effect is in decision skill
    assert {"misallocated_per_head", "accuracy_board", "engagement_gp"} <= set(metrics)
    assert all(m in METRICS for m in metrics)
    assert not any("relevance" in p.title.lower() for p in K.CLASSROOM_PANELS)
    assert K.TEXT_PX >= 18 and K.LINE_PX >= 3 and K.RUN_COLOURS[0] != K.RUN_COLOURS[1]
    m = C.TeachingModel(teaching, compare=C.CLASSROOM_COMPARE)
    for panel in K.CLASSROOM_PANELS:
        option = K.panel_option(m.runs, panel, m.months)
        assert option["animation"] is False and option["legend"]["show"] is False
        assert [s["name"] for s in option["series"]] == [r.label for r in m.runs]
        assert {s["lineStyle"]["color"] for s in option["series"]} == set(K.RUN_COLOURS)
        assert all(s["lineStyle"]["width"] >= 3 for s in option["series"])
        for axis in (option["xAxis"], option["yAxis"]):
            assert axis["axisLabel"]["fontSize"] >= 18
        assert option["xAxis"]["nameTextStyle"]["fontSize"] >= 18
        assert option["xAxis"]["max"] == m.months
        assert all(len(s["data"]) == 1 for s in option["series"])
    for _ in range(5):
        m.step()
    values = {}
    for panel in K.CLASSROOM_PANELS:
        option = K.panel_option(m.runs, panel, m.months)
        lo, hi = option["yAxis"]["min"], option["yAxis"]["max"]
        for series, run in zip(option["series"], m.runs, strict=True):
            y = C.metric_series(run.model, panel.metric)
            assert [p[0] for p in series["data"]] == list(range(6))
            got = np.array([np.nan if p[1] is None else p[1] for p in series["data"]])
            np.testing.assert_allclose(got, y, atol=10 ** -(panel.decimals + 3))
            finite = y[np.isfinite(y)]
            assert lo <= finite.min() and finite.max() <= hi
        values[panel.metric] = K.current_values(m.runs, panel.metric)
        assert values[panel.metric] == [float(C.metric_series(r.model, panel.metric)[-1])
                                        for r in m.runs]
    a, b = values["engagement_gp"]
    assert a > b  # high vs low GP engagement


def test_monitor_text_and_axis_limits():
    from simulation.app import classroom as K

    skill, money, board, gp = K.CLASSROOM_PANELS
    assert K.format_value(0.6234, skill) == "0.62"
    assert K.format_value(-0.05, skill) == "−0.05"
    assert K.format_value(134.4, money) == "£134"
    assert K.format_value(1234.0, money) == "£1,234"
    assert K.format_value(float("nan"), skill) == "—"
    # at least the minimum span, round ticks, inside the bounds
    lo, hi, step = K.axis_limits(np.array([0.95, 0.951]), board)
    assert lo <= 0.95 and hi >= 0.951 and hi - lo >= board.min_span - 1e-9
    assert 0.0 <= lo and hi <= 1.0
    assert abs(lo / step - round(lo / step)) < 1e-6
    lo, hi, _ = K.axis_limits(np.array([0.2, 0.82, np.nan]), gp)
    assert lo <= 0.2 and hi >= 0.82 and 0.0 <= lo and hi <= 1.0
    lo, hi, _ = K.axis_limits(np.array([140.0, 156.0]), money)
    assert lo <= 140 and hi >= 156
    assert K.axis_limits(np.array([np.nan]), skill)[:2] == (0.0, skill.min_span)
    # the axis does not move with every small change
    assert K.axis_limits(np.array([0.61, 0.7]), skill) == K.axis_limits(np.array([0.6, 0.72]),
                                                                        skill)


def test_chart_panels_name_real_metrics():
    for _, metrics in C.CHART_PANELS:
        for name, _ in metrics:
            assert name in METRICS


def test_charts_render_and_grow_with_steps(teaching):
    m = C.TeachingModel(teaching, compare="Localities: on vs off")
    first = C.figure_png(C.chart_figure(m.runs, ncols=2))
    for _ in range(3):
        m.step()
    assert C.metric_series(m.runs[0].model, "accuracy_board").shape == (4,)
    later = C.figure_png(C.chart_figure(m.runs, ncols=3))
    assert first[:4] == later[:4] == b"\x89PNG" and first != later


def test_incremental_charts_redraw_axes_rarely(teaching):
    m = C.TeachingModel(teaching, compare="GP engagement: high (0.8) vs low (0.2)")
    renderer = C.ChartRenderer(m.runs, ncols=2)
    frames = []
    for _ in range(20):
        frames.append(renderer.png())
        m.step()
    frames.append(renderer.png())
    assert all(f[:8] == b"\x89PNG\r\n\x1a\n" for f in frames)
    assert len(set(frames)) == len(frames)  # every step shows something new
    assert 1 <= renderer.full_redraws <= 10  # the axes are kept between most steps
    for ax, lines in renderer.panels:  # every line inside its panel's limits
        lo, hi = ax.get_ylim()
        for line, _, _ in lines:
            y = np.asarray(line.get_ydata(), float)
            y = y[np.isfinite(y)]
            assert y.size == 21 and lo <= y.min() and y.max() <= hi


# ----------------------------------------------------------------------------- scenarios, info
def test_scenario_picker_lists_yaml_files(tmp_path):
    for name in ("b.yaml", "a.yml", "notes.txt"):
        (tmp_path / name).write_text("name: x\n")
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "mine.yaml").write_text("name: y\n")
    found = C.list_scenarios(tmp_path)
    assert [Path(p).name for p in found] == ["a.yml", "b.yaml"]
    found = C.list_scenarios(tmp_path, extra=other / "mine.yaml")
    assert Path(found[0]).name == "mine.yaml" and len(found) == 3
    found = C.list_scenarios(tmp_path, extra=tmp_path / "b.yaml")
    assert [Path(p).name for p in found] == ["b.yaml", "a.yml"]
    assert C.list_scenarios(tmp_path / "missing") == []


def test_default_scenario_prefers_the_launched_one_then_teaching(monkeypatch):
    monkeypatch.delenv(C.SCENARIO_ENV, raising=False)
    assert C.default_scenario(["x/a.yaml", "x/teaching.yaml"]) == "x/teaching.yaml"
    assert C.default_scenario(["x/a.yaml"]) == "x/a.yaml"
    assert C.default_scenario([]) is None
    monkeypatch.setenv(C.SCENARIO_ENV, "/tmp/mine.yaml")
    assert C.default_scenario(["x/teaching.yaml"]) == "/tmp/mine.yaml"


def test_info_panel_has_the_netlogo_sections():
    text = C.INFO_MARKDOWN
    for heading in ("What is it?", "How it works", "How to use it", "Things to notice",
                    "Things to try", "References"):
        assert f"## {heading}" in text
    assert "e002112" in text and "East of England" in text and "Warwick" in text


REPO_SCENARIOS = sorted(glob.glob(str(REPO / "scenarios" / "*.yaml")))


@pytest.mark.skipif(not REPO_SCENARIOS, reason="no scenario files in scenarios/")
def test_repository_scenarios_open_in_the_app():
    for path in REPO_SCENARIOS:
        s = load_scenario(path)
        if count_agents(s) > 20_000:  # national scale: covered by the benchmarks, not here
            continue
        m = C.TeachingModel(path)
        assert m.error is None, (path, m.error)
        m.step()
        C.network_figure(m.runs)
        C.chart_figure(m.runs)


# ----------------------------------------------------------------------------- launch
def test_server_environment_is_offline(tmp_path):
    env = app_environment("rel/teaching.yaml", base={"PATH": "/bin"})
    assert env["SOLARA_ASSETS_PROXY"] == "True"
    assert env["SOLARA_ASSETS_CDN"] == OFFLINE_CDN and "127.0.0.1" in OFFLINE_CDN
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "False"
    assert os.path.isabs(env[C.SCENARIO_ENV]) and env["PATH"] == "/bin"
    assert str(REPO) in env["PYTHONPATH"].split(os.pathsep)
    kept = app_environment(None, base={"SOLARA_ASSETS_CDN": "http://mirror/",
                                       C.SCENARIO_ENV: "old.yaml"})
    assert kept["SOLARA_ASSETS_CDN"] == "http://mirror/" and C.SCENARIO_ENV not in kept
    assert env["SOLARA_THEME_SHOW_BANNER"] == "False"
    cmd = server_command(8765, "127.0.0.1")
    assert cmd[1:3] == ["-m", "simulation.app.serve"]
    assert cmd[cmd.index("--port") + 1] == "8765" and cmd[cmd.index("--host") + 1] == "127.0.0.1"


def test_launch_refuses_a_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        launch(str(tmp_path / "missing.yaml"), port=8765, open_browser=False)


def test_page_module_imports():
    pytest.importorskip("solara")
    from simulation.app import app

    assert callable(app.Page) and app.page is app.Page


def test_teaching_yaml_helper_is_valid(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text(textwrap.dedent(TEACHING))
    assert load_scenario(p).name == "app-test"


def test_picker_accepts_only_listed_scenarios():
    from simulation.app.app import chosen_path

    choices = {"teaching.yaml": "/x/scenarios/teaching.yaml"}
    assert chosen_path(choices, "teaching.yaml", None) == "/x/scenarios/teaching.yaml"
    for hostile in ("/etc/passwd", "../../secret.yaml", "/x/scenarios/teaching.yaml", None, 3):
        assert chosen_path(choices, hostile, "/x/scenarios/teaching.yaml") == \
            "/x/scenarios/teaching.yaml"


def test_classroom_network_addresses_are_this_machines_and_only_those_are_allowed():
    import ipaddress

    from simulation.app.launch import address_lines
    from simulation.app.serve import allowed_hosts, lan_addresses, served_addresses

    found = lan_addresses()
    for a in found:
        ip = ipaddress.IPv4Address(a)
        assert not (ip.is_loopback or ip.is_link_local or ip.is_unspecified)
    assert found == sorted(set(found), key=ipaddress.IPv4Address)
    assert served_addresses("0.0.0.0") == found
    assert served_addresses("127.0.0.1") == [] and served_addresses("localhost") == []
    assert served_addresses("10.1.2.3") == ["10.1.2.3"]
    lan = ["10.0.0.7", "192.168.1.20"]
    hosts = allowed_hosts("0.0.0.0", 8765, lan=lan)
    assert hosts == {"127.0.0.1:8765", "localhost:8765", "[::1]:8765", "10.0.0.7:8765",
                     "192.168.1.20:8765"}
    assert allowed_hosts("0.0.0.0", 8765) == allowed_hosts("0.0.0.0", 8765, lan=found)
    assert "10.0.0.7:8765" not in allowed_hosts("127.0.0.1", 8765)  # loopback stays loopback
    lines = address_lines("0.0.0.0", 8765, lan=lan)
    assert lines[0].startswith("commnet app: http://127.0.0.1:8765/")
    assert lines[1] == "students open: http://10.0.0.7:8765/   http://192.168.1.20:8765/"
    assert "answers only requests addressed to" in lines[2]
    assert all(h in lines[2] for h in hosts)
    assert "students cannot reach" in address_lines("0.0.0.0", 8765, lan=[])[1]
    assert address_lines("127.0.0.1", 8765) == [
        "commnet app: http://127.0.0.1:8765/ on this machine  (Ctrl-C to stop)"]


def test_loopback_guard_checks_host_and_origin():
    import asyncio

    from simulation.app.serve import LoopbackGuard, allowed_hosts

    hosts = allowed_hosts("127.0.0.1", 8765)
    assert hosts == {"127.0.0.1:8765", "localhost:8765", "[::1]:8765"}
    assert "0.0.0.0:8765" not in allowed_hosts("0.0.0.0", 8765)
    assert {"class-pc:8765", "10.0.0.5:9000"} <= allowed_hosts("0.0.0.0", 8765,
                                                               "Class-PC, 10.0.0.5:9000")
    calls = []

    async def inner(scope, receive, send):
        calls.append(scope["type"])

    guard = LoopbackGuard(inner, hosts)

    def run(kind, headers):
        sent = []

        async def send(message):
            sent.append(message)

        asyncio.run(guard({"type": kind, "headers": headers}, None, send))
        return sent

    ok = [(b"host", b"127.0.0.1:8765"), (b"origin", b"http://localhost:8765")]
    assert run("http", ok) == [] and run("websocket", ok) == [] and calls == ["http", "websocket"]
    assert run("lifespan", []) == []
    for bad in ([(b"host", b"evil.example:8765")], [],
                [(b"host", b"127.0.0.1:8765"), (b"origin", b"http://evil.example")],
                [(b"host", b"127.0.0.1:8765"), (b"origin", b"null")]):
        http = run("http", bad)
        assert http[0]["status"] == 403 and b"403" in http[1]["body"]
        assert run("websocket", bad) == [{"type": "websocket.close", "code": 1008}]
    assert calls == ["http", "websocket", "lifespan"]
