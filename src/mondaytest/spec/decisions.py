"""The ``decisions`` section: every decision point that touches a customer."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mondaytest.spec.base import SpecModel
from mondaytest.spec.types import Id

__all__ = ["DecisionSpec", "ValueKind"]

ValueKind = Literal["numeric", "categorical", "text", "boolean", "datetime", "json"]


class DecisionSpec(SpecModel):
    """One decision point of the system."""

    id: Id
    """Id the application passes when it records a decision."""
    description: str = Field(min_length=1)
    """What is decided."""
    customer_facing: bool
    """True when the decision touches a customer (such decisions are always audited)."""
    audit: Literal["required", "optional"] = "required"
    """``required``: no decision without its audit record (with ``fail_mode: closed``)."""
    guardrails: list[Id] = Field(default_factory=list)
    """Ids of guardrails (from the ``guardrails`` section) applied to this decision."""
    inputs: dict[str, ValueKind] = Field(default_factory=dict)
    """Declared inputs and their kinds; drift watches them (values are binned, never stored)."""
    outputs: dict[str, ValueKind] = Field(default_factory=dict)
    """Declared outputs and their kinds."""
