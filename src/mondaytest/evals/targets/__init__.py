"""Targets: what an eval calls. :mod:`.interface` defines the protocol, one module per kind
implements it, and :func:`mondaytest.evals.targets.build.build_target` builds one from a spec."""

from __future__ import annotations

from mondaytest.evals.targets.interface import Target, TargetContext, TargetError, TargetInfo

__all__ = ["Target", "TargetContext", "TargetError", "TargetInfo"]
