"""The report files of a run: the projections asked for, with the suite's history and the CI link.

:func:`write_reports` is what ``monday eval gate`` and ``monday eval report`` call: it builds one
:class:`~mondaytest.evals.report.model.SuiteReport` (the run, its verdict when it was gated,
per-case details, the suite's earlier runs for the trend, a link to the CI run) and writes the
JUnit XML, Markdown, HTML and GitHub step summary that were asked for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mondaytest.evals.report.html import write_html
from mondaytest.evals.report.junit import write_junit
from mondaytest.evals.report.markdown import (
    render_step_summary,
    write_markdown,
    write_step_summary,
)
from mondaytest.evals.report.model import SuiteReport, collect_details, focus_ids
from mondaytest.evals.runs import RunRecord, iter_trials, list_runs

if TYPE_CHECKING:
    from mondaytest.evals.gating import GateResult

__all__ = ["HISTORY_RUNS", "ci_run_url", "run_history", "suite_report", "write_reports"]

HISTORY_RUNS = 20
"""Earlier runs of the suite a report shows in its trend."""


def ci_run_url(environ: Mapping[str, str] | None = None) -> str | None:
    """A link to the CI run, from GitHub Actions' environment (None elsewhere)."""
    env = os.environ if environ is None else environ
    server, repo, run_id = (
        env.get("GITHUB_SERVER_URL"),
        env.get("GITHUB_REPOSITORY"),
        env.get("GITHUB_RUN_ID"),
    )
    return f"{server}/{repo}/actions/runs/{run_id}" if server and repo and run_id else None


def run_history(record: RunRecord, limit: int = HISTORY_RUNS) -> list[dict[str, Any]]:
    """``run.json`` of the newest ``limit`` other runs of the run's suite, oldest first.

    The runs are looked up beside the run (``<root>/.monday/runs/<id>``); a run directory
    elsewhere has no history.
    """
    if limit <= 0:
        return []
    root = record.dir.parent.parent.parent  # <root>/.monday/runs/<id>
    return [r.data for r in list_runs(root, record.suite) if r.id != record.id][-limit:]


def suite_report(
    record: RunRecord,
    result: GateResult | None = None,
    *,
    strict: bool = False,
    run_url: str | None = None,
) -> SuiteReport:
    """The report of ``record`` (and of its verdict, when ``result`` is given).

    ``run_url`` defaults to the CI run's link (:func:`ci_run_url`).
    """
    verdict = result.verdict if result is not None else None
    return SuiteReport(
        run=record.data,
        verdict=verdict,
        baseline=result.baseline if result is not None else None,
        details=collect_details(iter_trials(record.dir), focus=focus_ids(verdict)),
        history=run_history(record),
        strict=strict,
        run_url=run_url or ci_run_url(),
    )


def write_reports(
    record: RunRecord,
    result: GateResult | None,
    *,
    junit: Path | None = None,
    markdown: Path | None = None,
    html: Path | None = None,
    step_summary: bool = False,
    strict: bool = False,
    run_url: str | None = None,
) -> list[Path]:
    """Write the requested projections of a run (and of its verdict); the files written.

    ``step_summary`` appends the Markdown summary to ``$GITHUB_STEP_SUMMARY`` when it is set.
    Nothing is read when nothing is asked for.
    """
    if not (junit or markdown or html or step_summary):
        return []
    report = suite_report(record, result, strict=strict, run_url=run_url)
    written: list[Path] = []
    if junit is not None:
        written.append(write_junit(junit, report))
    if markdown is not None:
        written.append(write_markdown(markdown, report))
    if html is not None:
        written.append(write_html(html, report))
    if step_summary:
        path = write_step_summary(render_step_summary(report))
        if path is not None:
            written.append(path)
    return written
