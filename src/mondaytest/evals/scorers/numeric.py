"""Numeric closeness: ``|output - expected| <= abs_tol + rel_tol * |expected|``."""

from __future__ import annotations

import math
from typing import Any

from mondaytest.evals.model import Case, Score
from mondaytest.evals.scorers.interface import FieldScorer, short
from mondaytest.spec.evals import NumericScorer

__all__ = ["NumericTolerance", "as_number"]


def as_number(value: Any) -> float | None:
    """A finite float from a number or numeric text, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().replace(",", "").replace("_", ""))
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


class NumericTolerance(FieldScorer):
    """1 when the output is within tolerance of the expected number."""

    KIND = "numeric"
    spec: NumericScorer

    def score(self, case: Case, output: Any) -> Score:
        """1 within tolerance, else 0."""
        out, exp = self.pick(case, output)
        bad = self.missing(out, exp)
        if bad is not None:
            return bad
        want = as_number(exp)
        if want is None:
            return Score(None, None, error=f"expected value {short(exp)} is not a number")
        got = as_number(out)
        if got is None:
            return Score(0.0, False, reason=f"output {short(out, 60)} is not a number")
        allowed = self.spec.abs_tol + self.spec.rel_tol * abs(want)
        if abs(got - want) <= allowed:
            return Score(1.0, True)
        return Score(
            0.0, False, reason=f"{got} is {abs(got - want):.6g} from {want} (allowed {allowed:.6g})"
        )
