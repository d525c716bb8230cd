"""Scorer kinds and their factories.

``pii_leak`` is a reserved slot: the guard registers its scorer with :func:`register_scorer`
when it is installed. Until then a suite that uses it stops with a configuration error instead
of passing unchecked.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable
from typing import Any

from mondaytest.errors import ConfigError
from mondaytest.evals.scorers.interface import Scorer, ScorerContext

__all__ = ["SCORER_KINDS", "build_scorer", "register_scorer"]

Factory = Callable[[Any, ScorerContext], Scorer]

_FACTORIES: dict[str, Factory | None] = {}
SCORER_KINDS: dict[str, bool | None] = {
    "exact": True,
    "normalized": True,
    "normalised": True,
    "regex": True,
    "contains": True,
    "json_schema": True,
    "numeric": True,
    "classification": True,
    "token_f1": True,
    "rouge_l": True,
    "judge": False,
    "python": None,
    "pii_leak": True,
}
"""Every kind, and whether it is deterministic (None: the spec says)."""

_BUILTIN = {
    "exact": ("mondaytest.evals.scorers.match", "ExactMatch"),
    "normalized": ("mondaytest.evals.scorers.match", "NormalizedMatch"),
    "normalised": ("mondaytest.evals.scorers.match", "NormalizedMatch"),
    "regex": ("mondaytest.evals.scorers.match", "RegexMatch"),
    "contains": ("mondaytest.evals.scorers.match", "Contains"),
    "json_schema": ("mondaytest.evals.scorers.schema", "JsonSchemaValid"),
    "numeric": ("mondaytest.evals.scorers.numeric", "NumericTolerance"),
    "classification": ("mondaytest.evals.scorers.classification", "Classification"),
    "token_f1": ("mondaytest.evals.scorers.text", "TokenF1"),
    "rouge_l": ("mondaytest.evals.scorers.text", "RougeL"),
    "judge": ("mondaytest.evals.scorers.judge", "Judge"),
    "python": ("mondaytest.evals.scorers.custom", "CustomScorer"),
}
GUARD_MODULE = "mondaytest.guard.eval_scorer"
"""The module that registers ``pii_leak`` (shipped with the guard)."""


def register_scorer(kind: str, factory: Factory) -> None:
    """Make ``kind`` buildable (the guard registers ``pii_leak`` this way)."""
    _FACTORIES[kind] = factory


def _factory(kind: str) -> Factory:
    factory = _FACTORIES.get(kind)
    if factory is not None:
        return factory
    if kind in _BUILTIN:
        module, name = _BUILTIN[kind]
        cls: Factory = getattr(importlib.import_module(module), name)
        _FACTORIES[kind] = cls
        return cls
    if kind == "pii_leak":
        with contextlib.suppress(ModuleNotFoundError):
            importlib.import_module(GUARD_MODULE)
        factory = _FACTORIES.get(kind)
        if factory is not None:
            return factory
        raise ConfigError(
            "the pii_leak scorer is provided by the guard, which is not installed yet",
            field="scorers",
            hint="remove this scorer for now; it becomes available with the guardrails",
        )
    raise ConfigError(f"unknown scorer kind {kind!r}", field="scorers")


def build_scorer(spec: Any, ctx: ScorerContext) -> Scorer:
    """Build the scorer a spec describes."""
    return _factory(spec.kind)(spec, ctx)
