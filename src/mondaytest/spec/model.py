"""The root of the contract: :class:`MondaySpec`, one model per section."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from mondaytest.spec.audit import AuditSection
from mondaytest.spec.base import SpecModel
from mondaytest.spec.decisions import DecisionSpec
from mondaytest.spec.drift import DriftSection
from mondaytest.spec.evals import EvalsSection
from mondaytest.spec.failure_modes import FailureMode
from mondaytest.spec.guardrails import GuardrailSpec
from mondaytest.spec.oncall import OncallSection
from mondaytest.spec.people import OwnersSection
from mondaytest.spec.system import SystemSection
from mondaytest.spec.types import Duration

__all__ = ["CURRENT_VERSION", "MondaySpec"]

CURRENT_VERSION = 1
"""The contract format version this Monday writes and reads."""


class MondaySpec(SpecModel):
    """A whole ``monday.yaml``: the contract between engineer, operator and auditor."""

    version: Literal[1]
    """Contract format version. ``monday spec migrate`` upgrades older files."""
    system: SystemSection
    """What the governed system is."""
    owners: OwnersSection
    """Who wrote it and who runs it."""
    cutover: AwareDatetime
    """When operations take over: ISO 8601 with a time zone, e.g. ``2026-12-07T09:00:00+00:00``."""
    handoff_window: Duration = Duration("P90D")
    """How long after cutover the original team stays on the escalation path."""
    decisions: list[DecisionSpec] = Field(default_factory=list)
    """Decision points; every customer-facing one is audited."""
    failure_modes: list[FailureMode] = Field(default_factory=list)
    """Top failure modes with their runbooks (at least three for high and limited risk)."""
    evals: EvalsSection = Field(default_factory=EvalsSection)
    """Eval suites and their regression gates."""
    guardrails: list[GuardrailSpec] = Field(default_factory=list)
    """Guardrails applied to decisions."""
    audit: AuditSection
    """The signed audit log."""
    oncall: OncallSection = Field(default_factory=OncallSection)
    """On-call rotations, escalation and paging."""
    drift: DriftSection | None = None
    """Drift monitoring against the eval set."""
