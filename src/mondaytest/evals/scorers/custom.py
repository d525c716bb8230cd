"""Your own scorers: ``module:function``, sync or async."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

from mondaytest.errors import ConfigError
from mondaytest.evals.model import MISSING, Case, Score
from mondaytest.evals.scorers.interface import FieldScorer, ScorerContext, short
from mondaytest.evals.targets.python import import_callable, source_digest
from mondaytest.spec.evals import PythonScorer

__all__ = ["CustomScorer", "to_score"]

ARGUMENTS = ("output", "expected", "input", "case", "metadata")
"""Names a custom scorer's parameters may have."""


def to_score(result: Any, threshold: float | None) -> Score:
    """A custom scorer's return value as a :class:`Score` (see PythonScorer's doc)."""
    if isinstance(result, Score):
        return result
    if isinstance(result, bool):
        return Score(float(result), result)
    if isinstance(result, int | float):
        value = float(result)
        if not math.isfinite(value) or not 0.0 <= value <= 1.0:
            return Score(None, None, error=f"scorer returned {result!r}, outside [0, 1]")
        return Score(value, None if threshold is None else value >= threshold)
    if isinstance(result, dict) and ("value" in result or "passed" in result):
        passed = result.get("passed")
        raw_value = result.get("value")
        if raw_value is None and isinstance(passed, bool):
            raw_value = float(passed)
        base = to_score(raw_value, threshold) if raw_value is not None else Score(None, None)
        if base.error is not None:
            return base
        if isinstance(passed, bool):
            base.passed = passed
        reason = result.get("reason")
        base.reason = None if reason is None else str(reason)[:500]
        return base
    return Score(
        None, None, error=f"scorer returned {short(result)}; return a bool, a number or a Score"
    )


class CustomScorer(FieldScorer):
    """Calls your function with the arguments it asks for."""

    KIND = "python"
    NEEDS_EXPECTED = False
    spec: PythonScorer

    def __init__(self, spec: PythonScorer, ctx: ScorerContext) -> None:
        field = f"scorers.{spec.name}.function"
        self._fn: Callable[..., Any] = import_callable(
            spec.function, ctx.root_dir, what="scorer", field=field
        )
        try:
            params = inspect.signature(self._fn).parameters
        except (TypeError, ValueError):
            params = {}  # type: ignore[assignment]
        self._all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        names = [n for n, p in params.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        unknown = [
            n for n in names if n not in ARGUMENTS and params[n].default is inspect.Parameter.empty
        ]
        if unknown:
            raise ConfigError(
                f"scorer {spec.function!r} asks for {', '.join(unknown)}",
                field=field,
                hint=f"parameters are passed by name: {', '.join(ARGUMENTS)}",
            )
        self._names = [n for n in names if n in ARGUMENTS]
        self.is_async = inspect.iscoroutinefunction(self._fn)
        self.DETERMINISTIC = spec.deterministic  # type: ignore[misc]
        self._source = source_digest(self._fn, spec.function.partition(":")[0])
        super().__init__(spec, ctx)

    def fingerprint_detail(self) -> dict[str, Any]:
        """The spec plus the scorer's source."""
        return {**super().fingerprint_detail(), "source_sha256": self._source}

    def _kwargs(self, case: Case, output: Any) -> dict[str, Any]:
        out, exp = self.pick(case, output)
        available = {
            "output": out,
            "expected": None if exp is MISSING else exp,
            "input": case.input,
            "case": case,
            "metadata": case.metadata,
        }
        if self._all:
            return available
        return {n: available[n] for n in self._names}

    def score(self, case: Case, output: Any) -> Score:
        """Call the function."""
        return to_score(self._fn(**self._kwargs(case, output)), self.spec.threshold)

    async def ascore(self, case: Case, output: Any, epoch: int) -> Score:
        """Call (and await) the function."""
        result = self._fn(**self._kwargs(case, output))
        if inspect.isawaitable(result):
            result = await result
        return to_score(result, self.spec.threshold)
