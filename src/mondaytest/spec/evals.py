"""The ``evals`` section: eval suites, their datasets, targets, scorers and gates."""

from __future__ import annotations

from pydantic import Field

from mondaytest.spec.base import SpecModel
from mondaytest.spec.evals_gate import GateSpec

__all__ = ["EvalsSection", "GateSpec", "SuiteSpec"]


class SuiteSpec(SpecModel):
    """One eval suite (extended by the eval issue)."""

    dataset: str
    """Path of the cases file (JSONL, CSV or YAML), relative to monday.yaml."""
    gate: GateSpec = Field(default_factory=GateSpec)
    """How a run of this suite is judged."""


class EvalsSection(SpecModel):
    """Eval suites keyed by name."""

    suites: dict[str, SuiteSpec] = Field(default_factory=dict)
    """The suites, keyed by suite name."""
