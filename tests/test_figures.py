"""Figures return matplotlib figures, label axes from the metric registry, and importing the
project never selects a matplotlib backend."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from simulation.figures import plot_network, plot_patterns, plot_trajectories, save
from simulation.model import CommissioningModel
from simulation.reporters import label
from simulation.results import run_scenario, write_figures

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_project_selects_no_backend():
    code = ("import sys, matplotlib\n"
            "import simulation, simulation.figures, simulation.results, simulation.report\n"
            "import simulation.experiment.compare, simulation.experiment.sensitivity\n"
            "import simulation.experiment.calibrate, simulation.cli\n"
            "assert matplotlib.rcParams._get_backend_or_none() is None, "
            "matplotlib.rcParams._get_backend_or_none()\n"
            "assert 'matplotlib.pyplot' not in sys.modules\n")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["PYTHONPATH"] = str(ROOT)
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr


@pytest.fixture
def run(tiny):
    return run_scenario(tiny, replicates=2, steps=4)


def test_trajectories_return_a_labelled_figure(run, tmp_path):
    fig = plot_trajectories(run.timeseries, metrics=["relevance_skill", "misallocated_per_head"])
    assert isinstance(fig, Figure) and not list(tmp_path.glob("*.png"))
    axes = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_title() for ax in axes] == ["Decision skill (higher is better)",
                                               "Misallocated spend (lower is better)"]
    assert axes[1].get_ylabel() == "£ per head per year"
    assert axes[0].get_xlabel() == "month after burn-in"
    assert "Decision skill" in label("relevance_skill")
    out = save(fig, tmp_path / "t.png")
    assert out.stat().st_size > 1000
    fig2 = plot_trajectories(run.timeseries, metrics=["reach"], path=tmp_path / "r.svg")
    assert isinstance(fig2, Figure) and (tmp_path / "r.svg").read_text().startswith("<?xml")


def test_old_positional_path_is_refused(run, tmp_path):
    with pytest.raises(TypeError, match="pass path="):
        plot_trajectories(run.timeseries, tmp_path / "x.png")
    table = pd.DataFrame({"pattern": ["1"], "metric": ["relevance_skill"], "difference": [0.1],
                          "ci_low": [0.05], "ci_high": [0.15], "holds": [True]})
    with pytest.raises(TypeError, match="pass path="):
        plot_patterns(table, "patterns.png")
    fig = plot_patterns(table, "my title")
    assert fig.axes[0].get_xlabel().startswith("difference (0 = no local knowledge")


def test_run_figures_are_written_by_the_caller(tiny, tmp_path):
    res = run_scenario(tiny, replicates=1, steps=3)
    model = CommissioningModel(tiny, seed=1)
    fig = plot_network(model.pop, model.ties.src, model.ties.dst, model.ties.weight,
                       model.on_board, seed=1)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    paths = write_figures(res, model, tmp_path)
    assert set(paths) == {"trajectories", "network"}
    assert all(p.exists() and p.stat().st_size > 1000 for p in paths.values())
