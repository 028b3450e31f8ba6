"""Generate the parameter reference (``docs/parameters.md``) from the scenario schema.

Run ``python -m simulation.reference > docs/parameters.md`` (and ``python -m simulation.reference
metrics > docs/metrics.md`` for the metric reference); a test checks the committed file
is up to date, so the reference can never drift from the code.  The reference ends with the
provenance table of :mod:`simulation.provenance` (data, assumed, fitted or structural).
"""

from __future__ import annotations

import inspect
import types
import typing

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .provenance import justification_table
from .scenario import Event, Scenario

__all__ = ["parameter_reference"]


def _type_name(annotation: object) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is typing.Literal:
        return " \\| ".join(repr(a) for a in typing.get_args(annotation))
    if origin is list:
        return f"list of {_type_name(typing.get_args(annotation)[0])}"
    if inspect.isclass(annotation):
        if issubclass(annotation, BaseModel):
            return annotation.__name__
        return getattr(annotation, "__name__", str(annotation))
    return str(annotation).replace("typing.", "")


def _bounds(info: FieldInfo) -> str:
    parts = []
    for meta in info.metadata:
        for attr, sym in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"),
                          ("min_length", "min length"), ("max_length", "max length")):
            value = getattr(meta, attr, None)
            if value is not None:
                parts.append(f"{sym} {value}")
    args = typing.get_args(info.annotation) if typing.get_origin(info.annotation) else ()
    for a in args:
        for meta in getattr(a, "__metadata__", ()):
            for attr, sym in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
                value = getattr(meta, attr, None)
                if value is not None:
                    parts.append(f"{sym} {value}")
    return ", ".join(parts)


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(section)"
    if hasattr(value, "value"):
        value = value.value
    text = repr(value)
    return f"`{text}`" if len(text) < 60 else "(see schema)"


def _nested(annotation: object) -> type[BaseModel] | None:
    for a in (annotation, *typing.get_args(annotation)):
        if inspect.isclass(a) and issubclass(a, BaseModel):
            return a
        for b in typing.get_args(a):
            if inspect.isclass(b) and issubclass(b, BaseModel):
                return b
    return None


def _rows(model: type[BaseModel], prefix: str, out: list[str], seen: set) -> None:
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        nested = _nested(info.annotation)
        desc = (info.description or "").replace("\n", " ")
        if nested is not None and not desc:
            desc = (inspect.getdoc(nested) or "").split("\n\n")[0].replace("\n", " ")
        out.append(f"| `{path}` | {_type_name(info.annotation)} | {_default(info)} | "
                   f"{_bounds(info)} | {desc} |")
        if nested is not None and (nested, path) not in seen:
            seen.add((nested, path))
            sep = "[]." if typing.get_origin(info.annotation) is list else "."
            _rows(nested, path + sep, out, seen)


def parameter_reference() -> str:
    """The Markdown parameter reference of :class:`~simulation.scenario.Scenario`."""
    lines = [
        "# Parameter reference",
        "",
        "Generated from the scenario schema by `python -m simulation.reference` "
        "(`make docs`); do not edit by hand. Every field can be set in a scenario file or with "
        "`--set dotted.path=value` (list items by index: `groups.0.population=90000`). "
        "Unknown fields are errors.",
        "",
        "| field | type | default | allowed | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    _rows(Scenario, "", lines, set())
    lines += ["", "## Events", "", "Each item of `events` has a `type`:", ""]
    for cls in _event_classes():
        tag = typing.get_args(cls.model_fields["type"].annotation)[0]
        lines += [f"### `{tag}`", "", inspect.getdoc(cls) or "", "",
                  "| field | type | default | allowed | meaning |", "| --- | --- | --- | --- | --- |"]
        _rows(cls, "", lines, set())
        lines.append("")
    lines += [
        "## Provenance",
        "",
        "Where each value comes from (`simulation/provenance.py`): **data** (the source), "
        "**assumed** (why), **fitted** (to what) or **structural** "
        "(names, switches, run settings, scenario content). The plausible range is what a "
        "robustness Latin hypercube varies (`simulation.provenance.uncertain_parameters`).",
        "",
        justification_table(),
    ]
    return "\n".join(lines)


def _event_classes() -> list[type[BaseModel]]:
    """The event models of the ``Event`` union, in declaration order."""
    union = typing.get_args(Event)[0]
    return [cls for cls in typing.get_args(union) if issubclass(cls, BaseModel)]


if __name__ == "__main__":  # pragma: no cover
    import sys

    if sys.argv[1:] == ["metrics"]:  # docs/metrics.md, from the metric registry
        from .reporters import metric_reference

        print(metric_reference(), end="")
    else:
        print(parameter_reference(), end="")
