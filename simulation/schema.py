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
