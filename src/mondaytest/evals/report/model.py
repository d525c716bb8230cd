"""What a report is made of: :class:`SuiteReport` (a run, its gate verdict, its baseline, some
per-case details, earlier runs) and read-only views over ``run.json``.

Reports are projections: they never compute a verdict, only show one. ``run.json`` is read
tolerantly (:class:`RunView`), because runs may be resumed, aborted or imported from another
harness and miss fields; a missing number is shown as ``—``, never invented.

Per-case details (outputs, scorer reasons, score distributions) live in ``trials.jsonl``;
:func:`collect_details` streams it once and keeps only histograms and the cases a report
mentions, so memory does not grow with the size of the run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mondaytest.evals.baseline import Baseline
from mondaytest.evals.gate_model import CheckKind, GateVerdict, Status
from mondaytest.evals.report._text import plural, printable, shorten

__all__ = [
    "CaseDetail",
    "Headline",
    "Histogram",
    "MetricView",
    "RunDetails",
    "RunView",
    "SliceView",
    "SuiteReport",
    "collect_details",
    "focus_ids",
    "headline",
]


# --------------------------------------------------------------------------------------------
# run.json, read tolerantly


def _num(value: Any) -> float | None:
    """A finite number from JSON (numbers or decimal strings); None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str | Decimal):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _int(value: Any) -> int | None:
    number = _num(value)
    return None if number is None else int(number)


def _str(value: Any) -> str | None:
    return None if value is None or isinstance(value, dict | list) else str(value)


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True, slots=True)
class SliceView:
    """One metric over one group of trials (the whole run, or one tag)."""

    n: int | None
    """Trials with a score."""
    mean: float | None
    """Mean score."""
    passed: int | None
    """Trials that passed (metrics with a pass/fail verdict)."""
    failed: int | None
    """Trials that failed."""
    errors: int | None
    """Trials where the scorer could not score."""

    @property
    def judged(self) -> int:
        """Trials with a pass/fail verdict."""
        return (self.passed or 0) + (self.failed or 0)

    @property
    def pass_rate(self) -> float | None:
        """passed / judged, None when nothing was judged."""
        return (self.passed or 0) / self.judged if self.judged else None

    @classmethod
    def from_json(cls, data: Any) -> SliceView:
        """From a ``metrics`` entry of ``run.json`` (or one of its ``by_tag`` entries)."""
        d = _dict(data)
        return cls(
            n=_int(d.get("n")),
            mean=_num(d.get("mean")),
            passed=_int(d.get("passed")),
            failed=_int(d.get("failed")),
            errors=_int(d.get("errors")),
        )


@dataclass(frozen=True, slots=True)
class MetricView:
    """One scorer's results in a run."""

    name: str
    """The scorer name."""
    kind: str | None
    """The scorer kind (``exact``, ``judge``…)."""
    overall: SliceView
    """Over every trial."""
    by_tag: Mapping[str, SliceView]
    """Per tag, sorted by tag."""


class RunView:
    """Typed, tolerant access to a ``run.json`` mapping."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data

    def _path(self, *keys: str) -> Any:
        node: Any = self.data
        for key in keys:
            if not isinstance(node, Mapping):
                return None
            node = node.get(key)
        return node

    @property
    def id(self) -> str:
        """The run id (``?`` when absent)."""
        return _str(self.data.get("run_id")) or "?"

    @property
    def suite(self) -> str:
        """The suite name (``?`` when absent)."""
        return _str(self.data.get("suite")) or "?"

    @property
    def suite_version(self) -> str | None:
        """The suite version from the contract."""
        return _str(self.data.get("suite_version"))

    @property
    def status(self) -> str | None:
        """``complete``, ``aborted``, ``interrupted`` or ``running``."""
        return _str(self.data.get("status"))

    @property
    def stopped_reason(self) -> str | None:
        """Why an incomplete run stopped."""
        return _str(self.data.get("stopped_reason"))

    @property
    def started_at(self) -> str | None:
        """ISO 8601 start time."""
        return _str(self.data.get("started_at"))

    @property
    def duration_s(self) -> float | None:
        """Wall time of the run in seconds."""
        return _num(self.data.get("duration_s"))

    @property
    def mode(self) -> str | None:
        """``live``, ``record`` or ``replay``."""
        return _str(self._path("config", "mode"))

    @property
    def epochs(self) -> int | None:
        """Trials per case."""
        return _int(self._path("config", "epochs"))

    @property
    def spec_digest(self) -> str | None:
        """Digest of the contract the run was made under."""
        return _str(self._path("provenance", "spec", "digest"))

    @property
    def git_commit(self) -> str | None:
        """The commit the run was made at."""
        return _str(self._path("provenance", "git", "commit"))

    @property
    def git_dirty(self) -> bool | None:
        """Whether the working tree had uncommitted changes."""
        value = self._path("provenance", "git", "dirty")
        return value if isinstance(value, bool) else None

    @property
    def git_branch(self) -> str | None:
        """The branch, when known."""
        return _str(self._path("provenance", "git", "branch"))

    @property
    def dataset_sha256(self) -> str | None:
        """Hash of the dataset file."""
        return _str(self._path("provenance", "dataset", "sha256"))

    @property
    def monday_version(self) -> str | None:
        """The Monday version that made the run (or the harness of an imported run)."""
        return _str(self._path("provenance", "monday")) or _str(self._path("source", "version"))

    @property
    def target_fingerprint(self) -> str | None:
        """Fingerprint of the target under test."""
        return _str(self._path("target", "fingerprint"))

    @property
    def target_ref(self) -> str | None:
        """The target's reference (``module:function``, URL, command)."""
        return _str(self._path("target", "ref"))

    @property
    def labels(self) -> Mapping[str, str]:
        """Free labels given at run time (CI run id, branch…)."""
        return {str(k): str(v) for k, v in _dict(self.data.get("labels")).items()}

    @property
    def cases(self) -> int | None:
        """Cases in the run."""
        return _int(self._path("counts", "cases"))

    @property
    def trials(self) -> int | None:
        """Trials in the run."""
        return _int(self._path("counts", "trials"))

    @property
    def errors(self) -> int | None:
        """Trials that ended in a target or scorer error."""
        return _int(self._path("counts", "errors"))

    @property
    def passed(self) -> int | None:
        """Trials that passed."""
        return _int(self._path("counts", "passed"))

    @property
    def failed(self) -> int | None:
        """Trials that failed."""
        return _int(self._path("counts", "failed"))

    @property
    def pass_rate(self) -> float | None:
        """passed / (passed + failed) over trials."""
        rate = _num(self._path("counts", "pass_rate"))
        if rate is not None:
            return rate
        judged = (self.passed or 0) + (self.failed or 0)
        return (self.passed or 0) / judged if judged else None

    def latency(self, key: str) -> float | None:
        """A latency statistic in ms: ``p50``, ``p95``, ``p99``, ``max``, ``mean``."""
        return _num(self._path("latency_ms", key))

    @property
    def cost_total(self) -> float | None:
        """Money spent, in US dollars, when known."""
        return _num(self._path("cost", "total"))

    @property
    def metrics(self) -> list[MetricView]:
        """Per scorer results, in the run's order."""
        out: list[MetricView] = []
        for name, entry in _dict(self.data.get("metrics")).items():
            data = _dict(entry)
            by_tag = {
                str(tag): SliceView.from_json(value)
                for tag, value in sorted(_dict(data.get("by_tag")).items())
            }
            out.append(
                MetricView(str(name), _str(data.get("kind")), SliceView.from_json(data), by_tag)
            )
        return out


# --------------------------------------------------------------------------------------------
# Per-case details from trials.jsonl


@dataclass
class Histogram:
    """Counts of one scorer's values over [0, 1] in equal bins (1.0 falls in the last bin)."""

    bins: int
    """Number of bins."""
    counts: list[int]
    """Count per bin."""
    binary: bool = True
    """True while every value seen was exactly 0 or 1."""
    zeros: int = 0
    """Values equal to 0."""
    ones: int = 0
    """Values equal to 1."""

    @classmethod
    def empty(cls, bins: int) -> Histogram:
        """A histogram with no values."""
        return cls(bins=bins, counts=[0] * bins)

    @property
    def n(self) -> int:
        """Values counted."""
        return sum(self.counts)

    def add(self, value: float) -> None:
        """Count one value (values outside [0, 1] are clamped)."""
        v = min(max(value, 0.0), 1.0)
        self.counts[min(int(v * self.bins), self.bins - 1)] += 1
        if v == 0.0:
            self.zeros += 1
        elif v == 1.0:
            self.ones += 1
        else:
            self.binary = False

    @classmethod
    def of(cls, values: Iterable[float], bins: int = 20) -> Histogram:
        """A histogram of ``values``."""
        hist = cls.empty(bins)
        for value in values:
            hist.add(value)
        return hist


@dataclass
class CaseDetail:
    """What the trials say about one case (epochs merged)."""

    id: str
    """The case id."""
    trials: int = 0
    """Trials of the case."""
    passed: int = 0
    """Trials that passed."""
    failed: int = 0
    """Trials that failed."""
    errors: int = 0
    """Trials that ended in an error."""
    error: str | None = None
    """The first error message."""
    output: str | None = None
    """The output (compact JSON, cut short) of the first failing trial, else of the first."""
    reasons: dict[str, str] = field(default_factory=dict)
    """Scorer name → reason (or scorer error) from the trial whose output is kept."""
    score: float | None = None
    """The mean score of that trial."""
    latency_ms: float | None = None
    """Latency of that trial."""
    tags: tuple[str, ...] = ()
    """The case's tags."""
    _bad_kept: bool = field(default=False, repr=False)

    @property
    def outcome(self) -> str:
        """``pass``, ``fail``, ``error`` or ``flaky`` (mixed across epochs)."""
        if self.errors and not (self.passed or self.failed):
            return "error"
        if self.passed and (self.failed or self.errors):
            return "flaky"
        if self.failed or self.errors:
            return "fail"
        return "pass" if self.passed else "unjudged"

    def why(self, limit: int = 300) -> str:
        """One short sentence: the error, or the failing scorers' reasons."""
        if self.error:
            return shorten(self.error, limit)
        parts = [f"{name}: {text}" for name, text in self.reasons.items() if text]
        return shorten("; ".join(parts), limit)


@dataclass
class RunDetails:
    """Histograms per scorer and details of the cases a report mentions."""

    histograms: dict[str, Histogram]
    """Scorer name → histogram of its values over all trials."""
    cases: dict[str, CaseDetail]
    """Case id → details, for the focus cases and the first failing ones."""
    failing: list[str]
    """Ids of failing or erroring cases kept beyond the focus, in file order."""
    failing_total: int
    """How many distinct cases failed or errored in any trial."""
    trials: int
    """Trials read."""


def _output_text(value: Any, limit: int) -> str:
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    return shorten(printable(text), limit)


def collect_details(
    trials: Iterable[Mapping[str, Any]],
    *,
    focus: Iterable[str] = (),
    failing_limit: int = 100,
    output_chars: int = 1000,
    bins: int = 20,
) -> RunDetails:
    """Stream trials once: score histograms, and details of ``focus`` cases plus the first
    ``failing_limit`` other cases that failed or errored.

    ``trials`` are the parsed lines of ``trials.jsonl`` (e.g. from
    :func:`mondaytest.evals.runs.iter_trials`). Memory is O(bins + kept cases), except for a
    set of failing ids used to count them.
    """
    wanted = set(focus)
    histograms: dict[str, Histogram] = {}
    cases: dict[str, CaseDetail] = {}
    failing: list[str] = []
    failing_seen: set[str] = set()
    count = 0
    for trial in trials:
        count += 1
        case_id = str(trial.get("case"))
        status = trial.get("status", "ok")
        passed = trial.get("passed")
        scores = _dict(trial.get("scores"))
        for name, score in scores.items():
            value = _num(_dict(score).get("value"))
            if value is None or "error" in _dict(score):
                continue
            hist = histograms.get(name)
            if hist is None:
                hist = histograms[name] = Histogram.empty(bins)
            hist.add(value)
        bad = status in ("error", "score_error") or passed is False
        if bad and case_id not in failing_seen:
            failing_seen.add(case_id)
            if case_id not in wanted and len(failing) < failing_limit:
                failing.append(case_id)
        detail = cases.get(case_id)
        if detail is None:
            if case_id not in wanted and case_id not in failing:
                continue
            tags = trial.get("tags") or ()
            detail = cases[case_id] = CaseDetail(
                id=case_id, tags=tuple(str(t) for t in tags if isinstance(t, str | int))
            )
        _absorb(detail, trial, status, passed, bad, scores, output_chars)
    return RunDetails(
        histograms=dict(sorted(histograms.items())),
        cases=cases,
        failing=failing,
        failing_total=len(failing_seen),
        trials=count,
    )


def _absorb(
    detail: CaseDetail,
    trial: Mapping[str, Any],
    status: Any,
    passed: Any,
    bad: bool,
    scores: Mapping[str, Any],
    output_chars: int,
) -> None:
    detail.trials += 1
    if status in ("error", "score_error"):
        detail.errors += 1
    elif passed is True:
        detail.passed += 1
    elif passed is False:
        detail.failed += 1
    if detail.error is None and status in ("error", "score_error") and trial.get("error"):
        detail.error = shorten(printable(trial.get("error")), 1000)
    keep = detail.trials == 1 or (bad and not detail._bad_kept)
    if not keep:
        return
    detail._bad_kept = bad
    detail.output = _output_text(trial["output"], output_chars) if "output" in trial else None
    reasons: dict[str, str] = {}
    for name, score in scores.items():
        data = _dict(score)
        if data.get("error"):
            reasons[str(name)] = "scorer error: " + shorten(printable(data["error"]), 300)
        elif data.get("passed") is False or not bad:
            reason = data.get("reason")
            if reason:
                reasons[str(name)] = shorten(printable(reason), 300)
            elif data.get("passed") is False:
                got = data.get("label")
                want = data.get("expected_label")
                reasons[str(name)] = (
                    f"got {got!r}, expected {want!r}" if got is not None else "failed"
                )
    detail.reasons = reasons
    detail.score = _num(trial.get("score"))
    detail.latency_ms = _num(trial.get("latency_ms"))


def focus_ids(verdict: GateVerdict | None, limit: int = 100) -> list[str]:
    """The case ids a report about ``verdict`` shows in detail (each list capped at ``limit``)."""
    if verdict is None:
        return []
    ids: list[str] = []
    ids += verdict.flipped_to_fail[:limit]
    ids += verdict.flipped_to_pass[:limit]
    ids += verdict.errored[:limit]
    for check in verdict.checks:
        if check.kind is CheckKind.REQUIRED:
            ids += check.cases[:limit]
    ids += [q.id for q in verdict.quarantined[:limit]]
    return list(dict.fromkeys(ids))


# --------------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True)
class SuiteReport:
    """Everything one suite's report shows. Only ``run`` is required."""

    run: Mapping[str, Any]
    """The candidate run's ``run.json``."""
    verdict: GateVerdict | None = None
    """The gate's verdict on the run (None: the run was not gated)."""
    baseline: Baseline | None = None
    """The baseline the run was compared with."""
    details: RunDetails | None = None
    """Per-case details from ``trials.jsonl`` (:func:`collect_details`)."""
    history: Sequence[Mapping[str, Any]] = ()
    """Earlier ``run.json`` of the same suite, oldest first (for the trend)."""
    strict: bool = False
    """The gate ran with ``--strict`` (inconclusive blocks)."""
    run_url: str | None = None
    """A link to the CI run or artifact, shown in the Markdown and HTML reports."""

    @property
    def view(self) -> RunView:
        """The run, read through :class:`RunView`."""
        return RunView(self.run)

    @property
    def suite(self) -> str:
        """The suite name."""
        return self.view.suite

    @property
    def exit_code(self) -> int | None:
        """The exit code the gate gives (None when not gated)."""
        if self.verdict is None:
            return None
        return self.verdict.exit_code(strict=self.strict)


@dataclass(frozen=True, slots=True)
class Headline:
    """The one-line verdict of a report."""

    label: str
    """``PASS``, ``FAIL``, ``INCONCLUSIVE`` or ``NOT GATED``."""
    emoji: str
    """✅ ❌ ⚠️ ℹ️."""
    css: str
    """``pass``, ``fail``, ``inconclusive`` or ``none``."""
    alert: str
    """The GitHub alert kind: ``NOTE``, ``CAUTION``, ``WARNING``."""
    sentence: str
    """What it means for the merge, in one sentence."""


def headline(report: SuiteReport) -> Headline:
    """The verdict of ``report`` in words."""
    verdict = report.verdict
    view = report.view
    if verdict is None:
        state = view.status or "unknown"
        return Headline(
            "NOT GATED", "ℹ️", "none", "NOTE", f"Run {state}; no gate was applied to it."
        )
    checks = verdict.checks
    failing = [c for c in checks if c.status is Status.FAIL]
    unsure = [c for c in checks if c.status is Status.INCONCLUSIVE]
    code = verdict.exit_code(strict=report.strict)
    if verdict.status is Status.FAIL:
        names = ", ".join(c.name for c in failing[:5]) + (" …" if len(failing) > 5 else "")
        if code == 3:
            sentence = (
                f"The run cannot be judged ({names}): fix the run, not the model. Exit code 3."
            )
        else:
            sentence = (
                f"{plural(len(failing), 'check')} of {len(checks)} failed ({names}). "
                f"Exit code {code}."
            )
        return Headline("FAIL", "❌", "fail", "CAUTION", sentence)
    if verdict.status is Status.INCONCLUSIVE:
        names = ", ".join(c.name for c in unsure[:5]) + (" …" if len(unsure) > 5 else "")
        blocks = "blocks the merge" if code else "does not block the merge"
        policy = "--strict" if report.strict and verdict.inconclusive != "fail" else None
        policy = policy or f"policy {verdict.inconclusive}"
        sentence = (
            f"The data cannot show the candidate is not worse ({names}); "
            f"under {policy} this {blocks}. Exit code {code}."
        )
        return Headline("INCONCLUSIVE", "⚠️", "inconclusive", "WARNING", sentence)
    return Headline(
        "PASS",
        "✅",
        "pass",
        "NOTE",
        f"All {plural(len(checks), 'check')} passed. Exit code {code}.",
    )
