"""commnet report: every folder kind renders one self-contained HTML file, a browser opens it
without a single failed or external request, and bad folders fail cleanly."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ONE_GROUP

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

    (base / "low.yaml").write_text("extends: tiny.yaml\nname: low\nengagement: {gp: {mean: 0.2}}\n")
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
    assert "standardised by replicate noise" in html and "difference from tiny" in html
    ctx = build_context(folders["compare"])
    assert [c["name"] for c in ctx["cases"]] == ["tiny", "low"]
    eng = next(r for r in ctx["rows"] if r["metric"] == "engagement_gp")
    assert eng["others"][0]["method"] == "paired" and eng["others"][0]["diff"].startswith("−")
    assert any(d["path"] == "engagement.gp.mean" for d in ctx["differences"])


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


def test_report_out_that_cannot_be_written_is_a_clean_error(folders, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for out in (blocker / "report.html", "/proc/report.html"):
        res = subprocess.run([sys.executable, "-m", "simulation.cli", "report", str(folders["run"]),
                              "--out", str(out)], capture_output=True, text=True, cwd=ROOT,
                             timeout=300)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]
        assert "cannot write" in res.stderr and "--out" in res.stderr
