"""The project template: the shipped scenarios, experiments, calibration, synthetic data,
example notebooks and documentation.

A source checkout keeps them in the top-level folders ``scenarios/``, ``experiments/``,
``calibration/``, ``data/``, ``notebooks/`` and ``docs/``, the only copy in git.  A wheel
carries them as package data under ``simulation/project/`` (``setup.py`` maps each folder
to a sub-package and lists :func:`template_files` as its data), so an installed
``commnet`` -- ``pipx install`` of the wheel -- has them too, and ``commnet init DIR``
copies them into a new project folder with the same layout (the scenarios'
``../data/synthetic/...`` paths keep working there, the notebooks find ``../scenarios``,
and the ``docs/parameters.md``, ``docs/metrics.md``, ``docs/ODD.md`` and
``docs/experiments.md`` that help texts and reports point to are there).

This module uses the standard library only: ``setup.py`` runs it with ``runpy`` at build
time, before any dependency is installed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["TEMPLATE_FOLDERS", "init_project", "template_files", "template_root"]

#: top-level folders of a project, shipped with the package and copied by ``commnet init``
TEMPLATE_FOLDERS = ("scenarios", "experiments", "calibration", "data", "notebooks", "docs")

_SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints"}


def template_files(root: str | Path) -> list[str]:
    """Every file of the template folders under ``root``, as sorted POSIX paths relative to
    ``root`` (``scenarios/teaching.yaml``, ``data/synthetic/survey.graphml``, …), leaving out
    hidden files, ``__pycache__`` folders and compiled Python."""
    root = Path(root)
    out = []
    for folder in TEMPLATE_FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            rel = path.relative_to(root)
            if (path.is_file() and not any(p.startswith(".") or p in _SKIP_PARTS
                                           for p in rel.parts)
                    and path.suffix not in (".pyc", ".pyo")):
                out.append(rel.as_posix())
    return sorted(out)


def template_root() -> Path:
    """The folder holding the template folders: ``simulation/project`` in an installed
    package, the repository root in a source checkout (or an editable install of one)."""
    here = Path(__file__).resolve().parent
    for root in (here / "project", here.parent):
        if (root / "scenarios" / "teaching.yaml").is_file():
            return root
    raise FileNotFoundError(f"no scenarios shipped with commnet: neither {here / 'project'} "
                            f"nor {here.parent / 'scenarios'} exists (a broken install?)")


def init_project(dest: str | Path) -> list[Path]:
    """Copy the template (scenarios, experiments, calibration, synthetic data, notebooks,
    docs) into ``dest``.

    ``dest`` may exist; no file in it is ever replaced.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    ScenarioError
        If ``dest`` is a file, or already holds one of the template's files (all of them
        listed), before anything is copied.
    """
    from .loader import ScenarioError

    dest = Path(dest)
    root = template_root()
    files = template_files(root)
    if dest.exists() and not dest.is_dir():
        raise ScenarioError([(str(dest), "", "is a file, not a folder")])
    clash = [f for f in files if (dest / f).exists()]
    if clash:
        shown = ", ".join(clash[:5]) + (f" and {len(clash) - 5} more" if len(clash) > 5 else "")
        raise ScenarioError([(str(dest), "", f"already holds {shown}; nothing was copied "
                              "(choose a new folder, or move those files away)")])
    written = []
    for f in files:
        target = dest / f
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / f, target)
        written.append(target)
    return written
