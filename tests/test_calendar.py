"""Calendar time (issue 19 point 3): start:, events by date, the date column, the history view
(survey_by_year.csv and survey_history.png)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from conftest import ONE_GROUP, TINY

from simulation import calendar_time as ct
from simulation.loader import ScenarioError, load_scenario
from simulation.results import (
    calendar_events,
    calendar_record,
    run_replicate,
    survey_by_year,
)
from simulation.scenario import Scenario, scenario_hash

ROOT = Path(__file__).resolve().parents[1]

GROUPS = [{"name": "A", "population": 90000, "practices": {"count": 10}}]


def scenario(**fields) -> Scenario:
    return Scenario.model_validate({"name": "cal", "steps": 180, "groups": GROUPS, **fields})


# ------------------------------------------------------------------ months


@pytest.mark.parametrize("given", ["2011-04", "2011-4", " 2011-04 ", "2011-04-01",
                                   dt.date(2011, 4, 1)])
def test_a_month_is_read_from_the_forms_allowed(given):
    assert ct.parse_month(given) == "2011-04"


@pytest.mark.parametrize(("given", "why"), [
    ("2011-13", "month 13 is not 1..12"),
    ("2011-04-15", "a day other than the first"),
    (dt.date(2011, 4, 15), "a day other than the first"),
    (dt.datetime(2011, 4, 1, 9, 0), "a date and time"),
    ("April 2011", "not a calendar month"),
    (201104, "a value of type int, not a calendar month"),
    ("2011-02-30", "day 30 is not a day of that month"),
    ("1850-01", "year 1850 is outside 1900 to 9999"),
])
def test_a_bad_month_says_what_is_wrong_and_what_is_allowed(given, why):
    with pytest.raises(ValueError) as info:
        ct.parse_month(given)
    assert why in str(info.value) and "YYYY-MM" in str(info.value)


def test_month_arithmetic_by_hand():
    assert ct.add_months("2011-04", 24) == "2013-04"
    assert ct.add_months("2011-04", 135) == "2022-07"  # ICBs: 1 July 2022
    assert ct.add_months("2011-04", 180) == "2026-04"
    assert ct.add_months("2013-12", 1) == "2014-01"
    assert ct.months_between("2011-04", "2013-04") == 24
    assert ct.months_between("2013-04", "2011-04") == -24
    assert list(ct.month_labels("2012-11", [0, 1, 2, 1])) == ["2012-11", "2012-12", "2013-01",
                                                             "2012-12"]
    assert ct.financial_year("2013-04") == 2013 and ct.financial_year("2014-03") == 2013
    assert ct.financial_year_label(2013) == "2013/14" and ct.financial_year_label(1999) == "1999/00"


# ------------------------------------------------------------------ the schema


def test_an_event_by_date_is_the_event_by_step():
    by_date = scenario(start="2011-04", events=[{"type": "gp_exodus", "date": "2013-04",
                                                 "fraction": 0.1}])
    by_step = scenario(start="2011-04", events=[{"type": "gp_exodus", "step": 24,
                                                 "fraction": 0.1}])
    assert by_date.events[0].step == 24 and by_date.events[0].date is None
    assert by_date == by_step and scenario_hash(by_date) == scenario_hash(by_step)
    # the resolved scenario (what manifests hold) validates again as itself
    assert Scenario.model_validate(by_date.model_dump(mode="json")) == by_date


def test_the_first_and_last_dates_allowed():
    s = scenario(start="2011-04", events=[
        {"type": "gp_exodus", "date": "2011-05", "fraction": 0.1},
        {"type": "gp_exodus", "date": "2026-04", "fraction": 0.1}])
    assert [e.step for e in s.events] == [1, 180]


def test_start_accepts_a_yaml_date_and_an_override(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: s\nsteps: 30\nstart: 2013-04-01\ngroups:\n"
                 "  - {name: A, population: 90000, practices: {count: 10}}\n"
                 "events:\n  - {type: gp_exodus, date: 2014-04, fraction: 0.1}\n")
    s = load_scenario(p)
    assert s.start == "2013-04" and s.events[0].step == 12
    s = load_scenario(p, ["start=2013-10"])
    assert s.start == "2013-10" and s.events[0].step == 6
    with pytest.raises(ScenarioError) as info:  # the same date before the new start
        load_scenario(p, ["start=2014-06"])
    assert "events[0].date is 2014-04, not after start 2014-06" in str(info.value)
    assert "allowed: 2014-07 to 2016-12" in str(info.value)


def test_no_start_means_no_calendar():
    s = scenario()
    assert s.start is None and calendar_record(s) is None and calendar_events(s) == []


def test_a_run_must_end_by_year_9999():
    with pytest.raises(ValueError, match="would end in 10014-04"):
        scenario(start="9999-04")


# ------------------------------------------------------------------ the date column


def test_the_date_column_labels_steps_and_changes_no_metric(tiny):
    dated = tiny.model_copy(update={"start": "2012-11"})
    plain_ts = run_replicate(tiny, seed=3, steps=4)
    dated_ts = run_replicate(dated, seed=3, steps=4)
    assert "date" not in plain_ts.columns
    assert list(dated_ts.columns[:6]) == ["scenario", "scenario_hash", "replicate", "step",
                                          "date", "group"]
    by_step = dict(zip(dated_ts["step"], dated_ts["date"], strict=True))
    assert by_step == {0: "2012-11", 1: "2012-12", 2: "2013-01", 3: "2013-02", 4: "2013-03"}
    same = [c for c in plain_ts.columns if c != "scenario_hash"]
    pd.testing.assert_frame_equal(plain_ts[same], dated_ts[same])


def test_the_manifest_records_the_calendar():
    s = scenario(start="2011-04", events=[{"type": "gp_exodus", "date": "2013-04",
                                           "fraction": 0.1}])
    rec = calendar_record(s)
    assert rec["start"] == "2011-04" and rec["last_month"] == "2026-04"
    assert rec["events"] == [{"index": 0, "type": "gp_exodus", "step": 24, "date": "2013-04"}]


def test_calendar_events_reads_reorganisations_generically():
    ev = [SimpleNamespace(type="reorganise", step=24, name="CCGs"),
          SimpleNamespace(type="gp_exodus", step=3),
          SimpleNamespace(type="reorganise", step=135)]
    s = SimpleNamespace(start="2011-04", events=ev)
    assert calendar_events(s) == [("2013-04", "CCGs"), ("2022-07", "reorganise")]
    assert calendar_events(SimpleNamespace(start=None, events=ev)) == []

    class Reorganise(SimpleNamespace):  # a model-like event with a structure field
        model_fields = {"structure": None}  # noqa: RUF012

    ev = [Reorganise(type="reorganise", step=24, structure=None),
          Reorganise(type="reorganise", step=135, structure=SimpleNamespace(era="icb"))]
    assert calendar_events(SimpleNamespace(start="2011-04", events=ev)) == [
        ("2013-04", "reorganise: ccg"), ("2022-07", "reorganise: icb")]


# ------------------------------------------------------------------ the yearly table


def _synthetic() -> pd.DataFrame:
    """Two replicates, months 2013-02 .. 2014-05 (steps 0..15), groups overall and A;
    survey_reflected_formal = step/100 (replicate 0) and (step + 2)/100 (replicate 1), with
    replicate 0's step 5 undefined (NaN)."""
    rows = []
    for r in (0, 1):
        for step in range(16):
            for g in ("A", "overall"):
                v = (step + 2 * r) / 100
                if r == 0 and step == 5:
                    v = np.nan
                rows.append({"replicate": r, "step": step, "group": g,
                             "survey_reflected_formal": v if g == "overall" else 0.5})
    return pd.DataFrame(rows)


T_1DF = 12.706204736174707  # t_{0.975, 1}


def test_survey_by_year_by_hand_financial_years():
    table = survey_by_year(_synthetic(), "2013-02")
    ov = table[table.group == "overall"].set_index("year")
    assert list(table.group.unique()) == ["overall", "A"]  # overall first
    assert list(ov.index) == ["2012/13", "2013/14", "2014/15"]
    assert list(ov.months) == [2, 12, 2]
    assert list(ov.first_month) == ["2013-02", "2013-04", "2014-04"]
    assert list(ov.last_month) == ["2013-03", "2014-03", "2014-05"]
    assert (ov.question == "reflected").all() and (ov.respondents == "formal").all()
    # 2012/13: steps 0, 1 -> replicate means 0.005 and 0.025
    r0, r1 = 0.005, 0.025
    half = T_1DF * abs(r1 - r0) / np.sqrt(2) / np.sqrt(2)
    row = ov.loc["2012/13"]
    assert row["mean"] == pytest.approx(0.015)
    assert row.ci_low == 0.0  # 0.015 - 0.127 clipped at the lower bound
    assert row.ci_high == pytest.approx(0.015 + half)
    assert row.n == 2 and "clipped" in row.note
    # 2013/14: steps 2..13; replicate 0 without its NaN step 5
    r0 = np.mean([s for s in range(2, 14) if s != 5]) / 100
    r1 = np.mean([s + 2 for s in range(2, 14)]) / 100
    assert ov.loc["2013/14", "mean"] == pytest.approx((r0 + r1) / 2)
    # 2014/15: steps 14, 15
    assert ov.loc["2014/15", "mean"] == pytest.approx(((14.5) + (16.5)) / 2 / 100)
    a = table[table.group == "A"]
    assert (a["mean"] == 0.5).all() and (a.note == "replicates identical: zero width").all()


def test_survey_by_year_calendar_years_and_the_date_column():
    ts = _synthetic()
    ts["date"] = ct.month_labels("2013-02", ts["step"])
    table = survey_by_year(ts, year="calendar")  # the date column instead of start
    ov = table[table.group == "overall"].set_index("year")
    assert list(ov.index) == ["2013", "2014"] and list(ov.months) == [11, 5]
    r0 = np.mean([s for s in range(0, 11) if s != 5]) / 100
    r1 = np.mean([s + 2 for s in range(0, 11)]) / 100
    assert ov.loc["2013", "mean"] == pytest.approx((r0 + r1) / 2)
    with pytest.raises(ValueError, match="no date column"):
        survey_by_year(_synthetic())
    with pytest.raises(ValueError, match="date column is empty"):
        survey_by_year(_synthetic().assign(date=None))
    with pytest.raises(ValueError, match="financial"):
        survey_by_year(ts, year="fiscal")


def test_one_replicate_gives_means_and_says_why_there_is_no_interval():
    ts = _synthetic()
    table = survey_by_year(ts[ts.replicate == 1], "2013-02")
    row = table[(table.group == "overall") & (table.year == "2012/13")].iloc[0]
    assert row["mean"] == pytest.approx(0.025) and np.isnan(row.ci_low)
    assert row.n == 1 and "one replicate" in row.note


# ------------------------------------------------------------------ the figure


def test_the_history_figure_is_written_with_its_event_lines(tmp_path):
    from simulation.figures import plot_survey_history

    ts = _synthetic()
    for q in ("engaged_some", "influence", "reflected", "informed"):
        for c in ("formal", "other", "stakeholder"):
            ts[f"survey_{q}_{c}"] = ts["survey_reflected_formal"]
    table = survey_by_year(ts, "2013-02")
    path = tmp_path / "survey_history.png"
    fig = plot_survey_history(table, events=[("2013-04", "CCGs")], path=path)
    assert path.stat().st_size > 10_000
    axes = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_title() for ax in axes] == [
        "At least somewhat engaged", "Can influence its work", "Its decisions reflect my views",
        "Informed about what it is trying to achieve"]
    for ax in axes:
        dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
        assert len(dashed) == 1 and dashed[0].get_xdata()[0] == pytest.approx(2013.25)
        assert any("CCGs (2013-04)" in t.get_text() for t in ax.texts)
        assert len([ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]) == 3
    fig = plot_survey_history(table)
    assert not any(ln.get_linestyle() == "--" for ax in fig.axes for ln in ax.get_lines())


# ------------------------------------------------------------------ the command line


def test_run_with_a_start_writes_the_history(tmp_path):
    p = tmp_path / "dated.yaml"
    p.write_text(TINY.replace("steps: 24", "steps: 14\nstart: 2013-02")
                 + "events:\n  - {type: gp_exodus, date: 2013-06, fraction: 0.1}\n")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "simulation.cli", "run", str(p), "--replicates",
                           "2", "--out", str(out), "-q", "--set", "burn_in=6"],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out / "survey_by_year.csv")
    assert list(dict.fromkeys(table.year)) == ["2012/13", "2013/14", "2014/15"]
    assert list(dict.fromkeys(table.group)) == ["overall", "A", "B"]
    assert len(table) == 3 * 18 * 3  # groups x 18 survey metrics x years
    engaged = table[(table.group == "overall") & (table.metric == "survey_engaged_some_other")]
    assert list(engaged.months) == [2, 12, 1] and set(engaged.n) == {2}
    assert (out / "survey_history.png").stat().st_size > 10_000
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert ts.loc[ts.step == 14, "date"].unique().tolist() == ["2014-04"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["calendar"]["start"] == "2013-02"
    assert manifest["calendar"]["events"][0]["step"] == 4
    assert manifest["scenario"]["start"] == "2013-02"
    from simulation.figures import plot_trajectories

    fig = plot_trajectories(ts, ["engagement_gp"])
    assert fig.axes[0].get_xlabel() == "month after burn-in (0 = 2013-02)"
    # without a start: no history, and the earlier run's history files go
    p.write_text(TINY.replace("steps: 24", "steps: 3"))
    proc = subprocess.run([sys.executable, "-m", "simulation.cli", "run", str(p), "--out",
                           str(out), "-q", "--overwrite", "--no-figures"],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    assert not (out / "survey_by_year.csv").exists() and not (out / "survey_history.png").exists()
    assert "date" not in pd.read_parquet(out / "timeseries.parquet").columns
    assert "calendar" not in json.loads((out / "manifest.json").read_text())


# ------------------------------------------------------------------ the experiment store

DATED_SWEEP = """
name: dated
base: tiny.yaml
steps: 3
design: grid
parameters:
  start: ["2013-04", "2020-01"]
replicates: 1
seed: 11
keep_timeseries: true
outcomes: [accuracy_board]
"""


def test_the_store_keeps_the_date_and_reads_files_written_before_it(tmp_path):
    import pyarrow.parquet as pq

    from simulation.experiment import read_results, sweep
    from simulation.experiment.store import ResultsStore, make_schemas

    (tmp_path / "tiny.yaml").write_text(ONE_GROUP.replace("burn_in: 24", "burn_in: 3"))
    (tmp_path / "dated.yaml").write_text(DATED_SWEEP)
    out = tmp_path / "res"
    sweep(tmp_path / "dated.yaml", out=out, executor="serial", quiet=True)
    ts = read_results(out, "timeseries")
    runs = read_results(out, "runs")
    start = dict(zip(runs.run_id, runs.start, strict=True))
    for row in ts.itertuples():
        assert row.date == ct.add_months(start[row.run_id], row.step)
    # a scenario without start: the column is there, empty
    (tmp_path / "plain.yaml").write_text(DATED_SWEEP.replace('start: ["2013-04", "2020-01"]',
                                                             "engagement.gp.mean: [0.3, 0.6]"))
    sweep(tmp_path / "plain.yaml", out=tmp_path / "plain", executor="serial", quiet=True)
    plain = read_results(tmp_path / "plain", "timeseries")
    assert "date" in plain.columns and plain["date"].isna().all() and len(plain) == 2 * 4
    # a part written before the date column existed is not damaged; its dates read as empty
    part = next((out / "timeseries").rglob("*.parquet"))
    old = pq.read_table(part).drop_columns(["date"])  # as written then: no date, no SHA-256
    pq.write_table(old.replace_schema_metadata({k: v for k, v in old.schema.metadata.items()
                                                if k != b"commnet.integrity"}), part)
    schemas = make_schemas({"start": __import__("pyarrow").string()}, ["accuracy_board"], False)
    store = ResultsStore(out, schemas)
    assert store.damaged_files() == []
    assert store.read("timeseries")["date"].isna().sum() > 0


# ------------------------------------------------------------------ readers of the events


def test_readers_of_event_steps_see_dated_events_resolved():
    from simulation.experiment.outcomes import shock_step
    from simulation.model import BurnInCache
    from simulation.report.assumptions import _event_text

    s = scenario(start="2011-04", events=[
        {"type": "need_shock", "date": "2012-01", "service": "mental_health", "factor": 1.5}])
    assert shock_step(s) == 9
    assert shock_step({"events": [{"type": "need_shock", "step": 4}]}) == 4
    assert _event_text(s.events[0].model_dump(mode="json"), s.start).startswith(
        "need_shock at month 9, 2012-01 (groups=None, service=mental_health")
    assert _event_text({"type": "gp_exodus", "step": 3, "fraction": 0.1}) == (
        "gp_exodus at month 3 (fraction=0.1)")
    # a start labels months only: runs differing in it share their burn-in
    assert BurnInCache.key(s, 7) == BurnInCache.key(s.model_copy(update={"start": None}), 7)


def test_describe_names_the_calendar(tmp_path):
    p = tmp_path / "dated.yaml"
    p.write_text(TINY.replace("steps: 24", "steps: 24\nstart: 2013-04")
                 + "events:\n  - {type: gp_exodus, date: 2014-04, fraction: 0.1}\n")
    proc = subprocess.run([sys.executable, "-m", "simulation.cli", "describe", str(p)],
                          capture_output=True, text=True, cwd=ROOT, check=False,
                          env={**__import__("os").environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    assert ("calendar: month 0 = 2013-04 … month 24 = 2015-04; events: gp_exodus 2014-04 "
            "(step 12)") in proc.stdout


def test_a_scenario_without_start_keeps_the_hash_it_had_before_the_calendar():
    import hashlib

    s = load_scenario(ROOT / "scenarios" / "mental_health_surge.yaml")  # has events
    data = s.model_dump(mode="json")
    assert data.pop("start") is None
    for ev in data["events"]:
        assert ev.pop("date") is None
    before = hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode())
    assert scenario_hash(s) == before.hexdigest()[:16]
    assert scenario_hash(s.model_copy(update={"start": "2013-04"})) != scenario_hash(s)
