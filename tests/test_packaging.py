"""Packaging: the shipped project template, ``commnet init``, the build step, the licence,
and a wheel built, installed into a fresh virtual environment and run outside the checkout."""

import os
import runpy
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.request
import venv
import zipfile
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
    # init copies the notebooks and the docs that help texts and reports point to
    for f in ("notebooks/what_if_comparison.ipynb", "docs/parameters.md", "docs/metrics.md",
              "docs/ODD.md", "docs/experiments.md"):
        assert f in template_files(ROOT)


def test_setup_maps_each_folder_onto_a_package_with_all_its_files(monkeypatch):
    """setup.py's package_dir/package_data, captured without building, cover the same files."""
    import setuptools

    seen = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kw: seen.update(kw))
    runpy.run_path(str(ROOT / "setup.py"))
    shipped = sorted(f"{seen['package_dir'][pkg]}/{name}"
                     for pkg, names in seen["package_data"].items() for name in names
                     if pkg.startswith("simulation.project."))
    assert shipped == template_files(ROOT)
    assert seen["package_data"]["simulation.report"] == ["templates/*.j2"]
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


def test_citation_and_changelog_name_this_release():
    """CITATION.cff is CFF 1.2.0 with the required keys and the package's version; the
    changelog has an Unreleased section (what changes in results comes first)."""
    import yaml

    import simulation

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert {"message", "title", "authors", "version", "license", "type"} <= set(cff)
    assert str(cff["version"]) == simulation.__version__
    assert all("name" in a or "family-names" in a for a in cff["authors"])
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "\n## Unreleased\n" in changelog and "\n### Results\n" in changelog
    assert f"\n## {simulation.__version__} — " in changelog


def test_pyproject_declares_no_package_data_that_would_replace_setup_py():
    """A [tool.setuptools.package-data] table takes precedence over setup.py's package_data:
    with one, the wheel shipped no simulation/project/ (issue 21)."""
    import tomllib

    tool = tomllib.loads((ROOT / "pyproject.toml").read_text()).get("tool", {})
    assert "package-data" not in tool.get("setuptools", {})


# ------------------------------------------------------------------ a real wheel, installed
def _source_copy(dest: Path) -> Path:
    """The tracked files of the checkout (or, outside git, the tree without build output),
    so the build writes its build/ and egg-info into a temporary folder."""
    proc = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    if proc.returncode == 0 and proc.stdout:
        for rel in proc.stdout.decode().split("\0"):
            if rel and (ROOT / rel).is_file():
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / rel, dest / rel)
    else:
        shutil.copytree(ROOT, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
            ".venv", ".git", "results", "build", "dist", "*.egg-info", "__pycache__"))
    return dest


def _fresh_venv(path: Path, wheel: Path) -> Path:
    """A new virtual environment with ``wheel`` installed, whose only extra path is this
    environment's site-packages (the dependencies, so nothing is downloaded).  That path is
    added after the install (pip would otherwise take this checkout's editable install for
    commnet already installed) by a plain ``.pth`` line, so the .pth files in it -- the
    editable install's finder -- are not run: the only ``simulation`` the new environment
    can import is the wheel's."""
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(path)
    except Exception as exc:  # no ensurepip (Debian without python3-venv), read-only /tmp
        pytest.skip(f"cannot create a virtual environment here: {exc}")
    python = path / "bin" / "python"
    install = subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                              "--disable-pip-version-check", str(wheel)],
                             capture_output=True, text=True, check=False, env=_clean_env())
    assert install.returncode == 0, install.stderr[-3000:]
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True, env=_clean_env()).stdout.strip()
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    deps |= {p for p in sys.path if p.endswith("site-packages")}
    deps = [p for p in deps if Path(p).is_dir()]
    (Path(purelib) / "_commnet_test_dependencies.pth").write_text("\n".join(sorted(deps)) + "\n")
    # the data files the dependencies install beside site-packages (the widget front ends'
    # Jupyter config, which Solara's server reads from sys.prefix/etc/jupyter)
    for data in ("etc/jupyter", "share/jupyter"):
        if (Path(sys.prefix) / data).is_dir():
            shutil.copytree(Path(sys.prefix) / data, path / data, dirs_exist_ok=True)
    return python


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env.update(COLUMNS="100", **extra)
    return env


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    """Build the wheel, install it into a fresh virtual environment and use it from a folder
    that is not the checkout: init, validate, run, report, and the app with and without its
    extra (issue 21: the wheel shipped no scenarios, and `commnet app` without the extra
    ended in a traceback)."""
    src = _source_copy(tmp_path / "src")
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps",
                            "--no-build-isolation", "-w", str(dist), "-q"],
                           capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = dist.glob("commnet-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for f in [*template_files(ROOT), "simulation/report/templates/compare.html.j2"]:
        shipped = f if f.startswith("simulation/") else f"simulation/project/{f}"
        assert shipped in names, f"{shipped} is not in the wheel"

    python = _fresh_venv(tmp_path / "venv", wheel)
    bindir = python.parent
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = _clean_env()

    def commnet(*args: str, check: bool = True, **kw):
        proc = subprocess.run([bindir / "commnet", *args], cwd=kw.pop("cwd", work), env=kw.pop(
            "env", env), capture_output=True, text=True, timeout=300, check=False, **kw)
        if check:
            assert proc.returncode == 0, f"commnet {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    where = subprocess.run([python, "-c", "import simulation; print(simulation.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True)
    installed = Path(where.stdout.strip()).resolve()
    assert installed.is_relative_to((tmp_path / "venv").resolve()), installed
    assert not installed.is_relative_to(ROOT.resolve())

    out = commnet("init", "proj")
    proj = work / "proj"
    assert "notebooks/" in out.stdout and "docs/" in out.stdout
    for f in ("scenarios/teaching.yaml", "notebooks/what_if_comparison.ipynb",
              "docs/parameters.md", "docs/metrics.md"):
        assert (proj / f).is_file(), f
    commnet("validate", "scenarios/teaching.yaml", "scenarios/low_gp_engagement.yaml", cwd=proj)
    commnet("run", "scenarios/teaching.yaml", "--steps", "3", "--replicates", "1", "--quiet",
            "--no-figures", "--out", "results/t", cwd=proj)
    assert (proj / "results" / "t" / "timeseries.parquet").is_file()
    commnet("report", "results/t", cwd=proj)  # the templates are packaged
    html = (proj / "results" / "t" / "report.html").read_text()
    assert f"commnet {simulation_version()}" in html

    # without the app extra (uvicorn made unimportable): a clear message, exit 2
    block = tmp_path / "no_app_extra"
    (block / "uvicorn").mkdir(parents=True)
    (block / "uvicorn" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'uvicorn'\", name='uvicorn')\n")
    no_extra = commnet("app", "--no-browser", cwd=proj, check=False,
                       env=_clean_env(PYTHONPATH=str(block)))
    assert no_extra.returncode == 2
    assert "pip install 'commnet[app]'" in no_extra.stderr

    # with the extra (this environment has it): the server starts and answers
    pytest.importorskip("solara")
    from simulation.app.launch import free_port

    port = free_port()
    log = tmp_path / "app.log"
    with log.open("w") as fh:
        proc = subprocess.Popen([bindir / "commnet", "app", "--no-browser", "--port", str(port)],
                                cwd=proj, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "commnet app: http" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        assert "commnet app: http" in log.read_text(), log.read_text()[-3000:]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as page:
            assert page.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "Traceback" not in log.read_text()


def simulation_version() -> str:
    import simulation

    return simulation.__version__
