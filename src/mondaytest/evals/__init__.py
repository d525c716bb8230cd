"""Evals: datasets of cases, targets, scorers, a streaming runner, comparisons and the gate.

The short API::

    from mondaytest.evals import RunOptions, run_suite, suite_from_spec
    from mondaytest.spec import load_spec

    result = run_suite(suite_from_spec(load_spec("monday.yaml"), "triage"), RunOptions(sample=200))
    result.raise_for_status()          # exit-3 conditions: over the error budget, no trials
    print(result.data["metrics"])      # run.json; trials.jsonl is beside it in result.dir

Names are imported on first use, so ``import mondaytest.evals.<module>`` stays cheap (the CLI
starts without loading the runner, numpy or scipy).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mondaytest.evals.casesum import CaseSummary, summarize_cases
    from mondaytest.evals.compare import Comparison, NotComparableError, compare_runs
    from mondaytest.evals.dataset import Dataset, DatasetError, load_dataset
    from mondaytest.evals.flaky import FlakyReport, flaky_report
    from mondaytest.evals.gate_run import GateRequest, gate_all_suites, gate_suite
    from mondaytest.evals.gating import (
        GateResult,
        bless_run,
        case_outcomes,
        gate_run,
        plan_suite,
    )
    from mondaytest.evals.model import MISSING, Case, Output, Score
    from mondaytest.evals.runner import RunOptions, RunResult, SuiteRef, arun_suite, run_suite
    from mondaytest.evals.runs import RunRecord, iter_trials, list_runs, read_run, resolve_run
    from mondaytest.evals.suites import suite_from_spec
    from mondaytest.evals.targets.interface import TargetError

_EXPORTS = {
    "CaseSummary": "casesum",
    "summarize_cases": "casesum",
    "Comparison": "compare",
    "NotComparableError": "compare",
    "compare_runs": "compare",
    "Dataset": "dataset",
    "DatasetError": "dataset",
    "load_dataset": "dataset",
    "FlakyReport": "flaky",
    "flaky_report": "flaky",
    "GateRequest": "gate_run",
    "gate_all_suites": "gate_run",
    "gate_suite": "gate_run",
    "GateResult": "gating",
    "bless_run": "gating",
    "case_outcomes": "gating",
    "gate_run": "gating",
    "plan_suite": "gating",
    "MISSING": "model",
    "Case": "model",
    "Output": "model",
    "Score": "model",
    "RunOptions": "runner",
    "RunResult": "runner",
    "SuiteRef": "runner",
    "arun_suite": "runner",
    "run_suite": "runner",
    "RunRecord": "runs",
    "iter_trials": "runs",
    "list_runs": "runs",
    "read_run": "runs",
    "resolve_run": "runs",
    "suite_from_spec": "suites",
    "TargetError": "targets.interface",
}

__all__ = [
    "MISSING",
    "Case",
    "CaseSummary",
    "Comparison",
    "Dataset",
    "DatasetError",
    "FlakyReport",
    "GateRequest",
    "GateResult",
    "NotComparableError",
    "Output",
    "RunOptions",
    "RunRecord",
    "RunResult",
    "Score",
    "SuiteRef",
    "TargetError",
    "arun_suite",
    "bless_run",
    "case_outcomes",
    "compare_runs",
    "flaky_report",
    "gate_all_suites",
    "gate_run",
    "gate_suite",
    "iter_trials",
    "list_runs",
    "load_dataset",
    "plan_suite",
    "read_run",
    "resolve_run",
    "run_suite",
    "suite_from_spec",
    "summarize_cases",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mondaytest.evals' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"mondaytest.evals.{module}"), name)
    globals()[name] = value
    return value
