"""What ``monday eval ls`` and ``monday eval show`` show of runs: one row per run, and a run's
failed and errored trials."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mondaytest.evals.runs import RunRecord, iter_trials, list_runs

__all__ = ["RunProblems", "RunRow", "run_problems", "run_rows"]


@dataclass(frozen=True)
class RunRow:
    """One run in a listing."""

    run_id: str
    """The run id."""
    suite: str
    """The suite it ran."""
    status: str
    """``running``, ``complete``, ``aborted`` or ``interrupted``."""
    started_at: str | None
    """When it started (as written in ``run.json``)."""
    trials: int | None
    """Trials it has."""
    pass_rate: float | None
    """Share of judged trials that passed."""
    errors: int | None
    """Trials that errored."""
    mode: str | None
    """``live``, ``record`` or ``replay``."""
    path: Path
    """The run directory."""

    @classmethod
    def of(cls, run: RunRecord) -> RunRow:
        """The row of ``run``."""
        counts = run.data.get("counts") or {}
        return cls(
            run_id=run.id,
            suite=run.suite,
            status=run.status,
            started_at=run.data.get("started_at"),
            trials=counts.get("trials"),
            pass_rate=counts.get("pass_rate"),
            errors=counts.get("errors"),
            mode=(run.data.get("config") or {}).get("mode"),
            path=run.dir,
        )

    def to_json(self) -> dict[str, Any]:
        """JSON form (the path as text)."""
        return {
            "run_id": self.run_id,
            "suite": self.suite,
            "status": self.status,
            "started_at": self.started_at,
            "trials": self.trials,
            "pass_rate": self.pass_rate,
            "errors": self.errors,
            "mode": self.mode,
            "path": str(self.path),
        }


def run_rows(root: Path, suite: str | None = None, limit: int = 20) -> list[RunRow]:
    """The newest ``limit`` runs under ``root`` (of ``suite`` when given), newest last."""
    if limit <= 0:
        return []
    return [RunRow.of(r) for r in list_runs(root, suite)[-limit:]]


@dataclass
class RunProblems:
    """A run with its failed and errored trials: the first ``limit`` of each, and how many."""

    run: RunRecord
    """The run."""
    limit: int
    """Most trials kept per list."""
    failures: list[dict[str, Any]] = field(default_factory=list)
    """The first failed trials (judged, not passed), in file order."""
    errors: list[dict[str, Any]] = field(default_factory=list)
    """The first errored trials (target or scorer error), in file order."""
    n_failed: int = 0
    """Failed trials in the run."""
    n_errors: int = 0
    """Errored trials in the run."""

    def to_json(self) -> dict[str, Any]:
        """``run`` (its ``run.json``), ``failures`` and ``errors`` (trial lines)."""
        return {"run": self.run.data, "failures": self.failures, "errors": self.errors}


def run_problems(run: RunRecord, limit: int = 20) -> RunProblems:
    """Stream the run's trials once for its failed and errored ones (an errored trial is not
    counted as failed)."""
    out = RunProblems(run, limit)
    for trial in iter_trials(run.dir):
        if trial.get("status") in ("error", "score_error"):
            out.n_errors += 1
            if len(out.errors) < limit:
                out.errors.append(trial)
        elif trial.get("passed") is False:
            out.n_failed += 1
            if len(out.failures) < limit:
                out.failures.append(trial)
    return out
