"""The ``failure_modes`` section: the top failure modes, each with its runbook."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mondaytest.spec.base import SpecModel
from mondaytest.spec.types import Id

__all__ = ["FailureMode", "Severity"]

Severity = Literal["P1", "P2", "P3", "P4"]


class FailureMode(SpecModel):
    """A way the system fails in production, and the runbook that resolves it."""

    id: Id
    """Id used by alert routes and incidents."""
    title: str = Field(min_length=1)
    """Short human title."""
    severity: Severity
    """Default incident severity, P1 (worst) to P4."""
    runbook: str = Field(min_length=1)
    """Path of the runbook (Markdown), relative to monday.yaml; the file must exist."""
    decisions: list[Id] = Field(default_factory=list)
    """Decision ids this failure mode affects (empty: all)."""
