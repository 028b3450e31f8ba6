"""Base class of every schema model (scenarios, generation rules, experiments)."""

from __future__ import annotations

import copy
import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

__all__ = ["Strict", "merge_mappings"]


class Strict(BaseModel):
    """Base of every schema model: unknown keys are errors that list what is allowed."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_enum_values=True,
                              allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = list(cls.model_fields)
            for key in data:
                if key not in cls.model_fields:
                    close = difflib.get_close_matches(str(key), allowed, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise PydanticCustomError(
                        "unknown_field",
                        f"unknown field {str(key)!r}{hint}; allowed fields: {', '.join(allowed)}",
                        {"key": str(key)},
                    )
        return data

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data: Any) -> Any:
        """``true``/``false`` where a number is meant is an error, not 1/0; so is a string
        (``"5"``, ``"1e3"``, ``"nan"``): a quoted number is not silently converted."""
        if isinstance(data, dict):
            for key, value in data.items():
                info = cls.model_fields.get(key)
                if info is None:
                    continue
                kind = _numeric_kind(info.annotation)
                items = [value] if kind == "scalar" else (
                    value if kind == "list" and isinstance(value, list) else [])
                for v in items:
                    if isinstance(v, bool):
                        raise PydanticCustomError(
                            "bool_as_number",
                            f"{key}: got {value!r}, a boolean, where a number is meant",
                            {"key": str(key)},
                        )
                    if isinstance(v, str):
                        raise PydanticCustomError(
                            "string_as_number",
                            f"{key}: got {value!r}, a string, where a number is meant "
                            "(numbers are written without quotes)",
                            {"key": str(key)},
                        )
        return data

    @model_validator(mode="before")
    @classmethod
    def _partial_sections_keep_their_defaults(cls, data: Any) -> Any:
        """A mapping given for a field whose default is itself a model changes only the keys
        it names: ``engagement: {gp: {mean: 0.3}}`` keeps the scenario-wide default sd of GP
        engagement (0.15), as ``extends:`` and experiment parameters do, instead of falling
        back to the section class's own default."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key, value in data.items():
            info = cls.model_fields.get(key)
            if info is not None and isinstance(value, dict) and isinstance(info.default, BaseModel):
                out[key] = merge_mappings(info.default.model_dump(), value)
        return out


def merge_mappings(base: Any, child: Any) -> Any:
    """Deep-merge ``child`` over ``base``: mappings key by key, everything else replaced."""
    if isinstance(base, dict) and isinstance(child, dict):
        out = dict(base)
        for key, value in child.items():
            out[key] = merge_mappings(base[key], value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(child)


def _numeric_kind(annotation: Any) -> str | None:
    """"scalar" for int/float fields (optionally None), "list" for lists of numbers."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _numeric_kind(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        kinds = {_numeric_kind(a) for a in typing.get_args(annotation) if a is not type(None)}
        return kinds.pop() if len(kinds) == 1 else None
    if origin in (list, tuple):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return "list" if args and all(_numeric_kind(a) == "scalar" for a in args) else None
    if annotation in (int, float):
        return "scalar"
    return None
