"""Issue 20: the input layer flows one way (errors and shared types → schema → file readers →
builders → loader) with no circle, lazy and TYPE_CHECKING imports included."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("import_graph", ROOT / "benchmarks" / "import_graph.py")
ig = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ig)


def test_the_input_layer_flows_one_way_without_a_circle():
    assert ig.violations() == []


def test_every_input_module_exists_and_errors_sit_at_the_bottom():
    g = ig.graph()
    for _, mods in ig.LAYERS:
        for m in mods:
            assert m in g, m
    # the bottom: errors use only the text helpers (issue 23), which import nothing
    assert g["errors"] <= {"_text"} and g["kinds"] == set() and g["_text"] == set()
    assert "loader" not in g["memory"] and "loader" not in g["registers"]
    assert "registers" not in g["population"] and "registers" not in g["scenario"]


def test_lazy_and_type_checking_imports_count(tmp_path):
    f = tmp_path / "mod.py"
    f.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .scenario import X\n"
                 "def f():\n    from .loader import ScenarioError\n    from . import registers\n"
                 "import simulation.network\nfrom simulation.population import P\n")
    assert ig.module_imports(f, in_subpackage=False) == {
        "scenario", "loader", "registers", "network", "population"}


def test_a_circle_or_an_upward_import_is_reported():
    g = {k: set(v) for k, v in ig.graph().items()}
    g["registers"].add("loader")  # the old circle: the reader importing the loader's errors
    found = ig.violations(g)
    assert any("registers" in v and "imports loader" in v and "upward" in v for v in found)
    assert any(v.startswith("circle among") and "loader" in v and "registers" in v
               for v in found)
    g = {k: set(v) for k, v in ig.graph().items()}
    g["scenario"].add("model")
    assert any("outside the input layer" in v for v in ig.violations(g))


def test_modules_import_in_layer_order_in_a_fresh_interpreter():
    order = [m for _, mods in ig.LAYERS for m in mods if (ROOT / "simulation" / f"{m}.py").is_file()]
    code = ("import importlib, json, sys\nseen = []\n"
            f"for m in {order!r}:\n"
            "    before = {k for k in sys.modules if k.startswith('simulation.')}\n"
            "    importlib.import_module('simulation.' + m)\n"
            "    seen.append(sorted({k for k in sys.modules if k.startswith('simulation.')} - before))\n"
            "print(json.dumps(seen))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         check=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    # importing each module in layer order pulls in nothing of a later layer
    leaves = {f"simulation.{x}" for x in ig.LEAVES}
    for m, new in zip(order, seen, strict=True):
        assert set(new) - leaves <= {f"simulation.{m}"}, (m, new)


def test_the_script_prints_the_graph():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "import_graph.py")],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[0] errors and shared types" in out.stdout
    assert "flows one way, no circle" in out.stdout
