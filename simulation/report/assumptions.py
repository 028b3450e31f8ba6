"""A scenario's key assumptions, read from the resolved scenario and the provenance registry.

Every leaf value of a resolved scenario (``manifest.json``'s ``scenario``) is looked up in
:data:`simulation.provenance.REGISTRY`: **data** (a published figure, with its source),
**assumed** (a judgement, with the reason and the plausible range a robustness analysis
varies), **fitted** (estimated from published figures, with the target) or **structural**
(names, switches, run settings).  List items are summarised per field (``groups[].population``:
six values, their range).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..provenance import provenance

__all__ = ["KEY_SETTINGS", "Setting", "assumptions", "flatten"]

#: Settings shown first, in this order, when the scenario has them: what a reader needs to
#: know to read the results (scale, horizon, structure, behaviour, money).
KEY_SETTINGS = (
    "steps", "burn_in", "scale", "groups[].population", "groups[].practices.count",
    "localities.enabled", "localities.budget_share", "localities.attendance",
    "relationships.mode", "network.informal", "exchange.rule", "exchange.rate",
    "engagement.gp.mean", "engagement_dynamics.learning_rate", "decisions.interval",
    "decisions.budget_per_head", "decisions.max_shift", "decisions.reflect_threshold",
    "observation.noise", "leadership.enabled",
)


@dataclass(frozen=True)
class Setting:
    """One scenario field: its value (or summary of list values) and provenance."""

    path: str
    value: str
    basis: str
    why: str
    plausible: str = ""
    target: str = ""


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        for item in value:
            yield from _leaves(item, f"{path}[]")
    else:
        yield path, value


def flatten(scenario: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Dotted path (list items as ``name[]``) → the values found there (one per list item)."""
    out: dict[str, list[Any]] = {}
    for path, value in _leaves(scenario, ""):
        key = path.split("[]")[0] + "[]" if path.startswith("events[]") else path
        out.setdefault(key, []).append(value)
    return out


def _event_text(event: Mapping[str, Any], start: str | None = None) -> str:
    """``need_shock at month 18 (service=mental_health, factor=1.6, …)``; with the scenario's
    calendar ``start``, the month's date follows the step (``at month 24, 2013-04``)."""
    rest = ", ".join(f"{k}={v}" for k, v in event.items() if k not in ("type", "step", "date"))
    step = event.get("step", "?")
    when = f"month {step}"
    if start and isinstance(step, int):
        from ..calendar_time import add_months

        when += f", {add_months(start, step)}"
    return f"{event.get('type', 'event')} at {when}" + (f" ({rest})" if rest else "")


def _show(values: Sequence[Any], path: str) -> str:
    if path == "events[]":
        return f"{len(values)} value(s)"
    if len(values) == 1:
        v = values[0]
        if isinstance(v, float):
            return f"{v:g}"
        if isinstance(v, list | dict):
            text = json.dumps(v)
            return text if len(text) <= 80 else text[:77] + "…"
        return "none" if v is None else str(v)
    nums = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(nums) == len(values):
        return f"{len(values)} values, {min(nums):g} to {max(nums):g}"
    distinct = list(dict.fromkeys(map(str, values)))
    return f"{len(values)} values: " + ", ".join(distinct[:4]) + ("…" if len(distinct) > 4 else "")


def assumptions(scenario: Mapping[str, Any], overrides: Sequence[str] = ()) -> dict[str, Any]:
    """What a report says about a scenario's assumptions.

    Parameters
    ----------
    scenario : mapping
        The resolved scenario (``Scenario.model_dump(mode="json")``).
    overrides : sequence of str
        ``dotted.path=value`` changes given on the command line.

    Returns
    -------
    dict
        ``counts`` (basis → number of fields), ``key`` (the :data:`KEY_SETTINGS` present),
        ``fitted``, ``assumed`` and ``data`` (lists of :class:`Setting`), ``overrides``
        (each change with the basis of the field it changes), ``events`` (one line each).
    """
    events = scenario.get("events") or []
    settings: dict[str, Setting] = {}
    for path, values in flatten(scenario).items():
        try:
            entry = provenance(path)
        except KeyError:
            continue
        plausible = "" if entry.plausible is None else f"{entry.plausible[0]:g} – {entry.plausible[1]:g}"
        value = _show(values, path)
        settings[path] = Setting(path, value, entry.basis, entry.why, plausible,
                                 entry.target or "")
    counts = Counter(s.basis for s in settings.values())
    changed = []
    for text in overrides:
        path = text.split("=", 1)[0].strip()
        try:
            basis = provenance(path).basis
        except KeyError:
            basis = "unknown"
        changed.append({"change": text, "basis": basis})
    by = {b: [s for s in settings.values() if s.basis == b] for b in ("fitted", "assumed", "data")}
    return {
        "counts": {b: counts.get(b, 0) for b in ("data", "fitted", "assumed", "structural")},
        "total": sum(counts.values()),
        "key": [settings[p] for p in KEY_SETTINGS if p in settings],
        "overrides": changed,
        **by,
        "uncertain_assumed": [s for s in by["assumed"] if s.plausible],
        "events": [_event_text(e, scenario.get("start")) for e in events],
    }
