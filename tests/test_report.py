"""commnet report: every folder kind renders one self-contained HTML file, a browser opens it
without a single failed or external request, and bad folders fail cleanly."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ONE_GROUP

import simulation
from simulation.loader import ScenarioError, load_scenario
from simulation.report import build_context, detect_kind, report_html, write_report
from simulation.report.caveats import NOT_REPRODUCED
from simulation.results import run_scenario, write_figures, write_results
from simulation.statistics import ONE_REPLICATE

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"

TINY = ONE_GROUP + "description: A one-group test scenario.\n"

GRID = """
name: grid
description: Does GP engagement change board accuracy, with and without localities?
base: tiny.yaml
steps: 4
design: grid
parameters:
  engagement.gp.mean: [0.3, 0.6]
  localities.enabled: [true, false]
replicates: 2
seed: 11
outcomes:
  - accuracy_board
  - {metric: coherence_internal, reduce: mean_last, last: 3}
"""

CAL = """
name: tiny_cal
base: {base}
set: {{steps: 8, burn_in: 2}}
seed: 3
parameters:
  - {{path: engagement.gp.mean, low: 0.3, high: 0.8}}
targets:
  - {{name: informed_other, metric: informed_other, months: [6, 8], observed: 0.55, sd: 0.05}}
abc: {{population_size: 10, generations: 1, predictive_draws: 2}}
"""

#: Anything that would make a browser fetch something: attributes with a URL, CSS url()
#: or @import, scripts, stylesheets, frames.
EXTERNAL = re.compile(r"""(?:src|href|action|srcset|poster|data)\s*=\s*["']?\s*(?!data:|\#)[a-z]+:"""
                      r"""|url\(|@import|<script|<link|<iframe|<object|<embed|https?://""", re.I)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    (base / "tiny.yaml").write_text(TINY)
    tiny = load_scenario(base / "tiny.yaml")
    out = {}
    res = run_scenario(tiny, replicates=3, steps=4)
    write_results(res, base / "run")
    write_figures(res, None, base / "run")
    one = run_scenario(tiny, replicates=1, steps=3)
    one.manifest["overrides"] = ["engagement.gp.mean=0.5"]
    write_results(one, base / "one")
    out["run"], out["one"] = base / "run", base / "one"

    from simulation.experiment.compare import run_compare
    from simulation.experiment.runner import run_experiment

    (base / "low.yaml").write_text("extends: tiny.yaml\nname: low\nengagement: {gp: {mean: 0.2}}\n"
                                   "description: The test scenario with GP engagement 0.2. More.\n")
    run_compare([base / "tiny.yaml", base / "low.yaml"], replicates=2, steps=3,
                out=base / "compare", executor="serial", quiet=True)
    out["compare"] = base / "compare"
    (base / "grid.yaml").write_text(GRID)
    run_experiment(base / "grid.yaml", out=base / "sweep", executor="serial", quiet=True)
    out["sweep"] = base / "sweep"
    return out


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    from simulation.experiment.calibrate import calibrate

    base = tmp_path_factory.mktemp("cal")
    (base / "cal.yaml").write_text(CAL.format(base=ROOT / "scenarios" / "teaching.yaml"))
    calibrate(base / "cal.yaml", base / "out", executor="serial")
    return base / "out"


def _self_contained(html: str) -> None:
    found = EXTERNAL.findall(html)
    assert not found, found[:5]
    assert "default-src 'none'" in html  # the CSP forbids any request the text might imply
    assert html.count("data:image/png;base64,") >= 1


def test_run_report(folders):
    assert detect_kind(folders["run"]) == "run"
    html = report_html(folders["run"])
    _self_contained(html)
    for text in ("The question", "A one-group test scenario.", "Key assumptions", "Caveats",
                 "Provenance", "Decision skill", "£ per head per year", "Student-t interval",
                 "Patterns the model does not reproduce", "fitted", "assumed",
                 json.loads((folders["run"] / "manifest.json").read_text())["scenario_hash"]):
        assert text in html, text
    ctx = build_context(folders["run"])
    skill = next(r for r in ctx["final"] if r["metric"] == "relevance_skill")
    assert skill["n"] == 3 and skill["unit"].startswith("0 = no local knowledge")
    assert ctx["assumptions"]["counts"]["assumed"] > 0 and ctx["assumptions"]["fitted"]
    assert "Only 3 replicates" in " ".join(ctx["caveats"])
    assert ctx["warnings"][0].startswith("Only 3 replicates: the intervals are wide")
    assert "the design is underpowered" in html
    assert ctx["provenance"]["release"] == f"commnet {simulation.__version__}"
    assert len(ctx["figures"]) == 1  # trajectories; no network.png was written


def test_one_replicate_says_why_there_is_no_interval(folders):
    html = report_html(folders["one"])
    assert ONE_REPLICATE in html and "no intervals can be given" in html
    assert "engagement.gp.mean=0.5" in html  # the override, with its basis
    ctx = build_context(folders["one"])
    assert ctx["assumptions"]["overrides"] == [{"change": "engagement.gp.mean=0.5",
                                                "basis": "fitted"}]


def test_compare_report(folders):
    assert detect_kind(folders["compare"]) == "compare"
    html = report_html(folders["compare"])
    _self_contained(html)
    assert "standardised by replicate noise" in html
    assert "difference from “A one-group test scenario”" in html
    ctx = build_context(folders["compare"])
    assert [c["name"] for c in ctx["cases"]] == ["tiny", "low"]
    # issue 21: human names (the description's first sentence), not file stems
    assert ctx["title"] == "“The test scenario with GP engagement 0.2” compared with " \
                           "“A one-group test scenario”"
    assert "tiny" not in ctx["question"] and "low" not in ctx["question"]
    # the reduction is named (the compare ran 3 months: the mean is over all of them)
    assert ctx["what"] == "mean of all 3 months (runs shorter than 12 months)"
    assert ctx["what"] in ctx["question"]
    # the headline in £, the difference in words whether or not it moves
    lines = ctx["headline"]["lines"]
    assert lines[0].startswith("Misallocated spend") and "£" in lines[0]
    assert ("£ per head is unchanged within its interval" in lines[1]
            or "per head per year more away from need" in lines[1]
            or "per head per year less away from need" in lines[1]), lines[1]
    assert ctx["headline"]["benchmark"] is None or "fed true need" in ctx["headline"]["benchmark"]
    assert len(ctx["sentences"]) == 4  # every headline metric, clear or not
    assert html.index('id="headline"') < html.index('id="results"')
    # underpowered: said at the top of the results
    assert any(w.startswith("Only 2 replicates per scenario") for w in ctx["warnings"])
    assert "the design is underpowered" in html
    assert ctx["provenance"]["release"] == f"commnet {simulation.__version__}"
    eng = next(r for r in ctx["rows"] if r["metric"] == "engagement_gp")
    assert eng["others"][0]["method"] == "paired" and eng["others"][0]["diff"].startswith("−")
    assert any(d["path"] == "engagement.gp.mean" for d in ctx["differences"])


def _pound_rows(clear: bool) -> list[dict]:
    other = {"case": "b", "value": {"mean": "£10.2"}, "clear": clear,
             "diff": "+£2.0" if clear else "+£0.2", "low": "+£1.0" if clear else "−£0.5",
             "high": "+£3.0" if clear else "+£0.9",
             "verdict": "higher: worse" if clear else "no clear difference"}
    return [{"metric": "misallocated_per_head", "ref": {"mean": "£10.0"}, "others": [other]}]


def test_pounds_headline_says_the_difference_and_shows_benchmarks_only_when_recorded():
    from simulation.report.build import _pounds_headline

    frame = pd.DataFrame({"misallocated_per_head__last12": [10.0, 10.0]})
    by_case = {"a": frame, "b": frame}
    names = {"a": "Scenario A", "b": "Scenario B"}
    same = _pounds_headline(_pound_rows(False), by_case, ["a", "b"], names, "__last12")
    assert same["lines"][1] == ("£ per head is unchanged within its interval: “Scenario B” differs "
                                "from “Scenario A” by +£0.2 per head per year (95% interval −£0.5 "
                                "to +£0.9, which includes 0).")
    assert same["benchmark"] is None  # no benchmark columns: none invented
    moved = _pounds_headline(_pound_rows(True), by_case, ["a", "b"], names, "__last12")
    assert moved["lines"][1].startswith("“Scenario B” spends £2.0 per head per year more away "
                                        "from need than “Scenario A”")
    bench = frame.assign(misallocated_floor_per_head__last12=[30.0, 32.0],
                         misallocated_ceiling_per_head__last12=[2.0, 2.0])
    withb = _pounds_headline(_pound_rows(False), {"a": bench, "b": bench}, ["a", "b"], names,
                             "__last12")
    assert withb["benchmark"] == ("For scale, the same decision rule would misallocate, per head "
                                  "per year: fed no local knowledge, £31.0; fed true need (perfect "
                                  "knowledge), £2.0.")
    assert np.isfinite(bench["misallocated_floor_per_head__last12"]).all()
    other = bench.assign(misallocated_floor_per_head__last12=[40.0, 40.0])
    both = _pounds_headline(_pound_rows(False), {"a": bench, "b": other}, ["a", "b"], names,
                            "__last12")
    assert "fed no local knowledge, £31.0 in “Scenario A”, £40.0 in “Scenario B”;" in both["benchmark"]


def test_sweep_report_draws_a_yes_no_parameter_as_categories(folders):
    """issue 21: a yes/no parameter was drawn on a 0-1 axis, an undefined outcome at 0.5."""
    from matplotlib.figure import Figure

    from simulation.report.build import _categories, is_categorical

    runs = pd.read_parquet(folders["sweep"] / "outcomes")
    assert is_categorical(runs["localities.enabled"]) and not is_categorical(runs["engagement.gp.mean"])
    ax = Figure().subplots()
    x = pd.Series([True, False, True, False])
    _categories(ax, x, pd.Series([1.0, 2.0, 3.0, 4.0]))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["no (false)", "yes (true)"]
    dots = ax.collections[0].get_offsets()
    assert all(-0.5 < px < 0.5 if py in (2.0, 4.0) else 0.5 < px < 1.5 for px, py in dots)
    assert list(ax.lines[0].get_ydata()) == [3.0, 2.0]  # means: false 3, true 2


def test_sensitivity_warnings_name_an_undersized_design():
    from simulation.experiment.sensitivity import design_warnings

    sobol = pd.DataFrame({"outcome": "y", "parameter": ["a", "b", "c"], "S1": [-0.2, 0.4, 0.01],
                          "S1_conf": [0.3, 0.6, 0.02], "ST": [1.3, 0.5, 0.02],
                          "ST_conf": [0.2, 0.1, 0.03], "blocks": 8})
    text = " ".join(design_warnings(sobol, "sobol"))
    assert "only 8 Sobol base samples" in text
    assert "S1 < 0 for a" in text and "ST > 1 for a" in text
    assert "wider than the estimate for b (S1 0.40 ± 0.60)" in text
    assert "for c" not in text  # a negligible index with a wide interval is not news
    fine = sobol.assign(S1=[0.2, 0.4, 0.0], S1_conf=0.01, ST=[0.3, 0.5, 0.0], ST_conf=0.01,
                        blocks=512)
    assert design_warnings(fine, "sobol") == []
    morris = pd.DataFrame({"outcome": "y", "parameter": ["a", "b"], "mu_star": [0.5, 0.2],
                           "mu_star_conf": [0.1, 0.3], "mu": [0.5, 0.1], "sigma": [0.1, 0.2],
                           "blocks": 4})
    text = " ".join(design_warnings(morris, "morris"))
    assert "only 4 Morris trajectories" in text and "wider than μ* for b" in text


def test_sweep_report(folders):
    assert detect_kind(folders["sweep"]) == "sweep"
    html = report_html(folders["sweep"])
    _self_contained(html)
    ctx = build_context(folders["sweep"])
    assert ctx["question"].startswith("Does GP engagement")
    assert [p["name"] for p in ctx["parameters"]] == ["engagement.gp.mean", "localities.enabled"]
    assert len(ctx["points"]) == 4 and len(ctx["corr"]) == 2
    assert "Spearman" in html


@pytest.mark.slow
def test_calibration_report(calibration):
    assert detect_kind(calibration) == "calibration"
    path = write_report(calibration)
    html = path.read_text()
    _self_contained(html)
    assert "informed_other" in html and "posterior predictive" in html
    ctx = build_context(calibration)
    assert ctx["params"][0]["parameter"] == "engagement.gp.mean"
    assert ctx["provenance"]["seed"] == 3


def test_bad_folders_fail_cleanly(tmp_path):
    with pytest.raises(ScenarioError, match="no such folder"):
        detect_kind(tmp_path / "missing")
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ScenarioError, match="not valid JSON"):
        detect_kind(tmp_path)
    (tmp_path / "manifest.json").write_text('{"command": "commnet patterns"}')
    with pytest.raises(ScenarioError, match="not a results folder"):
        detect_kind(tmp_path)
    res = subprocess.run([sys.executable, "-m", "simulation.cli", "report", str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert res.returncode == 2 and "not a results folder" in res.stderr
    assert "Traceback" not in res.stderr


def test_caveats_name_every_check_that_is_not_reproduced():
    spec = importlib.util.spec_from_file_location("patterns_lists", ROOT / "tests" / "test_patterns.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ours = {check for c in NOT_REPRODUCED for check in c.checks}
    assert ours == module.NOT_REPRODUCED


@pytest.mark.browser
def test_a_browser_opens_the_reports_without_a_failed_request(folders, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium at /usr/bin/chromium: apt-get install -y chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    pages = [write_report(folders[k], tmp_path / f"{k}.html") for k in ("run", "compare", "sweep")]
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"])
        try:
            pg = browser.new_page(viewport={"width": 1280, "height": 800})
            allowed: list[str] = []

            def route(r):
                u = r.request.url
                if u in allowed or u.startswith("data:"):
                    r.continue_()
                else:
                    problems.append(f"external {u}")
                    r.abort()

            pg.route("**/*", route)
            pg.on("requestfailed", lambda r: problems.append(f"failed {r.url} {r.failure}"))
            pg.on("pageerror", lambda e: problems.append(f"js {e}"))
            pg.on("console", lambda m: m.type == "error" and problems.append(f"console {m.text}"))
            for page in pages:
                url = page.resolve().as_uri()
                allowed.append(url)
                pg.goto(url, wait_until="load")
                assert pg.locator("h2#caveats").is_visible()
                assert pg.locator("h1").inner_text()
                broken = pg.evaluate("Array.from(document.images).filter("
                                     "i => !(i.complete && i.naturalWidth > 0)).length")
                assert broken == 0, page
                assert pg.evaluate("document.images.length") >= 1
        finally:
            browser.close()
    assert not problems, problems


def test_human_names_of_the_shipped_scenarios():
    from simulation.report.build import human_name

    def name(stem):
        scenario = load_scenario(ROOT / "scenarios" / f"{stem}.yaml").model_dump(mode="json")
        return human_name(scenario, stem)

    assert name("east_of_england_2013") == "East of England 2013"
    assert name("low_gp_engagement") == ("East of England 2013 with mean GP engagement 0.3 "
                                         "instead of the fitted 0.426")
    assert name("teaching") == "One small CCG for classroom use"
    assert name("england_2013").startswith("211 CCGs") and len(name("england_2013")) <= 110
    assert human_name({"description": ""}, "fallback") == "fallback"


@pytest.mark.parametrize("table", ["outcomes", "runs"])
@pytest.mark.parametrize("copies", [1, 2])
def test_a_damaged_store_part_is_set_aside_and_named(folders, tmp_path, table, copies):
    # as `sweep --resume` finds them (page checksums), the report leaves them out and says so
    import shutil

    sweep = tmp_path / "sweep"
    shutil.copytree(folders["sweep"], sweep)
    parts = sorted((sweep / table).rglob("*.parquet"))
    if copies == 2:  # a second readable copy of the same rows (a part of a later session)
        (sweep / table / "g00009").mkdir()
        shutil.copy(parts[0], sweep / table / "g00009" / "s0002-0000001.parquet")
    victim = parts[0]
    data = bytearray(victim.read_bytes())
    mid = len(data) // 3
    data[mid:mid + 8] = bytes(b ^ 0xFF for b in data[mid:mid + 8])
    victim.write_bytes(bytes(data))
    res = subprocess.run([sys.executable, "-m", "simulation.cli", "report", str(sweep)],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    out = res.stdout + res.stderr
    assert "Traceback" not in out, out[-3000:]
    if len(parts) == 1 and copies == 1:  # nothing stored is readable: a clean error
        assert res.returncode == 2 and "no readable stored runs" in res.stderr
    else:
        assert res.returncode == 0, out[-3000:]
        html = (sweep / "report.html").read_text()
        assert victim.name in html and "left out of this report" in html
    assert f"{victim} could not be read" in res.stderr.replace("\n", "")


def test_a_part_that_reads_but_fails_its_digest_is_left_out(folders, tmp_path):
    """A part whose bytes still read (here one digit of its own SHA-256 is changed) but do not
    match its digest is left out of the report's tables, as the note about it says."""
    import io
    import shutil

    from simulation.experiment.store import _digest_at
    from simulation.report.build import _read_table, damaged_parts

    sweep = tmp_path / "sweep"
    shutil.copytree(folders["sweep"], sweep)
    whole = _read_table(sweep, "runs", ["run_id"])
    victim = sorted((sweep / "runs").rglob("*.parquet"))[0]
    held = set(pd.read_parquet(victim)["run_id"])
    data = bytearray(victim.read_bytes())
    at = _digest_at(io.BytesIO(bytes(data)))
    data[at] = ord("1") if data[at] != ord("1") else ord("2")
    victim.write_bytes(bytes(data))
    assert set(pd.read_parquet(victim)["run_id"]) == held  # still reads
    kept = _read_table(sweep, "runs", ["run_id"])
    assert set(kept.get("run_id", [])) == set(whole["run_id"]) - held  # (one part: none)
    [note] = damaged_parts(sweep)
    assert str(victim) in note and "SHA-256" in note and "left out" in note


def test_report_out_that_cannot_be_written_is_a_clean_error(folders, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for out in (blocker / "report.html", "/proc/report.html"):
        res = subprocess.run([sys.executable, "-m", "simulation.cli", "report", str(folders["run"]),
                              "--out", str(out)], capture_output=True, text=True, cwd=ROOT,
                             timeout=300)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]
        assert "cannot write" in res.stderr and "--out" in res.stderr
