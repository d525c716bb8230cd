"""The ``drift`` section: watch production inputs against the eval set that approved the model."""

from __future__ import annotations

from pydantic import Field, model_validator

from mondaytest.spec.base import SpecModel
from mondaytest.spec.types import Duration, Id

__all__ = ["DriftReference", "DriftSection", "Persistence"]


class DriftReference(SpecModel):
    """What production is compared with."""

    suite: Id
    """Eval suite whose dataset is the reference."""


class Persistence(SpecModel):
    """How many breached windows out of the last N raise an alert."""

    breaches: int = Field(ge=1)
    """Breached windows needed."""
    of: int = Field(ge=1)
    """Out of this many recent windows."""

    @model_validator(mode="after")
    def _order(self) -> Persistence:
        if self.breaches > self.of:
            raise ValueError("breaches cannot exceed of")
        return self


class DriftSection(SpecModel):
    """Drift monitoring (extended by the drift issue)."""

    decision: Id
    """Decision id whose inputs are watched."""
    reference: DriftReference
    """The reference data."""
    window: Duration = Duration("PT1H")
    """Length of one production window."""
    persistence: Persistence = Field(default_factory=lambda: Persistence(breaches=2, of=3))
    """Alert only when the breach persists."""
