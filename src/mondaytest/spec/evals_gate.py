"""The ``gate`` of an eval suite: required cases, thresholds, regression test, budgets.

Shape in ``monday.yaml``::

    gate:
      required: {tags: [critical]}                 # these cases must pass, no statistics
      thresholds:
        label: {min: 0.85, bound: lower95}         # lower end of the 95 % interval >= 0.85
      regression:                                  # paired comparison with the baseline
        metrics: [label]
        margin: 0.02                               # non-inferiority margin (absolute)
        alpha: 0.05
        min_effect: 0.01                           # smaller significant drops do not fail
        inconclusive: warn                         # warn | fail
        method: auto                               # auto | mcnemar | bootstrap | cluster_bootstrap
      budgets:
        error_rate: {max: 0.02}
        latency_ms: {p95: 800}
        cost_usd: {max: 5}
      quarantine:
        - {case: claim-0042, reason: "flaky upstream OCR, #311", expires: 2026-12-31}

Numbers that are compared with measurements (thresholds, margins, budgets) are decimals, so a
``0.85`` in YAML stays exactly ``0.85`` in the verdict and the audit log.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from mondaytest.spec.base import SpecModel

__all__ = [
    "BOUND_CONFIDENCE",
    "BudgetsSpec",
    "CostBudget",
    "ErrorRateBudget",
    "GateSpec",
    "LatencyBudget",
    "QuarantineEntry",
    "RegressionSpec",
    "RequiredSpec",
    "ThresholdSpec",
]

Fraction = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]
"""A decimal in [0, 1]."""
NonNegative = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
"""A finite decimal >= 0."""
CaseId = Annotated[str, Field(min_length=1, max_length=200)]
"""A case id as written in the dataset."""

Bound = Literal["point", "lower90", "lower95", "lower99"]
BOUND_CONFIDENCE: dict[str, float | None] = {
    "point": None,
    "lower90": 0.90,
    "lower95": 0.95,
    "lower99": 0.99,
}
"""Two-sided confidence of the interval whose lower end a threshold ``bound`` uses."""


def _unique(values: list[str], what: str) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value!r} is listed twice")
        seen.add(value)
    return values


class RequiredSpec(SpecModel):
    """Cases that must pass outright: one failure (or error) fails the gate."""

    tags: list[str] = Field(default_factory=lambda: ["critical"])
    """Every case carrying any of these tags must pass."""
    cases: list[CaseId] = Field(default_factory=list)
    """Case ids that must pass, in addition to the tagged ones."""

    @field_validator("tags")
    @classmethod
    def _tags_unique(cls, value: list[str]) -> list[str]:
        for tag in value:
            if not tag.strip():
                raise ValueError("a required tag must not be empty")
        return _unique(value, "tag")

    @field_validator("cases")
    @classmethod
    def _cases_unique(cls, value: list[str]) -> list[str]:
        return _unique(value, "case")


class ThresholdSpec(SpecModel):
    """An absolute floor for one metric's mean score over the candidate run."""

    min: Fraction
    """The floor, a score in [0, 1] (a pass rate for pass/fail metrics)."""
    bound: Bound = "lower95"
    """What is compared with ``min``: ``point`` (the observed mean) or ``lowerNN``, the lower end
    of the two-sided NN % interval (Wilson for pass/fail metrics, else a seeded bootstrap, cluster
    aware when cases have clusters). ``lower95`` asks the data to *show* the floor is met."""


class RegressionSpec(SpecModel):
    """Non-inferiority of the candidate against the baseline, paired on case ids.

    Per metric: **fail** when the one-sided paired test finds the candidate worse at ``alpha``
    (Holm-adjusted across ``metrics``) *and* the observed drop exceeds ``min_effect``; **pass**
    when the one-sided upper (1 - ``alpha``) bound on the drop is below ``margin``; otherwise
    **inconclusive**, never pass.
    """

    metrics: list[str] = Field(min_length=1)
    """Scorer names whose scores are compared with the baseline."""
    margin: Annotated[Decimal, Field(gt=0, lt=1, allow_inf_nan=False)] = Decimal("0.02")
    """Non-inferiority margin: the largest drop (absolute, in score units) that is acceptable."""
    alpha: Annotated[Decimal, Field(gt=0, le=Decimal("0.2"), allow_inf_nan=False)] = Decimal("0.05")
    """One-sided significance level of the regression test and of the non-inferiority bound."""
    min_effect: Annotated[Decimal, Field(ge=0, lt=1, allow_inf_nan=False)] | None = None
    """A significant drop fails only if the observed drop exceeds this. Default: half the
    margin, so statistically real but trivial changes do not block."""
    inconclusive: Literal["warn", "fail"] = "warn"
    """What an inconclusive check does: ``warn`` (exit 0, reported) or ``fail`` (exit 1)."""
    method: Literal["auto", "mcnemar", "bootstrap", "cluster_bootstrap"] = "auto"
    """``auto``: exact McNemar with Newcombe's interval for pass/fail scores without clusters,
    a cluster bootstrap when cases carry clusters, a paired bootstrap otherwise."""
    resamples: Annotated[int, Field(ge=200, le=100_000)] = 2000
    """Bootstrap replicates (bootstrap methods only)."""
    seed: Annotated[int, Field(ge=0, lt=2**53)] = 0
    """Seed of the bootstrap; recorded in the verdict so the decision can be re-derived."""
    power: Annotated[Decimal, Field(gt=0, lt=1, allow_inf_nan=False)] = Decimal("0.8")
    """Power at which the minimum detectable effect (MDE) is reported."""

    @field_validator("metrics")
    @classmethod
    def _metrics_unique(cls, value: list[str]) -> list[str]:
        return _unique(value, "metric")

    @model_validator(mode="after")
    def _effect_within_margin(self) -> RegressionSpec:
        if self.min_effect is not None and self.min_effect > self.margin:
            raise ValueError(
                f"min_effect ({self.min_effect}) is larger than margin ({self.margin}): a drop "
                "between them would be neither a failure nor acceptable — lower min_effect"
            )
        return self

    @property
    def effective_min_effect(self) -> Decimal:
        """``min_effect``, or half the margin when it is not set."""
        return self.min_effect if self.min_effect is not None else self.margin / 2


class ErrorRateBudget(SpecModel):
    """The share of cases that may end in a harness or target error."""

    max: Fraction
    """Largest acceptable error share, e.g. 0.02. Over budget means the run is unusable (exit 3)."""


class LatencyBudget(SpecModel):
    """Latency percentiles of the candidate's cases, in milliseconds (nearest-rank)."""

    p50: NonNegative | None = None
    """Largest acceptable median latency."""
    p95: NonNegative | None = None
    """Largest acceptable 95th-percentile latency."""
    p99: NonNegative | None = None
    """Largest acceptable 99th-percentile latency."""
    max: NonNegative | None = None
    """Largest acceptable single latency."""

    @model_validator(mode="after")
    def _something(self) -> LatencyBudget:
        if self.p50 is None and self.p95 is None and self.p99 is None and self.max is None:
            raise ValueError("give at least one of p50, p95, p99, max")
        return self


class CostBudget(SpecModel):
    """Money spent by the candidate run, in US dollars."""

    max: NonNegative | None = None
    """Largest acceptable total cost of the run."""
    per_case: NonNegative | None = None
    """Largest acceptable mean cost per case."""

    @model_validator(mode="after")
    def _something(self) -> CostBudget:
        if self.max is None and self.per_case is None:
            raise ValueError("give max (total) or per_case")
        return self


class BudgetsSpec(SpecModel):
    """Deterministic caps on errors, latency and cost; one breach fails the gate."""

    error_rate: ErrorRateBudget | None = None
    """Error budget. Without one, any error fails the gate: errors are never silently dropped."""
    latency_ms: LatencyBudget | None = None
    """Latency caps."""
    cost_usd: CostBudget | None = None
    """Cost caps."""


class QuarantineEntry(SpecModel):
    """A case excluded from gating (still run and reported) until an expiry date."""

    case: CaseId
    """The case id."""
    reason: str = Field(min_length=1)
    """Why it is quarantined, e.g. an issue link; shown in every report."""
    expires: date
    """Last day the quarantine holds (required, so quarantine cannot rot). After it the gate
    stops with a configuration error naming the case."""

    @field_validator("reason")
    @classmethod
    def _reason_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("say why the case is quarantined")
        return value


class GateSpec(SpecModel):
    """How a suite's run is judged: required cases, thresholds, regression, budgets, quarantine."""

    required: RequiredSpec = Field(default_factory=RequiredSpec)
    """Cases that must pass (default: those tagged ``critical``)."""
    thresholds: dict[str, ThresholdSpec] = Field(default_factory=dict)
    """Absolute floors keyed by scorer name."""
    regression: RegressionSpec | None = None
    """Paired non-inferiority against the committed baseline; off when absent."""
    budgets: BudgetsSpec = Field(default_factory=BudgetsSpec)
    """Error, latency and cost caps."""
    quarantine: list[QuarantineEntry] = Field(default_factory=list)
    """Cases excluded from gating until their expiry date."""

    @field_validator("quarantine")
    @classmethod
    def _quarantine_unique(cls, value: list[QuarantineEntry]) -> list[QuarantineEntry]:
        _unique([entry.case for entry in value], "quarantined case")
        return value

    @field_validator("thresholds")
    @classmethod
    def _metric_names(cls, value: dict[str, ThresholdSpec]) -> dict[str, ThresholdSpec]:
        for name in value:
            if not name.strip():
                raise ValueError("a threshold needs a metric (scorer) name")
        return value

    def expired_quarantine(self, today: date) -> list[QuarantineEntry]:
        """Quarantine entries whose ``expires`` day is before ``today``."""
        return [entry for entry in self.quarantine if entry.expires < today]

    def metrics(self) -> list[str]:
        """Every scorer name the gate refers to (thresholds first, then regression)."""
        names = list(self.thresholds)
        if self.regression is not None:
            names += [m for m in self.regression.metrics if m not in names]
        return names
