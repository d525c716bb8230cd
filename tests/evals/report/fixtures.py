"""Realistic inputs for report tests: a seeded suite run, its trials, a baseline and a verdict.

The run summary is built with the runner's own :class:`~mondaytest.evals.summary.Summarizer`
and the verdict with the real gate, so the reports are tested on the shapes they will meet.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from mondaytest.evals.baseline import Baseline, bless
from mondaytest.evals.gate import evaluate_gate
from mondaytest.evals.gate_model import CaseOutcome, GateVerdict
from mondaytest.evals.report import SuiteReport, collect_details, focus_ids
from mondaytest.evals.summary import summarize
from mondaytest.spec.evals_gate import GateSpec

HOSTILE_IDS = [
    "<script>alert(1)</script>",
    "]]><evil/>",
    "ctl-\x00\x01\x1b[31m-\x7f\x85",
    "quote\"'&amp;",
    "line\nbreak\rcr\ttab",
    "pipe|`back`tick|",
    "bidi-\u202egnp.exe",
    "@octocat mention",
    "--> <!-- comment",
]

SCORERS = [
    {"name": "label", "kind": "exact", "deterministic": True},
    {"name": "grounded", "kind": "judge", "deterministic": False},
]
TODAY = date(2026, 12, 1)


@dataclass
class Sample:
    """One generated suite run with everything a report needs."""

    run: dict[str, Any]
    trials: list[dict[str, Any]]
    candidate: list[CaseOutcome]
    baseline: Baseline | None
    verdict: GateVerdict | None
    spec: GateSpec
    history: list[dict[str, Any]] = field(default_factory=list)

    def report(self, *, with_details: bool = True, **kw: Any) -> SuiteReport:
        details = None
        if with_details:
            details = collect_details(self.trials, focus=focus_ids(self.verdict))
        return SuiteReport(
            run=self.run,
            verdict=self.verdict,
            baseline=self.baseline,
            details=details,
            history=kw.pop("history", self.history),
            **kw,
        )


def _tags(rng: random.Random, i: int) -> list[str]:
    tags = [rng.choice(["motor", "home", "travel", "health"])]
    if i % 25 == 0:
        tags.append("critical")
    if rng.random() < 0.15:
        tags.append("fraud")
    return tags


def _run_json(
    suite: str,
    run_id: str,
    trials: list[dict[str, Any]],
    *,
    started: datetime,
    mode: str = "live",
    status: str = "complete",
    commit: str = "3f2a9c1d0e4b5a69788796a5b4c3d2e1f0a9b8c7",
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema": "monday.eval.run/1",
        "trials_schema": "monday.eval.trial/1",
        "run_id": run_id,
        "suite": suite,
        "suite_version": 3,
        "description": "Route claims to the right queue.",
        "status": status,
        "started_at": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "finished_at": (started + timedelta(seconds=42)).isoformat().replace("+00:00", "Z"),
        "duration_s": 41.873,
        "source": {"harness": "monday", "version": "0.1.0"},
        "config": {"epochs": 1, "seed": 7, "mode": mode, "cache": "ro"},
        "labels": {"ci": "github", "pr": "412"},
        "provenance": {
            "spec": {"path": "monday.yaml", "digest": "sha256:" + "ab12" * 16},
            "git": {"commit": commit, "dirty": False, "branch": "feature/router"},
            "dataset": {"path": "evals/triage.jsonl", "sha256": "cd34" * 16, "cases": 0},
            "monday": "0.1.0",
        },
        "target": {
            "kind": "python",
            "ref": "claims.router:route",
            "fingerprint": "sha256:" + "ef56" * 16,
        },
        "scorers": SCORERS,
    }
    data.update(summarize(trials, SCORERS))
    return data


def make_sample(
    *,
    n: int = 400,
    seed: int = 11,
    drop: float = 0.05,
    hostile: bool = False,
    suite: str = "claims-triage",
    regression: bool = True,
    history: int = 6,
    mode: str = "live",
) -> Sample:
    """A run of ``n`` cases whose pass rate is ``drop`` below the baseline's."""
    rng = random.Random(seed)
    ids = [f"claim-{i:04d}" for i in range(n)]
    if hostile:
        ids[: len(HOSTILE_IDS)] = HOSTILE_IDS
    base_out: list[CaseOutcome] = []
    cand_out: list[CaseOutcome] = []
    trials: list[dict[str, Any]] = []
    started = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    for i, case_id in enumerate(ids):
        tags = _tags(rng, i)
        critical = "critical" in tags
        p_base = 0.97 if critical else 0.9
        base_pass = rng.random() < p_base
        cand_pass = base_pass
        if base_pass and rng.random() < drop + 0.01 and not critical:
            cand_pass = False
        elif not base_pass and rng.random() < 0.1:
            cand_pass = True
        if critical:
            cand_pass = i != 50
        if hostile and i < len(HOSTILE_IDS):
            base_pass, cand_pass = True, False  # every hostile id is a flipped case
        g_base = min(1.0, max(0.0, rng.gauss(0.8, 0.12)))
        g_cand = min(1.0, max(0.0, g_base - rng.gauss(0.01, 0.05)))
        error = i % 97 == 13 or (hostile and i == 2)
        latency = round(rng.lognormvariate(5.5, 0.4), 3)
        base_out.append(
            CaseOutcome(
                case_id,
                base_pass,
                {"label": 1.0 if base_pass else 0.0, "grounded": g_base},
                tuple(tags),
                latency_ms=latency,
                cost_usd=Decimal("0.0004"),
            )
        )
        cand_out.append(
            CaseOutcome(
                case_id,
                cand_pass and not error,
                {} if error else {"label": 1.0 if cand_pass else 0.0, "grounded": g_cand},
                tuple(tags),
                error=error,
                latency_ms=latency,
                cost_usd=Decimal("0.0004"),
            )
        )
        expected = rng.choice(["motor-claims", "home-claims", "travel-desk", "fraud-review"])
        got = expected if cand_pass else "general-queue"
        trial: dict[str, Any] = {"case": case_id, "epoch": 0, "tags": tags}
        if error:
            trial.update(
                status="error",
                passed=None,
                score=None,
                scores={},
                error="TimeoutError: target took longer than 30 s <b>bold</b>",
            )
        else:
            trial.update(
                status="ok",
                passed=cand_pass,
                score=((1.0 if cand_pass else 0.0) + g_cand) / 2,
                scores={
                    "label": {
                        "value": 1.0 if cand_pass else 0.0,
                        "passed": cand_pass,
                        "label": got,
                        "expected_label": expected,
                    },
                    "grounded": {"value": g_cand, "reason": f"cites {rng.randint(0, 3)} sources"},
                },
                output={
                    "queue": got,
                    "note": f"<i>routed</i> {case_id} </pre><script>x()</script>",
                },
            )
        trial.update(latency_ms=latency, attempts=1, input_hash=f"{i:064x}", expected_hash="0" * 64)
        trial["cost"] = 0.0004
        trials.append(trial)
    run_id = f"20261130T090000Z-{suite}-a1b2c3"
    run = _run_json(suite, run_id, trials, started=started, mode=mode)
    spec_data: dict[str, Any] = {
        "required": {"tags": ["critical"]},
        "thresholds": {"label": {"min": "0.8", "bound": "lower95"}},
        "budgets": {
            "error_rate": {"max": "0.02"},
            "latency_ms": {"p95": 900},
            "cost_usd": {"max": "1"},
        },
        "quarantine": [
            {
                "case": ids[3],
                "reason": "flaky OCR upstream <see #311> & retry",
                "expires": "2026-12-31",
            },
            {"case": ids[21], "reason": "new queue not rolled out", "expires": "2027-01-15"},
        ],
    }
    if regression:
        spec_data["regression"] = {
            "metrics": ["label", "grounded"],
            "margin": "0.02",
            "alpha": "0.05",
            "inconclusive": "warn",
        }
    spec = GateSpec.model_validate(spec_data)
    baseline = bless(
        base_out,
        suite=suite,
        run_id=f"20261101T080000Z-{suite}-0f0f0f",
        spec_digest="sha256:" + "ab12" * 16,
        dataset_hash="cd34" * 16,
        created=datetime(2026, 11, 1, 8, 30, tzinfo=UTC),
    )
    verdict = evaluate_gate(cand_out, baseline.outcomes if regression else None, spec, today=TODAY)
    past: list[dict[str, Any]] = []
    for k in range(history):
        hrng = random.Random(seed * 100 + k)
        rate = 0.86 + 0.01 * k + hrng.uniform(-0.01, 0.01)
        h_trials = []
        for j in range(n):
            ok = hrng.random() < rate
            h_trials.append(
                {
                    "case": ids[j],
                    "epoch": 0,
                    "status": "ok",
                    "passed": ok,
                    "scores": {
                        "label": {"value": 1.0 if ok else 0.0, "passed": ok},
                        "grounded": {"value": min(1.0, max(0.0, hrng.gauss(0.78, 0.1)))},
                    },
                    "tags": ["motor"],
                    "latency_ms": 200.0,
                }
            )
        when = started - timedelta(days=7 * (history - k))
        past.append(
            _run_json(
                suite,
                f"{when:%Y%m%dT%H%M%SZ}-{suite}-{k:06x}",
                h_trials,
                started=when,
                commit=f"{k:040x}",
            )
        )
    return Sample(run, trials, cand_out, baseline, verdict, spec, past)
