"""Flakiness as a measured property: per-case pass rates across epochs and runs.

A case is flaky when it both passed and failed in the trials considered (same input, same
scorers). Its flake rate is the share of its trials that disagree with its majority outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mondaytest.errors import InputError
from mondaytest.evals.casesum import CaseSummary, summarize_cases
from mondaytest.evals.compare import NotComparableError, comparability_problems
from mondaytest.evals.runs import RunRecord, list_runs, resolve_run

__all__ = ["FlakyCase", "FlakyReport", "flaky_report", "runs_to_pool"]


@dataclass(frozen=True)
class FlakyCase:
    """One case's outcomes across the trials considered."""

    id: str
    """The case id."""
    trials: int
    """Trials with a verdict."""
    passes: int
    """Trials that passed."""
    errors: int
    """Trials that errored (not counted as pass or fail)."""

    @property
    def pass_rate(self) -> float:
        """Share of judged trials that passed."""
        return self.passes / self.trials if self.trials else 0.0

    @property
    def flaky(self) -> bool:
        """Both outcomes were seen."""
        return 0 < self.passes < self.trials

    @property
    def flake_rate(self) -> float:
        """Share of trials that disagree with the majority outcome (0 to 0.5)."""
        return min(self.pass_rate, 1 - self.pass_rate) if self.trials else 0.0

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "case": self.id,
            "trials": self.trials,
            "passes": self.passes,
            "errors": self.errors,
            "pass_rate": self.pass_rate,
            "flake_rate": self.flake_rate,
            "flaky": self.flaky,
        }


@dataclass
class FlakyReport:
    """Flakiness of a suite over one or more runs."""

    runs: list[str]
    """The runs considered."""
    cases: list[FlakyCase] = field(default_factory=list)
    """Every case with at least one judged trial, flakiest first."""

    @property
    def repeated(self) -> int:
        """Cases with at least two judged trials (only those can show flakiness)."""
        return sum(1 for c in self.cases if c.trials >= 2)

    @property
    def flaky(self) -> list[FlakyCase]:
        """The flaky cases, flakiest first."""
        return [c for c in self.cases if c.flaky]

    @property
    def flaky_share(self) -> float | None:
        """Share of repeated cases that are flaky."""
        return len(self.flaky) / self.repeated if self.repeated else None

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "runs": self.runs,
            "cases": len(self.cases),
            "repeated_cases": self.repeated,
            "flaky_cases": len(self.flaky),
            "flaky_share": self.flaky_share,
            "flaky": [c.to_json() for c in self.flaky],
        }


def flaky_report(runs: list[RunRecord]) -> FlakyReport:
    """Measure per-case flakiness over ``runs`` (their epochs included).

    The runs must be comparable with the first (same suite version, scorers and cases).
    """
    if not runs:
        raise InputError(
            "no runs to measure", hint="give run ids, or run the suite with --epochs 3"
        )
    first = runs[0]
    first_cases = summarize_cases(first)
    merged: dict[str, list[CaseSummary]] = {k: [v] for k, v in first_cases.items()}
    for run in runs[1:]:
        cases = summarize_cases(run)
        problems = comparability_problems(first, run, first_cases, cases)
        if problems:
            raise NotComparableError(problems, first.id, run.id)
        for k, v in cases.items():
            merged.setdefault(k, []).append(v)
    out: list[FlakyCase] = []
    for case_id, parts in merged.items():
        passes = sum(p.passes for p in parts)
        judged = passes + sum(p.fails for p in parts)
        errors = sum(p.errors for p in parts)
        if judged:
            out.append(FlakyCase(case_id, judged, passes, errors))
    out.sort(key=lambda c: (-c.flake_rate, c.id))
    return FlakyReport([r.id for r in runs], out)


def runs_to_pool(
    root: Path, refs: Sequence[str] = (), *, suite: str | None = None, last: int = 1
) -> list[RunRecord]:
    """The runs to measure flakiness over: the runs named in ``refs`` (ids, prefixes,
    ``latest`` or paths); without them the newest ``last`` runs of ``suite``, or of the suite of
    the newest run when ``suite`` is None.

    Raises :class:`~mondaytest.errors.InputError` when there are no runs (of ``suite``).
    """
    if refs:
        return [resolve_run(root, r) for r in refs]
    found = list_runs(root, suite)
    if not found:
        raise InputError("there are no runs yet", hint="run the suite with --epochs 3 first")
    if suite is None:
        suite = found[-1].suite
        found = [r for r in found if r.suite == suite]
    return found[-last:] if last > 0 else []
