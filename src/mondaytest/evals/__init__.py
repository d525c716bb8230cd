"""Evals: datasets of cases, targets, scorers, a streaming runner, comparisons and the gate.

The short API::

    from mondaytest.evals import RunOptions, run_suite, suite_from_spec
    from mondaytest.spec import load_spec

    result = run_suite(suite_from_spec(load_spec("monday.yaml"), "triage"), RunOptions(sample=200))
    result.raise_for_status()          # exit-3 conditions: over the error budget, no trials
    print(result.data["metrics"])      # run.json; trials.jsonl is beside it in result.dir
"""

from __future__ import annotations

from mondaytest.evals.casesum import CaseSummary, summarize_cases
from mondaytest.evals.compare import Comparison, NotComparableError, compare_runs
from mondaytest.evals.dataset import Dataset, DatasetError, load_dataset
from mondaytest.evals.flaky import FlakyReport, flaky_report
from mondaytest.evals.model import MISSING, Case, Output, Score
from mondaytest.evals.runner import RunOptions, RunResult, SuiteRef, arun_suite, run_suite
from mondaytest.evals.runs import RunRecord, iter_trials, list_runs, read_run, resolve_run
from mondaytest.evals.suites import suite_from_spec
from mondaytest.evals.targets.interface import TargetError

__all__ = [
    "MISSING",
    "Case",
    "CaseSummary",
    "Comparison",
    "Dataset",
    "DatasetError",
    "FlakyReport",
    "NotComparableError",
    "Output",
    "RunOptions",
    "RunRecord",
    "RunResult",
    "Score",
    "SuiteRef",
    "TargetError",
    "arun_suite",
    "compare_runs",
    "flaky_report",
    "iter_trials",
    "list_runs",
    "load_dataset",
    "read_run",
    "resolve_run",
    "run_suite",
    "suite_from_spec",
    "summarize_cases",
]
