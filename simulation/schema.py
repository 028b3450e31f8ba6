"""Base class of every schema model (scenarios, generation rules, experiments)."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

__all__ = ["Strict"]


class Strict(BaseModel):
    """Base of every schema model: unknown keys are errors that list what is allowed."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_enum_values=True)

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
    def _partial_sections_keep_their_defaults(cls, data: Any) -> Any:
        """A mapping given for a field whose default is itself a model changes only the keys
        it names: ``engagement: {gp: {mean: 0.3}}`` keeps the scenario-wide default sd of GP
        engagement (0.15), as ``extends:`` and experiment parameters do, instead of falling
        back to the section class's own default."""
        if not isinstance(data, dict):
            return data
        out = None
        for key, value in data.items():
            info = cls.model_fields.get(key)
            if info is None or not isinstance(value, dict) or info.default_factory is not None:
                continue
            default = info.default
            if isinstance(default, BaseModel):
                base = default.model_dump()
                merged = {**base, **{k: v for k, v in value.items()}}
                if merged != value:
                    out = dict(data) if out is None else out
                    out[key] = _deep_merge(base, value)
        return data if out is None else out


def _deep_merge(base: Any, child: Any) -> Any:
    if isinstance(base, dict) and isinstance(child, dict):
        out = dict(base)
        for k, v in child.items():
            out[k] = _deep_merge(base[k], v) if k in base else v
        return out
    return child
