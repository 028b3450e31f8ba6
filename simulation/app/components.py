"""Testable parts of the teaching app: no Solara, no browser, only numpy and matplotlib.

* :class:`TeachingModel` — a Mesa model that runs one scenario, or two variants of it side by
  side in lock-step, and turns every bad input (a file that does not validate, a seed that is
  not a number) into a message instead of an exception.
* Controls generated from the scenario schema (:data:`TEACHING_CONTROLS`,
  :func:`make_model_params`, :func:`settings_overrides`): slider ranges come from the schema's
  field bounds, start values from the loaded scenario, and every control is a dotted
  ``--set`` path, so the app changes exactly what ``commnet run --set`` would.
* A fixed, seeded network layout (:func:`compute_layout`): groups on a circle, localities as
  sub-clusters, practices inside them, providers and councils outside — computed once per run
  from the scenario seed with its own generator (no spring layout, no global random state), so
  nodes never jump between steps.
* Drawing (:func:`network_figure`, :func:`chart_figure`): nodes coloured by stakeholder type,
  locality or belief accuracy, board members outlined, ties drawn by strength; large
  scenarios draw a fixed sample of agents and only the strongest ties, and say so.
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
import time
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display; figures are rendered to PNG bytes

import mesa
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from pydantic import BaseModel

from ..loader import ScenarioError, load_scenario
from ..model import CommissioningModel
from ..scenario import STAKEHOLDER_TYPES, Scenario

__all__ = [
    "CHART_PANELS",
    "COLOUR_MODES",
    "COMPARISONS",
    "INFO_MARKDOWN",
    "TEACHING_CONTROLS",
    "ChartRenderer",
    "Control",
    "DrawSample",
    "Run",
    "TeachingModel",
    "belief_accuracy",
    "chart_figure",
    "compute_layout",
    "control_options",
    "figure_png",
    "list_scenarios",
    "make_model_params",
    "metric_series",
    "network_figure",
    "node_colours",
    "parse_seed",
    "sample_nodes",
    "scenario_value",
    "schema_field",
    "select_edges",
    "settings_overrides",
]

log = logging.getLogger(__name__)

#: Environment variable naming the scenario the app opens first (set by ``commnet app``).
SCENARIO_ENV = "COMMNET_APP_SCENARIO"
#: Environment variable naming the folder the scenario picker lists.
SCENARIO_DIR_ENV = "COMMNET_SCENARIO_DIR"

#: Drawing budget: above this many agents the network view draws a fixed sample.
MAX_NODES = 800
#: Drawing budget: at most this many ties (the strongest) are drawn.
MAX_EDGES = 2500


# =============================================================================== controls
@dataclass(frozen=True)
class Control:
    """A teaching control bound to a dotted scenario path.

    Attributes
    ----------
    path : str
        Dotted schema path as used by ``--set``; ``*`` stands for every item of a list
        (``groups.*.localities.count`` sets the count of every group).
    label : str
        What the control is called on screen.
    step : float, optional
        Slider step (numbers only).
    max_cap : float, optional
        A teaching cap below the schema's upper bound (the schema allows 50 localities; a
        slider to 12 is easier to use).
    """

    path: str
    label: str
    step: float | None = None
    max_cap: float | None = None


#: The controls teaching needs, in sidebar order.
TEACHING_CONTROLS: tuple[Control, ...] = (
    Control("engagement.gp.mean", "GP engagement", 0.05),
    Control("engagement.manager.mean", "Manager engagement", 0.05),
    Control("engagement.provider.mean", "Provider engagement", 0.05),
    Control("engagement.patient.mean", "Patient engagement", 0.05),
    Control("engagement.local_authority.mean", "Local authority engagement", 0.05),
    Control("localities.enabled", "Locality sub-groups"),
    Control("groups.*.localities.count", "Localities per group", 1, max_cap=12),
    Control("relationships.mode", "Relationship mode"),
    Control("leadership.knowledge_brokering.enabled", "Lever: knowledge brokering"),
    Control("leadership.knowledge_brokering.intensity", "Knowledge brokering intensity", 0.1),
    Control("leadership.coherence_building.enabled", "Lever: coherence building"),
    Control("leadership.coherence_building.intensity", "Coherence building intensity", 0.1),
    Control("leadership.stability_management.enabled", "Lever: stability management"),
    Control("leadership.stability_management.intensity", "Stability management intensity", 0.1),
    Control("exchange.rule", "Exchange rule"),
)


def _unwrap(annotation: Any) -> Any:
    """``list[X]`` → X, ``X | None`` → X; anything else unchanged."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (list, tuple, Sequence) and args:
        return _unwrap(args[0])
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _unwrap(args[0])
    return annotation


def schema_field(path: str, root: type[BaseModel] = Scenario) -> tuple[Any, Any]:
    """The type and pydantic ``FieldInfo`` of a dotted scenario path.

    Parameters
    ----------
    path : str
        Dotted path; list items are addressed by index or ``*``.
    root : pydantic model class
        Where the path starts (default :class:`~simulation.scenario.Scenario`).

    Returns
    -------
    (type, FieldInfo)
        The unwrapped annotation (e.g. ``float``, ``bool``, an ``Enum`` class) and the field's
        info, whose ``metadata`` holds the bounds (``Ge``, ``Le``, ...).

    Raises
    ------
    ValueError
        If a part of the path is not a field of the schema.
    """
    cls: Any = root
    info = None
    annotation: Any = root
    for part in path.split("."):
        if part == "*" or part.isdigit():
            continue
        fields = getattr(cls, "model_fields", None)
        if not fields or part not in fields:
            raise ValueError(f"{path!r}: {part!r} is not a field of the scenario schema")
        info = fields[part]
        annotation = _unwrap(info.annotation)
        cls = annotation
    if info is None:
        raise ValueError(f"{path!r} names no field")
    return annotation, info


def _bounds(info: Any) -> tuple[float | None, float | None]:
    lo = hi = None
    for m in info.metadata:
        if getattr(m, "ge", None) is not None:
            lo = m.ge
        if getattr(m, "gt", None) is not None:
            lo = m.gt
        if getattr(m, "le", None) is not None:
            hi = m.le
        if getattr(m, "lt", None) is not None:
            hi = m.lt
    return lo, hi


def scenario_value(scenario: Any, path: str) -> Any:
    """The value at a dotted path of a scenario (``*`` reads the first list item)."""
    node = scenario
    for part in path.split("."):
        if part == "*":
            node = node[0]
        elif part.isdigit():
            node = node[int(part)]
        elif isinstance(node, Mapping):
            node = node[part]
        else:
            node = getattr(node, part)
    return node.value if isinstance(node, Enum) else node


def control_options(control: Control, scenario: Scenario) -> dict[str, Any]:
    """Mesa ``model_params`` entry (SolaraViz user input) for one control.

    The input type follows the schema (bool → Checkbox, enumeration → Select, int →
    SliderInt, float → SliderFloat), slider bounds are the field's bounds (capped by
    ``control.max_cap``) and the start value is the scenario's.
    """
    annotation, info = schema_field(control.path)
    value = scenario_value(scenario, control.path)
    out: dict[str, Any] = {"label": control.label}
    if annotation is bool:
        return {**out, "type": "Checkbox", "value": bool(value)}
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return {**out, "type": "Select", "value": str(value),
                "values": [str(m.value) for m in annotation]}
    if typing.get_origin(annotation) is typing.Literal:
        return {**out, "type": "Select", "value": str(value),
                "values": [str(v) for v in typing.get_args(annotation)]}
    lo, hi = _bounds(info)
    if annotation is int:
        lo = 0 if lo is None else int(lo)
        hi = int(min(hi if hi is not None else max(10, 2 * value), control.max_cap or math.inf))
        return {**out, "type": "SliderInt", "value": int(min(max(value, lo), hi)), "min": lo,
                "max": max(hi, int(value)), "step": int(control.step or 1)}
    if annotation is float:
        lo = 0.0 if lo is None else float(lo)
        hi = float(min(hi if hi is not None else max(1.0, 2 * value), control.max_cap or math.inf))
        return {**out, "type": "SliderFloat", "value": float(value), "min": lo,
                "max": max(hi, float(value)), "step": float(control.step or (hi - lo) / 20)}
    raise ValueError(f"no input type for {control.path!r} ({annotation!r})")


#: Side-by-side presets: label → (label A, overrides A, label B, overrides B).  ``None`` is
#: "off"; the special entry compares the user's settings with the unchanged scenario file.
COMPARE_OFF = "off (one run)"
COMPARE_FILE = "your settings vs the scenario file"
COMPARISONS: dict[str, tuple[str, tuple[tuple[str, Any], ...], str, tuple[tuple[str, Any], ...]]
                  | None] = {
    COMPARE_OFF: None,
    "GP engagement: high (0.8) vs low (0.2)": (
        "A: GP engagement 0.8", (("engagement.gp.mean", 0.8),),
        "B: GP engagement 0.2", (("engagement.gp.mean", 0.2),)),
    "Localities: on vs off": (
        "A: localities on", (("localities.enabled", True),),
        "B: localities off", (("localities.enabled", False),)),
    "Relationships: networked vs transactional": (
        "A: networked", (("relationships.mode", "networked"),),
        "B: transactional", (("relationships.mode", "transactional"),)),
    "Knowledge brokering: on vs off": (
        "A: brokering on", (("leadership.knowledge_brokering.enabled", True),),
        "B: brokering off", (("leadership.knowledge_brokering.enabled", False),)),
    "Coherence building: on vs off": (
        "A: coherence building on", (("leadership.coherence_building.enabled", True),),
        "B: coherence building off", (("leadership.coherence_building.enabled", False),)),
    "Stability management: on vs off": (
        "A: stability management on", (("leadership.stability_management.enabled", True),),
        "B: stability management off", (("leadership.stability_management.enabled", False),)),
    COMPARE_FILE: ("A: your settings", (), "B: scenario file", ()),
}


def make_model_params(scenario_path: str | None, scenario: Scenario | None) -> dict[str, Any]:
    """SolaraViz ``model_params`` for :class:`TeachingModel` on one scenario.

    ``scenario_path`` is fixed; the side-by-side choice, the seed (a text box, as Mesa
    offers it) and every :data:`TEACHING_CONTROLS` entry are user inputs.  Without a valid
    scenario only the fixed path, the comparison and the seed are offered.
    """
    params: dict[str, Any] = {
        "scenario_path": scenario_path,
        "compare": {"type": "Select", "label": "Side by side", "value": COMPARE_OFF,
                    "values": list(COMPARISONS)},
        "seed": {"type": "InputText", "label": "Seed (whole number)",
                 "value": str(scenario.seed if scenario is not None else 0)},
    }
    if scenario is not None:
        for c in TEACHING_CONTROLS:
            params[c.path] = control_options(c, scenario)
    return params


def _format(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return repr(round(float(value), 6))
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b) and type(a) is type(b)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-9)
    return str(a) == str(b)


_ENGAGEMENT_MEAN = re.compile(r"engagement\.(\w+)\.mean")


def _feasible_sd(mean: float, sd: float) -> float:
    """``sd`` if a Beta distribution with this mean and sd exists, else a feasible smaller one."""
    limit = math.sqrt(max(mean * (1.0 - mean), 0.0))
    if sd <= 0 or sd < limit:
        return sd
    return math.floor(0.9 * limit * 1000) / 1000


def _assign(scenario: Scenario, path: str, value: Any) -> tuple[list[str], list[str]]:
    """``--set`` strings (and notes) that give ``path`` the value ``value``."""
    overrides: list[str] = []
    notes: list[str] = []
    if "*" in path:
        head, _, tail = path.partition("*")
        items = scenario_value(scenario, head.rstrip("."))
        for i in range(len(items)):
            overrides.append(f"{head}{i}{tail}={_format(value)}")
        return overrides, notes
    overrides.append(f"{path}={_format(value)}")
    m = _ENGAGEMENT_MEAN.fullmatch(path)
    if m and m.group(1) in STAKEHOLDER_TYPES:
        kind = m.group(1)
        mean = float(value)
        sd = float(getattr(scenario.engagement, kind).sd)
        new_sd = _feasible_sd(mean, sd)
        if new_sd != sd:
            overrides.append(f"engagement.{kind}.sd={_format(new_sd)}")
            notes.append(f"{TYPE_LABELS[kind]} engagement spread (sd) lowered from {sd:g} to "
                         f"{new_sd:g}: no Beta distribution with mean {mean:g} has the file's "
                         "spread")
        for i, g in enumerate(scenario.groups):
            own = getattr(g.engagement, kind)
            if own is None:
                continue
            overrides.append(f"groups.{i}.engagement.{kind}.mean={_format(mean)}")
            g_sd = _feasible_sd(mean, float(own.sd))
            if g_sd != own.sd:
                overrides.append(f"groups.{i}.engagement.{kind}.sd={_format(g_sd)}")
            notes.append(f"{TYPE_LABELS[kind]} engagement also set for group {g.name}, which "
                         "has its own value in the file")
    return overrides, notes


def settings_overrides(
    scenario: Scenario, settings: Mapping[str, Any], *, force: Iterable[str] = ()
) -> tuple[list[str], list[str]]:
    """``--set`` strings for the settings that differ from the scenario, and notes.

    A control left at the scenario's value changes nothing, so per-group values in the
    file survive until the control is moved.  Paths in ``force`` are set even when equal.

    Returns
    -------
    (overrides, notes)
        ``dotted.path=value`` strings for :func:`simulation.loader.load_scenario` and
        human-readable notes on automatic adjustments.
    """
    forced = set(force)
    overrides: list[str] = []
    notes: list[str] = []
    for path, value in settings.items():
        if value is None:
            continue
        try:
            current = scenario_value(scenario, path)
        except (AttributeError, KeyError, IndexError, TypeError):
            raise ScenarioError([("app", path, "is not a setting of the scenario")]) from None
        if path not in forced and _same(current, value):
            continue
        o, n = _assign(scenario, path, value)
        overrides += o
        notes += n
    return overrides, notes


#: Control labels by dotted path (for plain-language status lines).
CONTROL_LABELS: dict[str, str] = {c.path: c.label for c in TEACHING_CONTROLS}


def _plain(value: Any) -> str:
    """A setting's value as a person would say it (on/off, 0.3, networked)."""
    if isinstance(value, bool | np.bool_):
        return "on" if value else "off"
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def describe_changes(scenario: Scenario, settings: Mapping[str, Any], *,
                     force: Iterable[str] = ()) -> list[str]:
    """Plain-language list of the settings that differ from the file, e.g. ``GP engagement 0.3``.

    Same rule as :func:`settings_overrides` (a control left at the file's value changes
    nothing; paths in ``force`` always count), one entry per control, named by its label.
    """
    forced = set(force)
    out = []
    for path, value in settings.items():
        if value is None or path not in CONTROL_LABELS:
            continue
        try:
            current = scenario_value(scenario, path)
        except (AttributeError, KeyError, IndexError, TypeError):
            continue
        if path in forced or not _same(current, value):
            label = CONTROL_LABELS[path].removeprefix("Lever: ")
            out.append(f"{label[0].upper()}{label[1:]} {_plain(value)}")
    return out


def parse_seed(text: Any, default: int) -> int:
    """The seed from Mesa's text box (a string), an int, or ``default`` when empty.

    Raises
    ------
    ValueError
        If the text is not a whole number ≥ 0.
    """
    if text is None:
        return int(default)
    if isinstance(text, bool):
        raise ValueError(f"seed must be a whole number ≥ 0, got {text!r}")
    if isinstance(text, int | np.integer):
        value = int(text)
    else:
        s = str(text).strip().replace("_", "").replace(",", "")
        if not s:
            return int(default)
        try:
            value = int(s)
        except ValueError:
            try:
                f = float(s)
            except ValueError:
                raise ValueError(f"seed must be a whole number ≥ 0, got {text!r}") from None
            if not f.is_integer():
                raise ValueError(f"seed must be a whole number ≥ 0, got {text!r}") from None
            value = int(f)
    if value < 0:
        raise ValueError(f"seed must be a whole number ≥ 0, got {text!r}")
    return value


# =============================================================================== scenarios
def scenario_dir() -> Path:
    """The folder the scenario picker lists.

    ``$COMMNET_SCENARIO_DIR`` if set, else ``./scenarios``, else the repository's
    ``scenarios/`` next to the ``simulation`` package.
    """
    env = os.environ.get(SCENARIO_DIR_ENV)
    if env:
        return Path(env)
    here = Path.cwd() / "scenarios"
    if here.is_dir():
        return here
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


# =============================================================================== layout
_GOLDEN = math.pi * (3.0 - math.sqrt(5.0))


def _disk_offsets(labels: np.ndarray, n_labels: int, rng: np.random.Generator) -> np.ndarray:
    """Sunflower (phyllotaxis) offsets in the unit disk for the items sharing each label.

    Item *r* of *n* in its label sits at radius ``sqrt((r + 0.5) / n)`` and angle
    ``r × golden angle + θ_label`` (θ a random rotation per label): evenly spread, no overlap.
    """
    labels = np.asarray(labels, np.int64)
    out = np.zeros((labels.size, 2))
    if labels.size == 0:
        return out
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels, minlength=n_labels)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(labels.size, np.int64)
    rank[order] = np.arange(labels.size) - starts[labels[order]]
    rot = rng.uniform(0, 2 * math.pi, n_labels)
    r = np.sqrt((rank + 0.5) / counts[labels])
    theta = rank * _GOLDEN + rot[labels]
    out[:, 0] = r * np.cos(theta)
    out[:, 1] = r * np.sin(theta)
    return out


def _ring(n: int, radius: float, start: float = math.pi / 2) -> np.ndarray:
    a = start - 2 * math.pi * np.arange(n) / max(n, 1)
    return radius * np.c_[np.cos(a), np.sin(a)]


def compute_layout(pop: Any, seed: int) -> np.ndarray:
    """Fixed positions (N, 2) of every agent slot, from the population's structure.

    Commissioning groups sit on a circle of radius 1 (one group: at the centre), each group's
    areas (localities) on a ring inside it with their practices as sunflower clusters, the
    practice's GPs, manager and patient representatives around the practice; group-level
    staff (commissioning managers, officers, nurses, lay members) form a hub at the group's
    centre; provider and local-authority staff sit in clusters outside the groups, toward
    the groups their organisation serves (in the middle when it serves them all).  Only a
    generator seeded from ``seed`` adds rotations and a little jitter, so the same scenario and
    seed always give the same picture; slots keep their place under turnover.

    Parameters
    ----------
    pop : simulation.population.Population
    seed : int

    Returns
    -------
    ndarray (N, 2)
    """
    rng = np.random.default_rng([int(seed), 0x1A_7017])
    n = pop.n
    g_count = pop.n_groups
    pos = np.zeros((n, 2))
    many = g_count > 12
    if g_count == 1:
        centres = np.zeros((1, 2))
        rg = 1.0
    elif many:  # a disk of groups (England: 211), not a ring
        i = np.arange(g_count)
        r = np.sqrt((i + 0.5) / g_count)
        centres = np.c_[r * np.cos(i * _GOLDEN), r * np.sin(i * _GOLDEN)]
        rg = 0.85 / math.sqrt(g_count)
    else:
        centres = _ring(g_count, 1.0)
        rg = min(1.0, 0.85 * math.sin(math.pi / g_count))

    # areas (localities) of each group on a ring around the group's hub
    n_areas = pop.n_areas
    area_centre = np.zeros((n_areas, 2))
    area_radius = np.zeros(n_areas)
    hub_centre = centres.copy()
    for g in range(g_count):
        areas = np.flatnonzero(pop.area_group == g)
        k = areas.size
        if k == 0:
            continue
        if k == 1:
            area_centre[areas] = centres[g] + [0.0, -0.3 * rg]
            area_radius[areas] = 0.55 * rg
            hub_centre[g] = centres[g] + [0.0, 0.62 * rg]
        else:
            ring_r = 0.58 * rg
            start = rng.uniform(0, 2 * math.pi)
            area_centre[areas] = centres[g] + _ring(k, ring_r, start)
            area_radius[areas] = min(0.42 * rg, 0.92 * ring_r * math.sin(math.pi / k))

    # practices inside their area
    n_prac = pop.n_practices
    p_area = np.asarray(pop.practice_area, np.int64)
    p_off = _disk_offsets(p_area, n_areas, rng)
    p_per_area = np.bincount(p_area, minlength=n_areas)
    practice_pos = area_centre[p_area] + 0.8 * area_radius[p_area, None] * p_off
    practice_radius = 0.55 * 0.8 * area_radius[p_area] / np.sqrt(np.maximum(p_per_area[p_area], 1))

    practice = np.asarray(pop.practice, np.int64)
    group = np.asarray(pop.group, np.int64)
    at_p = practice >= 0
    if at_p.any():
        off = _disk_offsets(practice[at_p], n_prac, rng)
        pos[at_p] = practice_pos[practice[at_p]] + practice_radius[practice[at_p], None] * off

    hub = (~at_p) & (group >= 0)
    if hub.any():
        off = _disk_offsets(group[hub], g_count, rng)
        pos[hub] = hub_centre[group[hub]] + 0.22 * rg * off

    # provider and local-authority organisations
    kind = np.asarray(pop.kind)
    org = np.asarray(pop.org, np.int64)
    n_prov = pop.provider_serves.shape[0]
    serves = np.concatenate([pop.provider_serves, pop.la_serves]).astype(float)
    n_orgs = serves.shape[0]
    if n_orgs:
        org_id = np.where(kind == 4, org + n_prov, org)  # local authorities after providers
        staff = (org >= 0) & ((kind == 2) | (kind == 4))
        org_pos = np.zeros((n_orgs, 2))
        if g_count == 1:
            org_pos = _ring(n_orgs, 1.3, start=math.pi / 4)  # diagonals keep the picture square
        elif many:  # among the groups they serve
            cnt = np.maximum(serves.sum(axis=1, keepdims=True), 1)
            org_pos = serves @ centres / cnt + rng.normal(0.0, 0.5 * rg, (n_orgs, 2))
        else:
            cnt = np.maximum(serves.sum(axis=1, keepdims=True), 1)
            cen = serves @ centres / cnt
            central = np.linalg.norm(cen, axis=1) < 0.2
            inner = 0.55 * (1.0 - rg)
            org_pos[central] = _ring(int(central.sum()), inner * 0.6 if central.sum() > 1 else 0)
            angle = np.arctan2(cen[:, 1], cen[:, 0])
            outer = ~central
            radius = np.full(n_orgs, 1.0 + rg + 0.22)
            # organisations pointing the same way are stacked outward
            keys = np.round(angle / (2 * math.pi / (4 * g_count))).astype(int)
            for key in np.unique(keys[outer]):
                same = np.flatnonzero(outer & (keys == key))
                radius[same] += 0.22 * np.arange(same.size)
            org_pos[outer] = np.c_[np.cos(angle[outer]), np.sin(angle[outer])] * radius[outer, None]
        off = _disk_offsets(org_id[staff], n_orgs, rng)
        pos[staff] = org_pos[org_id[staff]] + 0.09 * off

    # a little jitter so agents of one cluster do not sit on a perfect spiral
    pos += rng.normal(0.0, 0.004, pos.shape)
    return pos


# =============================================================================== drawing
#: Colour choices of the network view.
COLOUR_MODES = ("stakeholder type", "locality", "belief accuracy")

#: Okabe–Ito colours (colour-blind safe), one per stakeholder type.
TYPE_COLOURS = {
    "gp": "#0072B2",
    "manager": "#E69F00",
    "provider": "#D55E00",
    "patient": "#009E73",
    "local_authority": "#CC79A7",
}
TYPE_LABELS = {
    "gp": "GP",
    "manager": "manager",
    "provider": "provider",
    "patient": "patient / lay member",
    "local_authority": "local authority",
}
#: Belief-accuracy colour range (fixed, so colours compare across steps and runs).
ACCURACY_RANGE = (0.7, 1.0)


@dataclass
class DrawSample:
    """Which agents the network view draws.

    Attributes
    ----------
    mask : ndarray of bool (N,)
        Agents drawn.
    total : int
        Number of agents in the model.
    """

    mask: np.ndarray
    total: int

    @property
    def drawn(self) -> int:
        """Number of agents drawn."""
        return int(self.mask.sum())

    @property
    def complete(self) -> bool:
        """Whether every agent is drawn."""
        return self.drawn == self.total


def sample_nodes(model: CommissioningModel, max_nodes: int = MAX_NODES, seed: int = 0) -> DrawSample:
    """A fixed sample of at most ``max_nodes`` agents to draw (all of them when few enough).

    Agents are taken tier by tier — board members and provider and local-authority staff,
    then locality leads and group-level staff, then everyone else — and a tier that does not
    fit whole is sampled uniformly with a generator seeded by ``seed``.  Agents keep their
    slots under turnover, so the sample holds for the whole run.
    """
    p = model.pop
    n = p.n
    if n <= max_nodes:
        return DrawSample(np.ones(n, bool), n)
    kind = np.asarray(p.kind)
    board = np.asarray(model.on_board)
    tier1 = board | (kind == 2) | (kind == 4)
    tier2 = ~tier1 & (np.asarray(p.locality_lead) | (np.asarray(p.practice) < 0))
    tier3 = ~tier1 & ~tier2
    rng = np.random.default_rng([int(seed), 0x5A_3B1E])
    mask = np.zeros(n, bool)
    budget = int(max_nodes)
    for tier in (tier1, tier2, tier3):
        idx = np.flatnonzero(tier)
        if budget <= 0:
            break
        if idx.size > budget:
            idx = rng.choice(idx, size=budget, replace=False)
        mask[idx] = True
        budget -= idx.size
    return DrawSample(mask, n)


def select_edges(src: np.ndarray, dst: np.ndarray, weight: np.ndarray, mask: np.ndarray,
                 max_edges: int = MAX_EDGES) -> tuple[np.ndarray, int]:
    """Indices of the ties to draw: among drawn agents, the ``max_edges`` strongest.

    Returns
    -------
    (indices, candidates)
        Tie indices sorted weakest first (so strong ties are drawn on top) and the number of
        ties among drawn agents before the cap.
    """
    cand = np.flatnonzero(mask[src] & mask[dst])
    total = int(cand.size)
    if cand.size > max_edges:
        top = np.argpartition(weight[cand], cand.size - max_edges)[cand.size - max_edges:]
        cand = cand[top]
    cand = cand[np.argsort(weight[cand], kind="stable")]
    return cand, total


def belief_accuracy(model: CommissioningModel) -> np.ndarray:
    """Each agent's belief accuracy ``1 − TV(belief, true need of its scope)`` in [0, 1]."""
    return 1.0 - 0.5 * np.abs(model.belief - model.truth).sum(axis=1)


def node_colours(model: CommissioningModel, mode: str) -> tuple[np.ndarray, list[tuple[str, Any]]]:
    """RGBA colours (N, 4) of the agents and legend entries for a colour mode.

    Parameters
    ----------
    model : CommissioningModel
    mode : str
        One of :data:`COLOUR_MODES`.

    Returns
    -------
    (colours, legend)
        ``legend`` lists (label, colour) pairs; empty for belief accuracy, which uses a
        colour bar over :data:`ACCURACY_RANGE`.
    """
    from matplotlib import colormaps
    from matplotlib.colors import to_rgba

    p = model.pop
    n = p.n
    absent = ~np.asarray(getattr(model, "present", np.ones(n, bool)))
    legend: list[tuple[str, Any]] = []
    if mode == "stakeholder type":
        table = np.array([to_rgba(TYPE_COLOURS[t]) for t in STAKEHOLDER_TYPES])
        colours = table[np.asarray(p.kind, np.int64)]
        legend = [(TYPE_LABELS[t], TYPE_COLOURS[t]) for t in STAKEHOLDER_TYPES
                  if (np.asarray(p.kind) == STAKEHOLDER_TYPES.index(t)).any()]
    elif mode == "locality":
        palette = np.array(colormaps["tab20"].colors)
        # distinct hues first (even entries of tab20), then their lighter partners
        order = np.r_[np.arange(0, 20, 2), np.arange(1, 20, 2)]
        area_colour = np.c_[palette[order[np.arange(p.n_areas) % 20]], np.ones(p.n_areas)]
        area = np.asarray(p.area, np.int64)
        colours = np.tile(to_rgba("#9a9a9a"), (n, 1))
        has = area >= 0
        colours[has] = area_colour[area[has]]
        names = [g.name for g in model.spec.groups]
        for a in range(min(p.n_areas, 8)):
            g = int(p.area_group[a])
            first = int(np.flatnonzero(p.area_group == g)[0])
            legend.append((f"{names[g]} locality {a - first + 1}", tuple(area_colour[a])))
        if p.n_areas > 8:
            legend.append((f"… {p.n_areas - 8} more localities", "#ffffff"))
        legend.append(("no locality (group, provider, council)", "#9a9a9a"))
    elif mode == "belief accuracy":
        cmap = colormaps["viridis"]
        lo, hi = ACCURACY_RANGE
        colours = cmap(np.clip((belief_accuracy(model) - lo) / (hi - lo), 0, 1))
    else:
        raise ValueError(f"unknown colour mode {mode!r}; choose one of {', '.join(COLOUR_MODES)}")
    colours = np.array(colours, float)
    colours[absent] = to_rgba("#dddddd")
    return colours, legend


@dataclass
class Run:
    """One model of the app with its fixed layout and drawing sample."""

    label: str
    model: CommissioningModel
    layout: np.ndarray
    sample: DrawSample
    overrides: list[str] = field(default_factory=list)
    #: The settings that differ from the file, in plain words (``GP engagement 0.3``).
    changes: list[str] = field(default_factory=list)


def draw_network(ax: Any, run: Run, mode: str, max_edges: int = MAX_EDGES,
                 legend: bool = True) -> str:
    """Draw one run's network on a matplotlib axes; returns a note on what was left out.

    Ties are drawn by strength (width and opacity grow with the weight), strongest on top;
    board members are squares with a black outline, locality leads triangles.
    """
    m = run.model
    t = m.ties
    pos = run.layout
    mask = run.sample.mask
    idx, candidates = select_edges(t.src, t.dst, t.weight, mask, max_edges)
    if idx.size:
        w = np.clip(t.weight[idx], 0, 1)
        segs = np.stack([pos[t.src[idx]], pos[t.dst[idx]]], axis=1)
        rgba = np.zeros((idx.size, 4))
        rgba[:, :3] = 0.35
        rgba[:, 3] = 0.08 + 0.55 * w
        ax.add_collection(LineCollection(segs, linewidths=0.2 + 2.2 * w, colors=rgba,
                                         zorder=1))
    colours, entries = node_colours(m, mode)
    drawn = run.sample.drawn
    size = float(np.clip(5000.0 / max(drawn, 1), 7, 60))
    board = np.asarray(m.on_board) & mask
    lead = np.asarray(m.pop.locality_lead) & mask & ~board
    plain = mask & ~board & ~lead
    ax.scatter(pos[plain, 0], pos[plain, 1], s=size, c=colours[plain], linewidths=0, zorder=2)
    ax.scatter(pos[lead, 0], pos[lead, 1], s=size * 2.2, c=colours[lead], marker="^",
               edgecolors="black", linewidths=0.8, zorder=3)
    ax.scatter(pos[board, 0], pos[board, 1], s=size * 2.2, c=colours[board], marker="s",
               edgecolors="black", linewidths=1.2, zorder=4)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    if len(pos):
        lo, hi = pos[mask].min(axis=0), pos[mask].max(axis=0)
        pad = 0.06 * max(hi[0] - lo[0], hi[1] - lo[1], 1e-6)
        ax.set_xlim(lo[0] - pad, hi[0] + pad)
        ax.set_ylim(lo[1] - pad, hi[1] + pad)
    handles = [Line2D([], [], marker="o", ls="", color=c, label=lbl, markersize=6)
               for lbl, c in entries]
    handles += [Line2D([], [], marker="s", ls="", mfc="white", mec="black", label="board member",
                       markersize=6),
                Line2D([], [], marker="^", ls="", mfc="white", mec="black", label="locality lead",
                       markersize=6)]
    if legend:  # outside the axes, on the right; constrained layout makes room for it
        ax.figure.legend(handles=handles, loc="outside right upper", fontsize=CHART_FONT_PT,
                         frameon=False, handletextpad=0.3)
    notes = []
    if not run.sample.complete:
        notes.append(f"showing a fixed sample of {drawn:,} of {run.sample.total:,} agents (board "
                     "members, providers and councils first, then leads and group staff)")
    if candidates > idx.size:
        notes.append(f"the {idx.size:,} strongest of {candidates:,} ties among them")
    return "; ".join(notes)


def network_figure(runs: Sequence[Run], mode: str = COLOUR_MODES[0],
                   max_edges: int = MAX_EDGES, width: float | None = None
                   ) -> tuple[Figure, list[str]]:
    """The network view: one panel per run, side by side, the legend on the right.

    ``width`` (inches) fixes the figure's width — the app sizes it to where it is shown so
    that the legend's text reads at ≥ 11 px; the panels are square.

    Returns
    -------
    (Figure, notes)
        ``notes`` say what was left out in large scenarios (one per run, empty if nothing).
    """
    k = max(len(runs), 1)
    width = float(width) if width else 4.6 * k + 2.0
    side = max((width - 2.0) / k, 1.5)
    fig = Figure(figsize=(width, side + 0.4), dpi=FIGURE_DPI, layout="constrained")
    axes = fig.subplots(1, k, squeeze=False)[0]
    notes = []
    for i, (ax, run) in enumerate(zip(axes, runs, strict=False)):
        note = draw_network(ax, run, mode, max_edges, legend=(i == k - 1))
        title = f"{run.label} — month {run.model.steps}" if run.label else f"month {run.model.steps}"
        ax.set_title(title, fontsize=TITLE_FONT_PT)
        notes.append(note)
    if mode == "belief accuracy" and runs:
        from matplotlib import colormaps
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        sm = ScalarMappable(norm=Normalize(*ACCURACY_RANGE), cmap=colormaps["viridis"])
        bar = fig.colorbar(sm, ax=list(axes), shrink=0.6)
        bar.set_label("belief accuracy (1 = matches true need)", fontsize=CHART_FONT_PT)
        bar.ax.tick_params(labelsize=CHART_FONT_PT)
    return fig, notes


#: Chart panels: title (with the unit) → (metric, label) pairs, all overall values (index −1).
CHART_PANELS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Knowledge (accuracy, 0–1)", (("accuracy_board", "board"),
                                   ("accuracy_localities", "localities"),
                                   ("reach", "practices reaching board"))),
    ("Coherence (0–1)", (("coherence_internal", "internal"), ("coherence_external", "external"))),
    ("Stability (share kept, 0–1)", (("tie_persistence", "ties"), ("retention", "people"))),
    ("Decision skill (0–1)", (("relevance_skill", "0 none, 1 true need"),)),
    ("Decision relevance (0–1)", (("relevance_patient", "patient need"),
                                  ("relevance_localities", "locality need"),
                                  ("relevance_provider", "provider capacity"))),
    ("Engagement (mean, 0–1)", (("engagement_gp", "GPs"), ("engagement_all", "everyone"))),
    ("Knowledge flow (per month)", (("knowledge_flow", "exchanges per agent"),)),
)
#: Figure text sizes (points); with the figure widths below, text on screen is ≥ 11 px where
#: the app shows the figures (1280 px wide and up).
CHART_FONT_PT = 10.5
TITLE_FONT_PT = 11.5
#: Chart figure width (inches) by number of panel columns, and the height of one row.
CHART_WIDTH_IN = {2: 4.7, 3: 7.4, 4: 10.5}
CHART_ROW_IN = 2.35
#: Rendering resolution of the app's figures (dots per inch).
FIGURE_DPI = 100
_LINE_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")
_RUN_STYLES = ("-", "--")


def metric_series(model: CommissioningModel, name: str) -> np.ndarray:
    """The overall value of a metric at every collected step (index 0 is the start)."""
    values = model.datacollector.model_vars.get(name, [])
    return np.array([float(np.asarray(v, float)[-1]) for v in values])


_Panels = list[tuple[Any, list[tuple[Any, "Run", str]]]]


def _chart_axes(runs: Sequence[Run], ncols: int, animated: bool) -> tuple[Figure, _Panels]:
    """The chart figure with its axes, titles, legends and (empty) lines."""
    nrows = math.ceil(len(CHART_PANELS) / ncols)
    width = CHART_WIDTH_IN.get(ncols, 2.7 * ncols)
    pair = len(runs) > 1
    height = CHART_ROW_IN * nrows + 0.45 + 0.3 * pair
    fig = Figure(figsize=(width, height), dpi=FIGURE_DPI)
    fig.subplots_adjust(left=0.75 / width, right=1 - 0.1 / width, top=1 - (0.35 + 0.3 * pair) / height,
                        bottom=0.5 / height, wspace=0.3, hspace=0.62)
    axes = fig.subplots(nrows, ncols).ravel()
    for ax in axes[len(CHART_PANELS):]:
        ax.set_visible(False)
    months = max((run.model.spec.steps for run in runs), default=1)
    panels = []
    for k, (ax, (title, metrics)) in enumerate(zip(axes, CHART_PANELS, strict=False)):
        lines = []
        for r, run in enumerate(runs[:2]):
            for j, (name, label) in enumerate(metrics):
                (line,) = ax.plot([], [], _RUN_STYLES[r], color=_LINE_COLOURS[j], lw=1.6, ms=3,
                                  label=label if r == 0 else None, animated=animated)
                lines.append((line, run, name))
        ax.set_title(title, fontsize=TITLE_FONT_PT)
        if k >= len(CHART_PANELS) - ncols:  # the bottom panel of each column
            ax.set_xlabel("month", fontsize=CHART_FONT_PT)
        ax.tick_params(labelsize=CHART_FONT_PT)
        ax.grid(alpha=0.3)
        ax.set_xlim(0, max(months, 1))  # the whole run: lines grow across a fixed axis
        legend = ax.legend(fontsize=CHART_FONT_PT, loc="best", framealpha=0.6, edgecolor="none",
                           handlelength=1.5, borderpad=0.2, labelspacing=0.2)
        legend.set_animated(animated)  # blitting: drawn over the lines, not under them
        panels.append((ax, lines))
    if len(runs) > 1:
        fig.suptitle(f"solid: {runs[0].label}    dashed: {runs[1].label}",
                     fontsize=TITLE_FONT_PT)
    return fig, panels


def _set_line_data(panels: _Panels) -> list[tuple[float, float] | None]:
    """Load every line's series; returns each panel's data range (None if no data)."""
    ranges = []
    for _, lines in panels:
        lo, hi = math.inf, -math.inf
        for line, run, name in lines:
            y = metric_series(run.model, name)
            line.set_data(np.arange(y.size), y)
            line.set_marker("o" if y.size == 1 else "None")
            finite = y[np.isfinite(y)]
            if finite.size:
                lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
        ranges.append((lo, hi) if lo <= hi else None)
    return ranges


def _y_limits(lo: float, hi: float, headroom: float) -> tuple[float, float]:
    """Limits around [lo, hi]: at least 0.1 tall (noise must not look like a trend), with
    ``headroom`` × the span added on each side, kept inside [0, 1] for metrics in [0, 1]."""
    if hi - lo < 0.1:
        mid = 0.5 * (hi + lo)
        lo, hi = mid - 0.05, mid + 0.05
    pad = headroom * (hi - lo)
    new_lo, new_hi = lo - pad, hi + pad
    if lo >= -0.05 and hi <= 1.05:
        new_lo, new_hi = max(new_lo, -0.02), min(new_hi, 1.02)
    elif lo >= 0:
        new_lo = max(new_lo, -0.02 * new_hi)
    return new_lo, new_hi


def chart_figure(runs: Sequence[Run], ncols: int = 3) -> Figure:
    """Live charts: one panel per :data:`CHART_PANELS` entry; runs solid (A) and dashed (B).

    ``ncols`` = 3 gives a wide figure (2 rows), 2 a squarer one (3 rows) for a half-width
    column.  Margins are fixed: a layout engine would cost about 0.2 s per render.  The app
    draws the same figure incrementally with :class:`ChartRenderer`.
    """
    fig, panels = _chart_axes(runs, ncols, animated=False)
    for (ax, _), rng in zip(panels, _set_line_data(panels), strict=True):
        if rng is not None:
            ax.set_ylim(*_y_limits(*rng, headroom=0.08))
    return fig


class ChartRenderer:
    """The charts of :func:`chart_figure`, redrawn cheaply every step (blitting).

    Axes, ticks, titles and legends are drawn once and kept as a background; each step only
    the lines are drawn over it.  The axes are redrawn only when a line leaves its panel's
    y-range, which then grows with headroom, so this happens a few times per run.  Rendering
    drops from about 0.2 s to a few hundredths.  Thread-safe (Play steps in a thread).
    """

    def __init__(self, runs: Sequence[Run], ncols: int = 3):
        import threading

        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.fig, self.panels = _chart_axes(runs, ncols, animated=True)
        self.canvas = FigureCanvasAgg(self.fig)
        self.background = None
        self.full_redraws = 0
        self._lock = threading.Lock()

    def png(self) -> bytes:
        """The charts as PNG bytes, at the runs' current step."""
        with self._lock:
            redraw = self.background is None
            for (ax, _), rng in zip(self.panels, _set_line_data(self.panels), strict=True):
                if rng is None:
                    continue
                lo, hi = ax.get_ylim()
                if redraw or rng[0] < lo or rng[1] > hi:
                    ax.set_ylim(*_y_limits(*rng, headroom=0.3))
                    redraw = True
            if redraw:
                self.canvas.draw()
                self.background = self.canvas.copy_from_bbox(self.fig.bbox)
                self.full_redraws += 1
            else:
                self.canvas.restore_region(self.background)
            for ax, lines in self.panels:
                for line, _, _ in lines:
                    ax.draw_artist(line)
                ax.draw_artist(ax.get_legend())
            return _encode_png(self.canvas)


def _encode_png(canvas: Any) -> bytes:
    """PNG bytes of an Agg canvas's buffer (fast compression: the page wants speed)."""
    from PIL import Image

    w, h = canvas.get_width_height()
    image = Image.frombuffer("RGBA", (w, h), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buf = io.BytesIO()
    image.save(buf, format="png", compress_level=1)
    return buf.getvalue()


def figure_png(fig: Figure, dpi: int | None = None) -> bytes:
    """Render a figure to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi or fig.dpi)
    return buf.getvalue()


# =============================================================================== the model
class TeachingModel(mesa.Model):
    """One scenario — or two variants of it in lock-step — for the teaching app.

    Every keyword whose name is a dotted scenario path (the controls) is applied as a
    ``--set`` override when it differs from the file; ``compare`` picks a
    :data:`COMPARISONS` preset that runs a second model with one setting changed, same seed,
    stepped together.  Problems never raise: a file that does not validate, a seed that is
    not a number or a setting the schema refuses leaves ``error`` set to the message (shown by
    the app), no runs, and ``running`` false.

    Parameters
    ----------
    scenario_path : str, optional
        The YAML scenario file.
    seed : str or int, optional
        The seed; Mesa's text box delivers a string.  Empty means the scenario's seed.
    compare : str
        A key of :data:`COMPARISONS`.
    max_nodes : int
        Drawing budget (see :func:`sample_nodes`).
    **settings
        ``dotted.path=value`` settings, e.g. ``**{"engagement.gp.mean": 0.3}``.
    """

    def __init__(self, scenario_path: str | None = None, seed: str | int | None = None,
                 compare: str = COMPARE_OFF, max_nodes: int = MAX_NODES, **settings: Any):
        super().__init__(rng=0)  # the wrapper draws nothing; the runs own their generators
        self.scenario_path = scenario_path
        self.error: str | None = None
        self.notes: list[str] = []
        self.runs: list[Run] = []
        self.spec: Scenario | None = None  # (``scenario`` is Mesa's own attribute)
        self.seed_value: int | None = None
        self.last_step_seconds = 0.0
        # SolaraViz's Reset passes Mesa's own ``scenario`` (and possibly ``rng``): not ours
        settings = {k: v for k, v in settings.items() if k not in ("scenario", "rng")}
        try:
            self._build(seed, compare, max_nodes, settings)
        except ScenarioError as exc:
            self.error = str(exc)
        except ValueError as exc:
            self.error = str(exc)
        except Exception as exc:  # a bug must not take the classroom's page down
            log.exception("could not build the model")
            self.error = f"The model could not be built: {type(exc).__name__}: {exc}"
        if self.error:
            self.runs = []
        self.running = self.error is None

    def _build(self, seed: Any, compare: str, max_nodes: int, settings: dict[str, Any]) -> None:
        path = self.scenario_path
        if not path:
            raise ScenarioError([("app", "", "no scenario file: put one in scenarios/ or run "
                                  "`commnet app path/to/scenario.yaml`")])
        base = load_scenario(path)
        self.spec = base
        self.seed_value = parse_seed(seed, base.seed)
        if compare not in COMPARISONS:
            raise ValueError(f"unknown comparison {compare!r}; choose one of: "
                             + ", ".join(COMPARISONS))
        overrides, notes = settings_overrides(base, settings)
        changes = describe_changes(base, settings)
        self.notes = notes
        preset = COMPARISONS[compare]
        if preset is None:
            variants = [("", overrides, changes)]
        elif compare == COMPARE_FILE:
            variants = [(preset[0], overrides, changes), (preset[2], [], [])]
            if not overrides:
                self.notes.append("your settings equal the scenario file: A and B are the same")
        else:
            variants = []
            for label, pairs in ((preset[0], preset[1]), (preset[2], preset[3])):
                # the preset's setting replaces the user's for that control (one value each)
                merged = {**settings, **dict(pairs)}
                forced = [p for p, _ in pairs]
                ovr, n = settings_overrides(base, merged, force=forced)
                variants.append((label, ovr, describe_changes(base, merged, force=forced)))
                self.notes += [x for x in n if x not in self.notes]
        for label, ovr, plain in variants:
            scenario = load_scenario(path, ovr) if ovr else base
            model = CommissioningModel(scenario, seed=self.seed_value)
            layout = compute_layout(model.pop, self.seed_value)
            sample = sample_nodes(model, max_nodes, self.seed_value)
            self.runs.append(Run(label, model, layout, sample, list(ovr), plain))
        self.spec = self.runs[0].model.spec

    @property
    def month(self) -> int:
        """Months simulated so far (the runs move together)."""
        return self.runs[0].model.steps if self.runs else 0

    @property
    def months(self) -> int:
        """Length of the scenario in months."""
        return self.spec.steps if self.spec is not None else 0

    def step(self) -> None:
        """Advance every run by one month, together; stop at the scenario's last month."""
        if not self.runs or self.month >= self.months:
            self.running = False
            return
        t0 = time.perf_counter()
        for run in self.runs:
            run.model.step()
        self.last_step_seconds = time.perf_counter() - t0
        self.running = self.month < self.months


# =============================================================================== info
INFO_MARKDOWN = """
## What is it?

**commnet** is an agent-based model of an NHS *commissioning network*: the GPs, practice and
commissioning managers, providers, patient representatives and local authorities who decide,
through a clinical commissioning group's (CCG's) board, which services a population gets.
It grows out of a mixed-methods study of **six CCGs in the East of England** (1,662,000 people,
208 practices) by Warwick Business School (*BMJ Open* 2013;3:e002112), which found that
good commissioning is a network problem: leaders must manage **knowledge flows**, network
**coherence** and network **stability**; **locality** sub-groups link decisions to patient
needs; and **lack of GP engagement** makes decisions less relevant.

## How it works

One step is one month. Every agent holds a *belief* about patient need over six service areas,
*objectives* (its priorities) and an *engagement* level between 0 and 1. Each month:

1. need drifts (and scheduled events fire);
2. agents **observe** need — the more engaged, the more often and the more accurately: GPs,
   practice managers and patient representatives see their own practice now; commissioning
   managers, providers and councils see the whole population, but through activity data that
   are six months old and lean toward what is already commissioned;
3. engaged agents **exchange** beliefs and priorities with their network neighbours (the
   exchange rule: DeGroot averaging, Friedkin–Johnsen, Deffuant or Hegselmann–Krause);
4. **locality meetings** pool what their attendees know; the locality lead carries it to the
   board. Every quarter the **board** meets: it knows only what its attending members know;
5. the board moves the budget a little toward what it believes (budgets are incremental;
   localities may hold a share). *Decision skill* scores this between the same decisions made
   knowing nothing local (0) and knowing true need (1);
6. engagement follows outcomes — agents who see their priorities reflected engage more, others
   less, and disengaged agents leave more often; newcomers know only the national picture and
   take their engagement partly from their colleagues';
7. ties that are used strengthen, unused ones fade, triads close, and the leadership levers
   broker new ties, hold joint forums or maintain ties.

## How to use it

* Pick a **scenario** at the top of the left panel (files in `scenarios/`).
* Move the **controls** (engagement per stakeholder type, localities, relationship mode, the
  three leadership levers, exchange rule, seed), then press **Reset**: settings take effect on
  Reset. Controls left where they are keep the scenario file's values.
* **Step** advances one month (or *Steps per update* months, under *Playback*); **▶** plays,
  **❚❚** pauses.
* **Side by side** runs two copies of the scenario with one setting changed — same seed, same
  starting network — stepped together; A is drawn solid, B dashed.
* The network view colours agents by **stakeholder type**, **locality** or **belief
  accuracy**; squares are board members, triangles locality leads; thicker, darker lines are
  stronger ties. The layout is fixed: nodes never move, ties come and go.

## Things to notice

* How board accuracy and *reach* (practices whose knowledge gets within two ties of the board)
  follow GP engagement.
* Whether decision relevance — how well the budget matches true need — tracks what the board
  knows, with a lag of a quarter.
* Ties thinning out where engagement is low, and engagement feeding back on itself (virtuous
  and vicious cycles).
* The gap between external coherence (board vs providers, councils and national priorities) in
  networked and transactional relationships.

## Things to try

* Side by side, **GP engagement high vs low**: watch relevance and board accuracy part.
* Switch **localities off** (or compare on vs off): what happens to locality relevance?
* Compare **transactional** and **networked** relationships and watch external coherence.
* Turn on the three **leadership levers** one at a time: which helps stability, which coherence?
* Change the **seed**: which differences survive a different random network?
* Colour by **belief accuracy** and find where ignorance collects.

## References

* Warwick Business School study of six CCGs in the East of England: *BMJ Open*
  2013;3(2):e002112, doi:10.1136/bmjopen-2012-002112.
* Dhanaraj C, Parkhe A. Orchestrating innovation networks. *Academy of Management Review*
  2006;31:659–669.
* Miller et al., *J Health Serv Res Policy* 2016;21:213 — virtuous and vicious cycles of GP
  engagement in commissioning.
* Moran et al., *BMJ Open* 2017;7:e015464 — the 2015 national survey of GPs' views of their
  CCG (formal roles and influence).
* DeGroot MH (1974), Friedkin NE & Johnsen EC (1990), Deffuant G et al. (2000), Hegselmann R &
  Krause U (2002): the exchange rules.
* The model in full: `docs/ODD.md`; every parameter: `docs/parameters.md`.
* Built with Mesa (mesa.readthedocs.io) and Solara; the Info tab follows NetLogo's.
"""
