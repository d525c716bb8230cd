"""A gate check as table cells, formatted the same way in Markdown and HTML."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from mondaytest.evals.gate_model import CheckKind, CheckVerdict, Status
from mondaytest.evals.report._text import (
    fmt_ci,
    fmt_delta,
    fmt_ms,
    fmt_p,
    fmt_pct,
    fmt_score,
    one_line,
)

__all__ = ["STATUS_EMOJI", "STATUS_LABEL", "CheckRow", "check_row"]

STATUS_EMOJI = {Status.PASS: "✅", Status.FAIL: "❌", Status.INCONCLUSIVE: "⚠️"}
"""The emoji of each check status."""
STATUS_LABEL = {Status.PASS: "pass", Status.FAIL: "fail", Status.INCONCLUSIVE: "inconclusive"}
"""The word of each check status."""


@dataclass(frozen=True, slots=True)
class CheckRow:
    """One check's cells (plain text; each renderer escapes for its format)."""

    status: Status
    name: str
    baseline: str
    candidate: str
    delta: str
    ci: str
    p: str
    mde: str
    threshold: str
    reason: str
    harness: bool


def _number(value: float | Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{float(value):,.4g}" if isinstance(value, float) else str(value)


def _budget_value(name: str, value: float | Decimal | None) -> str:
    if value is None:
        return "—"
    if name == "budget:error_rate":
        return fmt_pct(value)
    if name.startswith("budget:latency_ms"):
        return fmt_ms(float(value))
    if name.startswith("budget:cost_usd"):
        return f"${_number(value)}"
    return _number(value)


def _threshold(check: CheckVerdict) -> str:
    limit = check.threshold
    if check.kind is CheckKind.REQUIRED:
        return "all pass"
    if check.kind is CheckKind.THRESHOLD:
        if limit is None:
            return "—"
        bound_name = str(check.details.get("bound", "point"))
        text = f"≥ {limit}"
        if bound_name != "point" and check.bound is not None:
            text += f" ({bound_name} {fmt_score(check.bound)})"
        return text
    if check.kind is CheckKind.REGRESSION:
        if limit is None:
            return "—"
        text = f"drop < {limit}"
        if check.bound is not None:
            text += f" (bound {fmt_score(check.bound)})"
        return text
    if check.kind is CheckKind.BUDGET:
        return "—" if limit is None else f"≤ {_budget_value(check.name, limit)}"
    return "—"


def _candidate(check: CheckVerdict) -> str:
    if check.kind is CheckKind.REQUIRED:
        if check.n and check.estimate is not None:
            passed = round(float(check.estimate) * check.n)
            return f"{passed}/{check.n} passed"
        return "—"
    if check.kind is CheckKind.BUDGET:
        return _budget_value(check.name, check.estimate)
    if check.estimate is None:
        return "—"
    return fmt_score(check.estimate)


def _p(check: CheckVerdict) -> str:
    if check.p_value is None:
        return "—"
    text = fmt_p(check.p_value)
    if check.p_adjusted is not None and fmt_p(check.p_adjusted) != text:
        text += f" (Holm {fmt_p(check.p_adjusted)})"
    return text


def _mde(check: CheckVerdict) -> str:
    if check.kind is not CheckKind.REGRESSION:
        return "—"
    if check.mde is None:
        return "none detectable" if check.n else "—"
    return fmt_score(check.mde)


def check_row(check: CheckVerdict) -> CheckRow:
    """The cells of one check."""
    regression = check.kind is CheckKind.REGRESSION
    return CheckRow(
        status=check.status,
        name=one_line(check.name),
        baseline=fmt_score(check.baseline) if regression else "—",
        candidate=_candidate(check),
        delta=fmt_delta(check.delta) if regression else "—",
        ci=fmt_ci(check.ci_low, check.ci_high, signed=regression)
        if check.kind in (CheckKind.REGRESSION, CheckKind.THRESHOLD)
        else "—",
        p=_p(check),
        mde=_mde(check),
        threshold=_threshold(check),
        reason=one_line(check.reason),
        harness=check.harness,
    )
