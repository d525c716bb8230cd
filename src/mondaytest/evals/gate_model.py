"""The gate's input and output: :class:`CaseOutcome` in, :class:`GateVerdict` out.

A :class:`CaseOutcome` is one case's result in one run, the whole of what the gate (and a
committed baseline) knows about a run. A :class:`GateVerdict` is the decision with every number
behind it; :meth:`GateVerdict.to_dict` turns it into restricted-profile JSON (no floats) for an
``eval_gate`` audit entry.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from mondaytest._util.canonical import to_profile
from mondaytest.errors import HarnessError

__all__ = [
    "SIGNIFICANT_DIGITS",
    "CaseOutcome",
    "CheckKind",
    "CheckVerdict",
    "GateVerdict",
    "QuarantinedCase",
    "Status",
    "format_number",
    "outcomes_digest",
]

SIGNIFICANT_DIGITS = 6
"""Floats in a verdict's dict are rounded to this many significant digits (as decimal strings)."""


# --------------------------------------------------------------------------------------------
# Input


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    """One case's result in one run: everything the gate needs to know about it.

    The runner produces one per case (epochs of a case are reduced to one outcome first, e.g.
    the mean score, so cases stay the unit of independence); a baseline file stores a list.

    - ``id``: the case id from the dataset; unique within a run, stable across runs (the key
      on which baseline and candidate are paired).
    - ``passed``: the case's overall verdict (every gating scorer passed). Required cases and
      the flipped-case lists use it. An errored case should have ``passed=False``.
    - ``scores``: scorer name → score in [0, 1]; ``True``/``False`` stand for 1/0. A metric
      whose scores are all 0 or 1 is treated as pass/fail (exact McNemar, Wilson); any other
      value makes it continuous (bootstrap).
    - ``tags``: the case's tags (``critical`` marks a required case by default).
    - ``cluster``: cases sharing a cluster (one passage, one template) are resampled together.
    - ``error``: the target or a scorer failed on this case. Errored cases count against the
      error budget and are left out of thresholds and the paired comparison.
    - ``latency_ms``: wall time of the target call, if measured.
    - ``cost_usd``: money spent on the case, if known (kept as a Decimal).
    """

    id: str
    passed: bool
    scores: Mapping[str, float] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    cluster: str | None = None
    error: bool = False
    latency_ms: float | None = None
    cost_usd: Decimal | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise HarnessError(f"case id must be a non-empty string, got {self.id!r}")
        where = f"case {self.id!r}"
        clean: dict[str, float] = {}
        for name, value in self.scores.items():
            if not isinstance(name, str) or not name or not name.isascii():
                raise HarnessError(
                    f"score name {name!r} must be a non-empty ASCII string", field=where
                )
            if isinstance(value, bool):
                clean[name] = 1.0 if value else 0.0
                continue
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise HarnessError(f"score {name!r} is not a finite number: {value!r}", field=where)
            if not 0.0 <= value <= 1.0:
                raise HarnessError(
                    f"score {name!r} = {value} is outside [0, 1]",
                    field=where,
                    hint="scorers normalise their value into [0, 1]",
                )
            clean[name] = float(value)
        object.__setattr__(self, "scores", clean)
        object.__setattr__(self, "tags", tuple(self.tags))
        if self.latency_ms is not None and not (
            math.isfinite(self.latency_ms) and self.latency_ms >= 0
        ):
            raise HarnessError(f"latency_ms must be >= 0, got {self.latency_ms!r}", field=where)
        if self.cost_usd is not None:
            cost = Decimal(str(self.cost_usd))
            if not cost.is_finite() or cost < 0:
                raise HarnessError(f"cost_usd must be >= 0, got {self.cost_usd!r}", field=where)
            object.__setattr__(self, "cost_usd", cost)

    def to_record(self) -> dict[str, Any]:
        """This outcome as restricted-profile JSON data (scores and cost as decimal strings)."""
        record: dict[str, Any] = {
            "id": self.id,
            "passed": self.passed,
            "scores": {k: _float_text(v) for k, v in sorted(self.scores.items())},
            "tags": list(self.tags),
            "cluster": self.cluster,
            "error": self.error,
            "latency_ms": None if self.latency_ms is None else _float_text(self.latency_ms),
            "cost_usd": None if self.cost_usd is None else to_profile(self.cost_usd),
        }
        return record

    def record_json(self) -> str:
        """``canonical_json(self.to_record())`` as text, built directly (fast for big runs)."""
        q = _quote
        scores = ",".join(f"{q(k)}:{q(_float_text(v))}" for k, v in sorted(self.scores.items()))
        return "".join(
            (
                '{"cluster":',
                "null" if self.cluster is None else q(self.cluster),
                ',"cost_usd":',
                "null" if self.cost_usd is None else q(to_profile(self.cost_usd)),
                ',"error":',
                "true" if self.error else "false",
                ',"id":',
                q(self.id),
                ',"latency_ms":',
                "null" if self.latency_ms is None else q(_float_text(self.latency_ms)),
                ',"passed":',
                "true" if self.passed else "false",
                ',"scores":{',
                scores,
                '},"tags":[',
                ",".join(q(t) for t in self.tags),
                "]}",
            )
        )


_quote: Callable[[str], str] = json.encoder.encode_basestring
"""JSON string literal, escaping exactly as ``json.dumps(..., ensure_ascii=False)`` does."""


@functools.lru_cache(maxsize=65536)
def _float_text(value: float) -> str:
    """A float as the profile's decimal string (cached: scores repeat a lot)."""
    text: str = to_profile(value)
    return text


def outcomes_digest(outcomes: Iterable[CaseOutcome]) -> str:
    """``sha256:<hex>`` of the canonical JSON array of the outcomes' records, sorted by id.

    Streamed record by record; the bytes equal ``canonical_json`` of the list of
    :meth:`CaseOutcome.to_record` values, so anyone can re-derive the digest.
    """
    digest = hashlib.sha256(b"[")
    for i, outcome in enumerate(sorted(outcomes, key=lambda o: o.id)):
        if i:
            digest.update(b",")
        digest.update(outcome.record_json().encode("utf-8"))
    digest.update(b"]")
    return "sha256:" + digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Output


class Status(StrEnum):
    """The verdict of one check, and of the gate."""

    PASS = "pass"  # noqa: S105
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class CheckKind(StrEnum):
    """What sort of check produced a verdict."""

    REQUIRED = "required"
    THRESHOLD = "threshold"
    REGRESSION = "regression"
    BUDGET = "budget"
    RUN = "run"
    """About the run itself: cases present, baseline usable."""


@dataclass(frozen=True, slots=True)
class CheckVerdict:
    """The verdict of one check, with the numbers behind it and a sentence saying why."""

    name: str
    """Stable name, e.g. ``regression:label``, ``threshold:label``, ``budget:latency_ms.p95``."""
    kind: CheckKind
    """Which family of check."""
    status: Status
    """pass, fail or inconclusive."""
    reason: str
    """One sentence a person can act on."""
    metric: str | None = None
    """The scorer name, for threshold and regression checks."""
    method: str | None = None
    """How it was computed: ``wilson``, ``mcnemar_exact+newcombe``, ``bootstrap``, …"""
    n: int = 0
    """Cases (or pairs) the check is computed on."""
    estimate: float | Decimal | None = None
    """The candidate's value (mean score, rate, percentile, cost)."""
    baseline: float | None = None
    """The baseline's value on the same cases (regression checks)."""
    delta: float | None = None
    """candidate - baseline (negative = worse)."""
    ci_low: float | None = None
    """Lower end of the 95 % interval (of ``delta`` for regression, of ``estimate`` otherwise)."""
    ci_high: float | None = None
    """Upper end of that 95 % interval."""
    p_value: float | None = None
    """One-sided p-value for "candidate worse" (regression checks)."""
    p_adjusted: float | None = None
    """Holm-adjusted ``p_value`` across the regression metrics."""
    mde: float | None = None
    """Smallest drop detectable at the spec's power (None if nothing is detectable)."""
    threshold: Decimal | None = None
    """The configured number compared against: min, margin, budget."""
    bound: float | None = None
    """The number actually compared with ``threshold`` (e.g. Wilson lower bound, upper bound
    on the drop)."""
    harness: bool = False
    """A failure here means the run is unusable rather than the system worse (exit 3)."""
    cases: tuple[str, ...] = ()
    """Case ids behind the verdict (failed required cases, cases missing a score)."""
    details: Mapping[str, int | str | float | None] = field(default_factory=dict)
    """Extra numbers: discordant counts, seed, resamples, design effect, min_effect."""

    def to_dict(self, case_limit: int = 50) -> dict[str, Any]:
        """Restricted-profile JSON data: floats rounded to decimal strings, ids capped."""
        ci95 = None
        if self.ci_low is not None:
            ci95 = [format_number(self.ci_low), format_number(self.ci_high)]
        return {
            "name": self.name,
            "kind": self.kind.value,
            "status": self.status.value,
            "reason": self.reason,
            "metric": self.metric,
            "method": self.method,
            "n": self.n,
            "estimate": format_number(self.estimate),
            "baseline": format_number(self.baseline),
            "delta": format_number(self.delta),
            "ci95": ci95,
            "p_value": format_number(self.p_value),
            "p_adjusted": format_number(self.p_adjusted),
            "mde": format_number(self.mde),
            "threshold": format_number(self.threshold),
            "bound": format_number(self.bound),
            "harness": self.harness,
            "cases": _id_list(self.cases, case_limit),
            "details": {k: format_number(v) for k, v in sorted(self.details.items())},
        }


@dataclass(frozen=True, slots=True)
class QuarantinedCase:
    """A case left out of gating, with its result in the candidate run if it ran."""

    id: str
    """The case id."""
    reason: str
    """Why, from the spec."""
    expires: date
    """Last day of the quarantine."""
    passed: bool | None
    """Its result in the candidate run (None if it was not in the run)."""


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """The gate's decision over one candidate run, and everything needed to explain it."""

    status: Status
    """Worst check status: fail > inconclusive > pass."""
    checks: tuple[CheckVerdict, ...]
    """Every check, in order: run, required, thresholds, regression, budgets."""
    inconclusive: str
    """The policy for inconclusive checks: ``warn`` or ``fail``."""
    n_cases: int
    """Cases in the candidate run, quarantined ones included."""
    n_judged: int
    """Cases the gate judged (not quarantined)."""
    n_paired: int
    """Cases paired with the baseline (in both runs, neither errored, not quarantined)."""
    flipped_to_fail: tuple[str, ...] = ()
    """Paired cases that passed in the baseline and fail in the candidate."""
    flipped_to_pass: tuple[str, ...] = ()
    """Paired cases that failed in the baseline and pass in the candidate."""
    added: tuple[str, ...] = ()
    """Cases in the candidate but not in the baseline (not compared)."""
    removed: tuple[str, ...] = ()
    """Cases in the baseline but not in the candidate (not compared)."""
    errored: tuple[str, ...] = ()
    """Candidate cases that ended in an error."""
    quarantined: tuple[QuarantinedCase, ...] = ()
    """Cases excluded by quarantine."""
    notes: tuple[str, ...] = ()
    """Things worth saying that are not checks (e.g. no required case in the suite)."""
    inputs: Mapping[str, str | None] = field(default_factory=dict)
    """Digests of what was judged: ``candidate``, ``baseline``, ``gate_spec``."""

    @property
    def blocking(self) -> bool:
        """True when the gate stops the merge (exit code non-zero) under its own policy."""
        return self.exit_code() != 0

    def exit_code(self, *, strict: bool = False) -> int:
        """0 pass, 1 quality failure, 3 unusable run. ``strict`` treats inconclusive as failure."""
        if self.status is Status.FAIL:
            failing = [c for c in self.checks if c.status is Status.FAIL]
            return 3 if any(c.harness for c in failing) else 1
        if self.status is Status.INCONCLUSIVE:
            return 1 if strict or self.inconclusive == "fail" else 0
        return 0

    def check(self, name: str) -> CheckVerdict:
        """The check called ``name``; KeyError if there is none."""
        for item in self.checks:
            if item.name == name:
                return item
        raise KeyError(name)

    def to_dict(self, case_limit: int = 50) -> dict[str, Any]:
        """The verdict as restricted-profile JSON data, ready for an ``eval_gate`` audit entry.

        No floats (decimal strings with six significant digits); lists of case ids keep the
        first ``case_limit`` ids with the full count and a digest of all of them.
        """
        data = {
            "schema": "monday.eval.gate/1",
            "status": self.status.value,
            "exit_code": self.exit_code(),
            "inconclusive": self.inconclusive,
            "n_cases": self.n_cases,
            "n_judged": self.n_judged,
            "n_paired": self.n_paired,
            "checks": [c.to_dict(case_limit) for c in self.checks],
            "flipped_to_fail": _id_list(self.flipped_to_fail, case_limit),
            "flipped_to_pass": _id_list(self.flipped_to_pass, case_limit),
            "added": _id_list(self.added, case_limit),
            "removed": _id_list(self.removed, case_limit),
            "errored": _id_list(self.errored, case_limit),
            "quarantined": [
                {
                    "case": q.id,
                    "reason": q.reason,
                    "expires": q.expires.isoformat(),
                    "passed": q.passed,
                }
                for q in self.quarantined
            ],
            "notes": list(self.notes),
            "inputs": dict(sorted(self.inputs.items())),
        }
        out: dict[str, Any] = to_profile(data)
        return out


def format_number(value: float | Decimal | int | str | None) -> str | int | None:
    """A number as a profile value: a decimal string (floats to six significant digits).

    Integers stay integers, None stays None, and non-finite floats become None.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        dec = value
    else:
        if not math.isfinite(value):
            return None
        dec = Decimal(format(value, f".{SIGNIFICANT_DIGITS}g"))
    text = format(dec.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _id_list(ids: Sequence[str], limit: int) -> dict[str, Any]:
    ordered = sorted(ids)
    digest = hashlib.sha256("\n".join(ordered).encode("utf-8")).hexdigest()
    return {
        "count": len(ordered),
        "ids": ordered[: max(limit, 0)],
        "truncated": len(ordered) > limit,
        "sha256": digest,
    }
