"""Comparing two runs: refuse when they measure different things, else pair them case by case.

Two runs are comparable when they are of the same suite and suite version, every scorer they
share has the same fingerprint (same configuration, same judge), and every case they share has
the same input and expected value. Cases only in one run are listed and left out of the pairing.
A different target is the point of a comparison, so it is reported, not refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mondaytest.errors import HarnessError
from mondaytest.evals.casesum import CaseSummary, summarize_cases
from mondaytest.evals.runs import RunRecord

__all__ = [
    "Comparison",
    "MetricDelta",
    "NotComparableError",
    "comparability_problems",
    "compare_runs",
]

MAX_NAMED = 10
"""How many differing cases a refusal names."""


class NotComparableError(HarnessError):
    """The two runs measure different things; comparing them would mislead (exit 3)."""

    def __init__(self, problems: list[str], a: str, b: str) -> None:
        super().__init__(
            f"runs {a} and {b} are not comparable: " + "; ".join(problems),
            hint="compare runs of the same suite version, scorers and cases, "
            "or bless a new baseline after an intended change",
        )
        self.problems = problems


def comparability_problems(
    a: RunRecord,
    b: RunRecord,
    cases_a: dict[str, CaseSummary] | None = None,
    cases_b: dict[str, CaseSummary] | None = None,
) -> list[str]:
    """Everything that makes ``a`` and ``b`` incomparable (empty when they are comparable)."""
    problems: list[str] = []
    fa, fb = a.data.get("fingerprint") or {}, b.data.get("fingerprint") or {}
    if a.suite != b.suite:
        problems.append(f"suite {a.suite!r} vs {b.suite!r}")
    va, vb = a.data.get("suite_version"), b.data.get("suite_version")
    if va != vb:
        problems.append(f"suite version {va} vs {vb}")
    sa, sb = fa.get("scorers") or {}, fb.get("scorers") or {}
    for name in sorted(set(sa) & set(sb)):
        if sa[name] != sb[name]:
            problems.append(
                f"scorer {name!r} changed "
                f"(fingerprint {str(sa[name])[:12]} vs {str(sb[name])[:12]})"
            )
    if cases_a is not None and cases_b is not None:
        changed: list[str] = []
        for case_id in cases_a.keys() & cases_b.keys():
            x, y = cases_a[case_id], cases_b[case_id]
            if x.input_hash != y.input_hash:
                changed.append(f"{case_id} (input)")
            elif x.expected_hash != y.expected_hash:
                changed.append(f"{case_id} (expected)")
        if changed:
            changed.sort()
            shown = ", ".join(changed[:MAX_NAMED])
            more = f" and {len(changed) - MAX_NAMED} more" if len(changed) > MAX_NAMED else ""
            problems.append(f"{len(changed)} case(s) changed under the same id: {shown}{more}")
    return problems


@dataclass
class MetricDelta:
    """One metric of two runs, paired on the cases both have."""

    name: str
    """The metric."""
    n: int
    """Paired cases (errored cases are left out)."""
    a_mean: float | None
    """Mean in run A over the paired cases."""
    b_mean: float | None
    """Mean in run B over the paired cases."""
    binary: bool
    """All paired values are 0 or 1."""
    low: float | None = None
    """Lower end of the 95 % interval of ``b - a``."""
    high: float | None = None
    """Upper end of the 95 % interval of ``b - a``."""
    p_value: float | None = None
    """Two-sided p-value of "no difference" (exact McNemar, or the bootstrap)."""
    pass_to_fail: int = 0
    """Cases that went from 1 to 0 (binary metrics)."""
    fail_to_pass: int = 0
    """Cases that went from 0 to 1 (binary metrics)."""
    method: str = ""
    """How the interval was made."""

    @property
    def delta(self) -> float | None:
        """``b_mean - a_mean``."""
        if self.a_mean is None or self.b_mean is None:
            return None
        return self.b_mean - self.a_mean

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "metric": self.name,
            "n": self.n,
            "a": self.a_mean,
            "b": self.b_mean,
            "delta": self.delta,
            "ci95": [self.low, self.high] if self.low is not None else None,
            "p_value": self.p_value,
            "binary": self.binary,
            "pass_to_fail": self.pass_to_fail,
            "fail_to_pass": self.fail_to_pass,
            "method": self.method,
        }


@dataclass
class Comparison:
    """Two comparable runs, paired."""

    a: RunRecord
    """The first run (usually the baseline)."""
    b: RunRecord
    """The second run (usually the candidate)."""
    metrics: list[MetricDelta] = field(default_factory=list)
    """Per shared metric."""
    to_fail: list[str] = field(default_factory=list)
    """Cases that passed in A and fail (or error) in B."""
    to_pass: list[str] = field(default_factory=list)
    """Cases that failed in A and pass in B."""
    added: list[str] = field(default_factory=list)
    """Cases only in B."""
    removed: list[str] = field(default_factory=list)
    """Cases only in A."""
    notes: list[str] = field(default_factory=list)
    """What differs without making the runs incomparable (target, epochs, mode)."""

    def to_json(self) -> dict[str, Any]:
        """JSON form (``monday eval compare --format json``)."""
        return {
            "a": self.a.id,
            "b": self.b.id,
            "suite": self.b.suite,
            "metrics": [m.to_json() for m in self.metrics],
            "flipped_to_fail": self.to_fail,
            "flipped_to_pass": self.to_pass,
            "added": self.added,
            "removed": self.removed,
            "notes": self.notes,
        }


def _notes(a: RunRecord, b: RunRecord) -> list[str]:
    notes: list[str] = []
    ta, tb = a.data.get("target") or {}, b.data.get("target") or {}
    if ta.get("fingerprint") != tb.get("fingerprint"):
        notes.append(
            f"target changed: {ta.get('kind')} {ta.get('ref')} → {tb.get('kind')} {tb.get('ref')} "
            f"(fingerprint {str(ta.get('fingerprint'))[:12]} → {str(tb.get('fingerprint'))[:12]})"
        )
    for key in ("epochs", "mode", "sample"):
        x, y = (a.data.get("config") or {}).get(key), (b.data.get("config") or {}).get(key)
        if x != y:
            notes.append(f"{key}: {x} vs {y}")
    for run in (a, b):
        if run.status != "complete":
            notes.append(f"run {run.id} is {run.status}")
    return notes


def _metric_delta(name: str, pairs: list[tuple[float, float]]) -> MetricDelta:
    from mondaytest.evals import stats

    xs = np.array([p[0] for p in pairs], dtype=float)
    ys = np.array([p[1] for p in pairs], dtype=float)
    binary = bool(np.all((xs == 0) | (xs == 1)) and np.all((ys == 0) | (ys == 1)))
    md = MetricDelta(name, len(pairs), float(xs.mean()), float(ys.mean()), binary)
    if len(pairs) < 2:
        return md
    if binary:
        a = int(np.sum((xs == 1) & (ys == 1)))
        b = int(np.sum((xs == 1) & (ys == 0)))
        c = int(np.sum((xs == 0) & (ys == 1)))
        d = int(np.sum((xs == 0) & (ys == 0)))
        md.pass_to_fail, md.fail_to_pass = b, c
        # the interval of the change b - a is the negated interval of the drop
        drop = stats.newcombe_paired_interval(a, b, c, d, 0.95)
        md.low, md.high = -drop.high, -drop.low
        md.p_value = stats.mcnemar_exact(b, c)
        md.method = "exact McNemar, Newcombe interval"
    else:
        boot = stats.paired_bootstrap(ys, xs, resamples=2000, seed=0)
        md.low, md.high = boot.low, boot.high
        md.p_value = min(1.0, 2 * min(boot.p_worse, 1 - boot.p_worse))
        md.method = "paired bootstrap (2000, seed 0)"
    return md


def compare_runs(a: RunRecord, b: RunRecord) -> Comparison:
    """Pair ``b`` against ``a``; :class:`NotComparableError` when they are not comparable."""
    cases_a, cases_b = summarize_cases(a), summarize_cases(b)
    problems = comparability_problems(a, b, cases_a, cases_b)
    if problems:
        raise NotComparableError(problems, a.id, b.id)
    out = Comparison(a, b, notes=_notes(a, b))
    out.added = sorted(cases_b.keys() - cases_a.keys())
    out.removed = sorted(cases_a.keys() - cases_b.keys())
    shared = sorted(cases_a.keys() & cases_b.keys())
    for case_id in shared:
        x, y = cases_a[case_id], cases_b[case_id]
        if x.passed and not y.passed:
            out.to_fail.append(case_id)
        elif not x.passed and y.passed and not x.error:
            out.to_pass.append(case_id)
    names_a = [s["name"] for s in a.data.get("scorers") or []]
    names_b = {s["name"] for s in b.data.get("scorers") or []}
    for name in names_a:
        if name not in names_b:
            continue
        pairs: list[tuple[float, float]] = []
        for case_id in shared:
            x, y = cases_a[case_id], cases_b[case_id]
            if x.error or y.error:
                continue
            ma, mb = x.mean(name), y.mean(name)
            if ma is not None and mb is not None:
                pairs.append((ma, mb))
        if pairs:
            out.metrics.append(_metric_delta(name, pairs))
    only = sorted(set(names_a) ^ names_b)
    if only:
        out.notes.append(f"metrics in only one run: {', '.join(only)}")
    return out
