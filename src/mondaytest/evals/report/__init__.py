"""Eval reports: projections of a run (``run.json`` + ``trials.jsonl``) and its gate verdict.

Pure functions from a :class:`SuiteReport` to text, plus ``write_*`` helpers that write the one
file the caller names:

* :func:`render_junit` / :func:`write_junit`: JUnit XML for CI test panels;
* :func:`render_markdown` / :func:`write_markdown`: the pull-request comment, with a stable
  marker (:func:`marker`) so CI updates one comment; :func:`write_step_summary` appends to
  ``$GITHUB_STEP_SUMMARY``;
* :func:`render_html` / :func:`write_html`: a self-contained HTML report with charts.

:func:`collect_details` streams ``trials.jsonl`` once for what the reports show per case;
:func:`write_reports` builds a run's report (with the suite's history) and writes the files asked
for.
"""

from mondaytest.evals.report.files import ci_run_url, run_history, suite_report, write_reports
from mondaytest.evals.report.html import render_html, write_html
from mondaytest.evals.report.junit import render_junit, write_junit
from mondaytest.evals.report.markdown import (
    marker,
    render_markdown,
    render_step_summary,
    write_markdown,
    write_step_summary,
)
from mondaytest.evals.report.model import (
    CaseDetail,
    RunDetails,
    RunView,
    SuiteReport,
    collect_details,
    focus_ids,
    headline,
)

__all__ = [
    "CaseDetail",
    "RunDetails",
    "RunView",
    "SuiteReport",
    "ci_run_url",
    "collect_details",
    "focus_ids",
    "headline",
    "marker",
    "render_html",
    "render_junit",
    "render_markdown",
    "render_step_summary",
    "run_history",
    "suite_report",
    "write_html",
    "write_junit",
    "write_markdown",
    "write_reports",
    "write_step_summary",
]
