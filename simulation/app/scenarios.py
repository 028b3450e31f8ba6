"""The scenario files the app's picker lists, and the one it opens first."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["SCENARIO_DIR_ENV", "SCENARIO_ENV", "default_scenario", "list_scenarios",
           "scenario_dir"]

#: Environment variable naming the scenario the app opens first (set by ``commnet app``).
SCENARIO_ENV = "COMMNET_APP_SCENARIO"
#: Environment variable naming the folder the scenario picker lists.
SCENARIO_DIR_ENV = "COMMNET_SCENARIO_DIR"


def scenario_dir() -> Path:
    """The folder the scenario picker lists.

    ``$COMMNET_SCENARIO_DIR`` if set, else ``./scenarios``, else the scenarios shipped with
    commnet (:func:`simulation.project.template_root`: the package data of an installed wheel,
    or the repository's ``scenarios/`` in a source checkout).
    """
    env = os.environ.get(SCENARIO_DIR_ENV)
    if env:
        return Path(env)
    here = Path.cwd() / "scenarios"
    if here.is_dir():
        return here
    from ..project import template_root

    try:
        return template_root() / "scenarios"
    except FileNotFoundError:
        return Path(__file__).resolve().parents[2] / "scenarios"


def list_scenarios(directory: str | os.PathLike[str] | None = None,
                   extra: str | os.PathLike[str] | None = None) -> list[str]:
    """Scenario files to pick from: ``extra`` (the launched one) first, then the folder's.

    Returns
    -------
    list of str
        Paths; files of the folder are ``*.yaml`` / ``*.yml`` sorted by name.
    """
    d = Path(directory) if directory is not None else scenario_dir()
    found = sorted(p for p in d.glob("*.y*ml") if p.suffix in (".yaml", ".yml")) if d.is_dir() else []
    out = [str(p) for p in found]
    if extra:
        e = str(extra)
        resolved = {str(Path(p).resolve()) for p in out}
        if str(Path(e).resolve()) not in resolved:
            out.insert(0, e)
        else:
            out.remove(next(p for p in out if str(Path(p).resolve()) == str(Path(e).resolve())))
            out.insert(0, e)
    return out


def default_scenario(choices: Sequence[str]) -> str | None:
    """The scenario to open: ``$COMMNET_APP_SCENARIO``, else ``teaching.yaml``, else the first."""
    env = os.environ.get(SCENARIO_ENV)
    if env:
        return env
    for c in choices:
        if Path(c).name == "teaching.yaml":
            return c
    return choices[0] if choices else None
