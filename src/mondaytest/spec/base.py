"""Base model for every section of the contract: unknown keys are errors, values are checked."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["SpecModel"]


class SpecModel(BaseModel):
    """A strict, immutable contract model: unknown keys are refused, nothing is coerced silently."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        use_attribute_docstrings=True,
        str_strip_whitespace=False,
    )
