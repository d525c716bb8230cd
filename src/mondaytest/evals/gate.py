"""The eval gate: a pure function from per-case outcomes and a :class:`GateSpec` to a verdict.

The gate never runs anything. It receives the candidate run (and the committed baseline) as
:class:`CaseOutcome` records, applies the checks of the suite's ``gate:`` block and returns a
:class:`GateVerdict`:

* **required** — cases tagged e.g. ``critical`` (or listed by id) must pass; no statistics.
* **threshold** — a metric's mean over the candidate, or the lower end of its confidence
  interval, must reach a floor.
* **regression** — paired non-inferiority against the baseline, per metric (evals.md §5.3):
  FAIL when the one-sided paired test finds the candidate worse at ``alpha`` (Holm-adjusted over
  the regression metrics) *and* the observed drop exceeds ``min_effect``; PASS when the one-sided
  upper (1 - alpha) bound on the drop is below ``margin``; otherwise INCONCLUSIVE — never PASS.
  Every regression check reports the minimum detectable effect (MDE) at the spec's power.
* **budget** — error rate, latency percentiles, cost.

The overall status is the worst check status. Zero cases to judge is a failure, never a pass.
Quarantined cases are excluded from every check and listed; an expired quarantine stops the gate
with a :class:`~mondaytest.errors.ConfigError` naming the case. Cases that flipped between the
baseline and the candidate are always listed, significant or not.

Exit codes (:meth:`GateVerdict.exit_code`): 0 pass (or inconclusive under ``warn``), 1 a quality
failure, 3 when a failing check means the run itself is unusable (errors over budget, no cases,
missing scores, no usable baseline). Configuration errors (2) and harness errors (3) that make a
verdict impossible are raised as exceptions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime

from mondaytest._util.canonical import canonical_json, to_profile
from mondaytest.errors import ConfigError, HarnessError
from mondaytest.evals.gate_checks import (
    budget_checks,
    decide_paired_binary,
    decide_regression,
    regression_checks,
    required_check,
    threshold_check,
)
from mondaytest.evals.gate_model import (
    CaseOutcome,
    CheckKind,
    CheckVerdict,
    GateVerdict,
    QuarantinedCase,
    Status,
    outcomes_digest,
)
from mondaytest.spec.evals_gate import GateSpec

__all__ = [
    "CaseOutcome",
    "CheckKind",
    "CheckVerdict",
    "GateVerdict",
    "QuarantinedCase",
    "Status",
    "decide_paired_binary",
    "decide_regression",
    "evaluate_gate",
    "gate_spec_digest",
    "outcomes_digest",
]


def gate_spec_digest(spec: GateSpec) -> str:
    """``sha256:<hex>`` of the canonical JSON of the gate spec (decimals as strings)."""
    data = to_profile(spec.model_dump(mode="json"))
    return "sha256:" + hashlib.sha256(canonical_json(data)).hexdigest()


# --------------------------------------------------------------------------------------------
# The gate


def evaluate_gate(
    candidate: Sequence[CaseOutcome],
    baseline: Sequence[CaseOutcome] | None,
    spec: GateSpec,
    *,
    today: date | None = None,
) -> GateVerdict:
    """Judge ``candidate`` (against ``baseline`` when the spec has a regression block).

    ``today`` decides which quarantine entries have expired (default: today in UTC).
    Raises :class:`~mondaytest.errors.ConfigError` for an expired quarantine or a metric the
    runs do not have, :class:`~mondaytest.errors.HarnessError` for duplicate case ids.
    """
    day = today if today is not None else datetime.now(UTC).date()
    _check_quarantine(spec, day)
    cand = _index(candidate, "candidate run")
    base = _index(baseline, "baseline") if baseline is not None else None
    quarantine = {q.case: q for q in spec.quarantine}
    judged = [o for o in cand.values() if o.id not in quarantine]
    quarantined = tuple(
        QuarantinedCase(
            q.case, q.reason, q.expires, cand[q.case].passed if q.case in cand else None
        )
        for q in spec.quarantine
    )
    policy = spec.regression.inconclusive if spec.regression is not None else "warn"
    inputs = {
        "candidate": outcomes_digest(candidate),
        "baseline": outcomes_digest(baseline) if baseline is not None else None,
        "gate_spec": gate_spec_digest(spec),
    }
    errored = tuple(sorted(o.id for o in judged if o.error))
    if not judged:
        check = CheckVerdict(
            name="run:cases",
            kind=CheckKind.RUN,
            status=Status.FAIL,
            reason=(
                f"nothing to judge: the run has {len(cand)} case(s), "
                f"{len(cand) - len(judged)} of them quarantined — zero cases never pass"
            ),
            harness=True,
        )
        return GateVerdict(
            status=Status.FAIL,
            checks=(check,),
            inconclusive=policy,
            n_cases=len(cand),
            n_judged=0,
            n_paired=0,
            quarantined=quarantined,
            inputs=inputs,
        )
    _check_metrics_known(spec, judged, base)
    notes: list[str] = []
    checks: list[CheckVerdict] = []
    checks.extend(required_check(spec, cand, quarantine, notes))
    scored = [o for o in judged if not o.error]
    for metric, threshold in spec.thresholds.items():
        checks.append(threshold_check(metric, threshold.min, threshold.bound, scored, spec))
    pairs: list[tuple[CaseOutcome, CaseOutcome]] = []
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    if spec.regression is not None:
        if base is None:
            checks.append(
                CheckVerdict(
                    name="run:baseline",
                    kind=CheckKind.RUN,
                    status=Status.FAIL,
                    reason="the gate compares with a baseline but none was given — bless one "
                    "with `monday eval baseline bless RUN`",
                    harness=True,
                )
            )
        else:
            judged_ids = {o.id for o in judged}
            added = tuple(sorted(judged_ids - base.keys()))
            removed = tuple(sorted(base.keys() - cand.keys() - quarantine.keys()))
            pairs = [
                (base[o.id], o)
                for o in sorted(judged, key=lambda o: o.id)
                if o.id in base and not o.error and not base[o.id].error
            ]
            checks.extend(regression_checks(spec.regression, pairs))
    checks.extend(budget_checks(spec, judged))
    flipped_to_fail = tuple(b.id for b, c in pairs if b.passed and not c.passed)
    flipped_to_pass = tuple(b.id for b, c in pairs if not b.passed and c.passed)
    return GateVerdict(
        status=_worst(c.status for c in checks),
        checks=tuple(checks),
        inconclusive=policy,
        n_cases=len(cand),
        n_judged=len(judged),
        n_paired=len(pairs),
        flipped_to_fail=flipped_to_fail,
        flipped_to_pass=flipped_to_pass,
        added=added,
        removed=removed,
        errored=errored,
        quarantined=quarantined,
        notes=tuple(notes),
        inputs=inputs,
    )


def _worst(statuses: Iterable[Status]) -> Status:
    seen = set(statuses)
    if Status.FAIL in seen:
        return Status.FAIL
    if Status.INCONCLUSIVE in seen:
        return Status.INCONCLUSIVE
    return Status.PASS


def _check_quarantine(spec: GateSpec, today: date) -> None:
    for i, entry in enumerate(spec.quarantine):
        if entry.expires < today:
            raise ConfigError(
                f"the quarantine of case {entry.case!r} expired on {entry.expires.isoformat()} "
                f"({entry.reason})",
                field=f"gate.quarantine[{i}].expires",
                hint="fix the case and remove the entry, or extend `expires` with a fresh reason",
            )


def _index(outcomes: Sequence[CaseOutcome], what: str) -> dict[str, CaseOutcome]:
    index: dict[str, CaseOutcome] = {}
    for outcome in outcomes:
        if outcome.id in index:
            raise HarnessError(
                f"case id {outcome.id!r} appears twice in the {what}",
                hint="case ids must be unique; one outcome per case (reduce epochs first)",
            )
        index[outcome.id] = outcome
    return index


def _check_metrics_known(
    spec: GateSpec, judged: Sequence[CaseOutcome], base: Mapping[str, CaseOutcome] | None
) -> None:
    known: set[str] = set()
    for outcome in judged:
        known.update(outcome.scores)
    if base is not None:
        for outcome in base.values():
            known.update(outcome.scores)
    if not known and all(o.error for o in judged):
        return  # every case errored: the error budget speaks, not the metric names
    for metric in spec.thresholds:
        if metric not in known:
            raise ConfigError(
                f"threshold on {metric!r}, but no case has a score of that name",
                field=f"gate.thresholds.{metric}",
                hint=f"scorers in the run: {', '.join(sorted(known)) or 'none'}",
            )
    if spec.regression is not None:
        for metric in spec.regression.metrics:
            if metric not in known:
                raise ConfigError(
                    f"regression on {metric!r}, but no case has a score of that name",
                    field="gate.regression.metrics",
                    hint=f"scorers in the runs: {', '.join(sorted(known)) or 'none'}",
                )
