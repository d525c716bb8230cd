"""The ``gate`` of an eval suite: required cases, thresholds, regression test, budgets."""

from __future__ import annotations

from mondaytest.spec.base import SpecModel

__all__ = ["GateSpec"]


class GateSpec(SpecModel):
    """How a suite's run is judged against thresholds and the baseline (extended by the eval issue)."""
