"""The ``system`` section: what the governed AI system is and how risky it is."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mondaytest.spec.base import SpecModel
from mondaytest.spec.types import Id

__all__ = ["RiskLevel", "SystemSection"]

RiskLevel = Literal["high", "limited", "minimal"]


class SystemSection(SpecModel):
    """The governed system."""

    name: Id
    """Short name of the system (lower-case id), e.g. ``claims-triage``."""
    description: str = Field(min_length=1)
    """One or two sentences: what the system decides and for whom."""
    risk: RiskLevel
    """Risk class in EU AI Act vocabulary: ``high``, ``limited`` or ``minimal``. High and limited
    systems must declare at least three failure modes, each with a runbook."""
