"""The app's controls, generated from the scenario schema, and what they change.

Slider ranges come from the schema's field bounds, start values from the loaded scenario, and
every control is a dotted ``--set`` path (:data:`TEACHING_CONTROLS`), so the app changes exactly
what ``commnet run --set`` would (:func:`settings_overrides`) and says so in plain words
(:func:`describe_changes`).  Also the side-by-side presets (:data:`COMPARISONS`) and the seed box
(:func:`parse_seed`).
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
from pydantic import BaseModel

from ..loader import ScenarioError
from ..scenario import STAKEHOLDER_TYPES, Scenario
from .network import TYPE_LABELS

__all__ = [
    "CLASSROOM_COMPARE", "COMPARE_FILE", "COMPARE_OFF", "COMPARISONS", "CONTROL_LABELS",
    "TEACHING_CONTROLS", "Control", "control_options", "describe_changes", "exact_step",
    "make_model_params", "parse_seed", "preset_paths", "scenario_value", "schema_field",
    "settings_overrides",
]


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


def _decimals(x: float) -> int:
    """Decimal places of ``x`` as written (``0.426`` → 3; at most 6)."""
    text = f"{round(float(x), 6):.6f}".rstrip("0")
    return len(text.partition(".")[2])


def exact_step(value: float, lo: float, step: float) -> float:
    """A slider step that lands on ``value`` exactly: ``step`` if ``value`` is on the grid
    ``lo + k × step``, else the finest decimal ``value`` needs (``0.426`` with a 0.05 step
    → 0.001), so the slider shows the file's value instead of snapping it to a neighbour
    (which would also make an untouched page differ from the file)."""
    k = (float(value) - float(lo)) / float(step)
    if math.isclose(k, round(k), rel_tol=0, abs_tol=1e-6):
        return float(step)
    finer = 10.0 ** -max(_decimals(value), _decimals(lo), _decimals(step))
    return min(float(step), finer)


def control_options(control: Control, scenario: Scenario) -> dict[str, Any]:
    """Mesa-style ``model_params`` entry (the app's input for one control).

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
        step = exact_step(value, lo, float(control.step or (hi - lo) / 20))
        return {**out, "type": "SliderFloat", "value": float(value), "min": lo,
                "max": max(hi, float(value)), "step": step}
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
def preset_paths(compare: Any) -> frozenset[str]:
    """The settings a side-by-side preset sets in both runs (so the control's own value is not
    used while that preset is chosen): ``engagement.gp.mean`` for the GP engagement preset."""
    preset = COMPARISONS.get(compare) if isinstance(compare, str) else None
    if preset is None:
        return frozenset()
    return frozenset(p for p, _ in (*preset[1], *preset[3]))


#: The comparison a fresh page opens on (the classroom view: one click on ▶ runs the lesson).
CLASSROOM_COMPARE = "GP engagement: high (0.8) vs low (0.2)"


def make_model_params(scenario_path: str | None, scenario: Scenario | None) -> dict[str, Any]:
    """Mesa-style ``model_params`` for :class:`TeachingModel` on one scenario (what the page draws
    its controls from and Reset builds from).

    ``scenario_path`` is fixed; the side-by-side choice (starting on
    :data:`CLASSROOM_COMPARE`), the seed (a text box, as Mesa
    offers it) and every :data:`TEACHING_CONTROLS` entry are user inputs.  Without a valid
    scenario only the fixed path, the comparison and the seed are offered.
    """
    params: dict[str, Any] = {
        "scenario_path": scenario_path,
        "compare": {"type": "Select", "label": "Side by side", "value": CLASSROOM_COMPARE,
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
