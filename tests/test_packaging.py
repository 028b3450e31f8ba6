"""Packaging: the shipped project template, ``commnet init``, the build step, the licence."""

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from simulation.loader import ScenarioError, load_scenario
from simulation.project import TEMPLATE_FOLDERS, init_project, template_files, template_root

ROOT = Path(__file__).resolve().parents[1]


def _git_files() -> list[str]:
    proc = subprocess.run(["git", "ls-files", *TEMPLATE_FOLDERS], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        pytest.skip("not a git checkout")
    return sorted(proc.stdout.split())


def test_packaged_files_are_exactly_the_top_level_folders():
    """What setup.py ships as package data is every tracked file of scenarios/, experiments/,
    calibration/ and data/ -- no file left out, nothing else."""
    assert template_files(ROOT) == _git_files()
    assert "scenarios/teaching.yaml" in template_files(ROOT)


def test_setup_maps_each_folder_onto_a_package_with_all_its_files(monkeypatch):
    """setup.py's package_dir/package_data, captured without building, cover the same files."""
    import setuptools

    seen = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kw: seen.update(kw))
    runpy.run_path(str(ROOT / "setup.py"))
    shipped = sorted(f"{seen['package_dir'][pkg]}/{name}"
                     for pkg, names in seen["package_data"].items() for name in names)
    assert shipped == template_files(ROOT)
    assert {"simulation", "simulation.experiment", "simulation.app"} <= set(seen["packages"])
    assert all(f"simulation.project.{f}" in seen["packages"] for f in TEMPLATE_FOLDERS)


def test_init_copies_a_project_that_validates_and_never_overwrites(tmp_path):
    dest = tmp_path / "p"
    written = init_project(dest)
    assert sorted(p.relative_to(dest).as_posix() for p in written) == template_files(template_root())
    # the scenarios' relative paths (extends, ../data/synthetic) work in the new folder
    for name in ("teaching", "register_plain", "low_gp_engagement"):
        load_scenario(dest / "scenarios" / f"{name}.yaml")
    (dest / "scenarios" / "teaching.yaml").write_text("name: mine\n")
    with pytest.raises(ScenarioError, match="already holds"):
        init_project(dest)
    assert (dest / "scenarios" / "teaching.yaml").read_text() == "name: mine\n"


def test_init_command(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "simulation.cli", "init", str(tmp_path / "p")],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "p" / "experiments" / "sobol_key_parameters.yaml").is_file()
    again = subprocess.run([sys.executable, "-m", "simulation.cli", "init", str(tmp_path / "p")],
                           capture_output=True, text=True, cwd=ROOT, check=False)
    assert again.returncode == 2 and "already holds" in again.stderr
    assert "Traceback" not in again.stderr


def test_licence_is_mit_and_named_in_pyproject():
    import tomllib

    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "2026 commnet authors" in text
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["license"] == "MIT" and meta["license-files"] == ["LICENSE"]
