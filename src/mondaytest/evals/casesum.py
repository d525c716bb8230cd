"""Per-case summaries of a run: its trials (epochs) reduced to one record per case.

The unit of independence in every comparison is the case, so epochs are folded: a metric's
value is the mean over the case's scored trials, a case passed when it passed in every trial
(a case that passes only sometimes is not passing), and a case with any errored trial is
errored (errors are never hidden).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mondaytest.evals.runs import RunRecord, iter_trials

__all__ = ["CaseSummary", "summarize_cases"]


@dataclass(slots=True)
class CaseSummary:
    """One case of one run, its epochs folded."""

    id: str
    """The case id."""
    input_hash: str = ""
    """SHA-256 of the case's input."""
    expected_hash: str = ""
    """SHA-256 of the case's expected value."""
    trials: int = 0
    """Trials (epochs) seen."""
    errors: int = 0
    """Trials that ended in an error (target or scorer)."""
    passes: int = 0
    """Trials that passed."""
    fails: int = 0
    """Trials that failed."""
    sums: dict[str, float] = field(default_factory=dict)
    """Per metric: sum of values over scored trials."""
    counts: dict[str, int] = field(default_factory=dict)
    """Per metric: scored trials."""
    tags: tuple[str, ...] = ()
    """The case's tags."""
    cluster: str | None = None
    """The case's cluster."""
    weight: float = 1.0
    """The case's weight (1 unless the dataset gave another)."""
    latency_sum: float = 0.0
    """Sum of latencies (ms) of trials that were not cached."""
    latency_n: int = 0
    """Trials with a latency."""
    cost: float | None = None
    """Total cost over trials, when reported."""
    last_error: str | None = None
    """The last error message seen."""

    @property
    def error(self) -> bool:
        """True when any trial errored."""
        return self.errors > 0

    @property
    def passed(self) -> bool:
        """True when every trial passed (and none errored)."""
        return (
            self.errors == 0 and self.fails == 0 and self.passes == self.trials and self.trials > 0
        )

    @property
    def pass_rate(self) -> float | None:
        """Share of judged trials that passed."""
        judged = self.passes + self.fails
        return self.passes / judged if judged else None

    def mean(self, metric: str) -> float | None:
        """Mean value of a metric over the case's scored trials."""
        n = self.counts.get(metric, 0)
        return self.sums[metric] / n if n else None

    def scores(self) -> dict[str, float]:
        """Every metric's mean value."""
        return {m: self.sums[m] / n for m, n in self.counts.items() if n}

    def add(self, trial: dict[str, Any]) -> None:
        """Fold one trial in."""
        self.trials += 1
        if not self.input_hash:
            self.input_hash = str(trial.get("input_hash", ""))
            self.expected_hash = str(trial.get("expected_hash", ""))
            self.tags = tuple(trial.get("tags") or ())
            cluster = trial.get("cluster")
            self.cluster = None if cluster is None else str(cluster)
            weight = trial.get("weight")
            self.weight = 1.0 if weight is None else float(weight)
        status = trial.get("status", "ok")
        if status != "ok":
            self.errors += 1
            self.last_error = str(trial.get("error") or status)
        passed = trial.get("passed")
        if passed is True:
            self.passes += 1
        elif passed is False:
            self.fails += 1
        if status != "error":
            for name, score in (trial.get("scores") or {}).items():
                if "error" in score:
                    continue
                value = score.get("value")
                if value is None and isinstance(score.get("passed"), bool):
                    value = 1.0 if score["passed"] else 0.0
                if value is None:
                    continue
                self.sums[name] = self.sums.get(name, 0.0) + float(value)
                self.counts[name] = self.counts.get(name, 0) + 1
            latency = trial.get("latency_ms")
            if latency is not None and not trial.get("cached"):
                self.latency_sum += float(latency)
                self.latency_n += 1
        cost = trial.get("cost")
        if cost is not None:
            self.cost = (self.cost or 0.0) + float(cost)


def summarize_cases(trials: Iterable[dict[str, Any]] | RunRecord) -> dict[str, CaseSummary]:
    """Fold a run's trials (or any trial iterable) into per-case summaries, in first-seen order."""
    rows = iter_trials(trials.dir) if isinstance(trials, RunRecord) else trials
    out: dict[str, CaseSummary] = {}
    for trial in rows:
        case_id = str(trial["case"])
        summary = out.get(case_id)
        if summary is None:
            summary = out[case_id] = CaseSummary(case_id)
        summary.add(trial)
    return out
