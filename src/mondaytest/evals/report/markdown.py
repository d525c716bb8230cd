"""The pull-request comment, and the ``$GITHUB_STEP_SUMMARY`` writer.

The comment opens with a hidden marker, ``<!-- monday-eval-gate:SUITE -->``, so a CI step can
find and update its own comment instead of adding one per push. Then: the verdict with a GitHub
alert block, a table of checks (baseline, candidate, Δ, 95 % CI, p, MDE, threshold), why each
check decided, flipped cases (pass → fail first, capped, "and N more"), quarantined cases with
their expiry, errors and added/removed cases, slices by tag (collapsed) and a provenance line
with the run ids and short digests. Sections without content are left out.

Case ids and reasons are untrusted text: ids are shown as code spans (no markup, no mentions),
other text is backslash-escaped, and characters that are not printable become ``\\xNN``.
The comment stays under GitHub's 65,536-character limit (lists shrink first, then the text is
cut, keeping the marker).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from mondaytest.evals import stats
from mondaytest.evals.gate_model import GateVerdict, Status
from mondaytest.evals.report._io import append_text, write_text
from mondaytest.evals.report._rows import STATUS_EMOJI, check_row
from mondaytest.evals.report._text import (
    fmt_ci,
    fmt_ms,
    fmt_pct,
    fmt_score,
    one_line,
    plural,
    short_digest,
    shorten,
)
from mondaytest.evals.report.model import RunDetails, SuiteReport, headline

__all__ = [
    "MAX_COMMENT_CHARS",
    "marker",
    "md_code",
    "md_text",
    "render_markdown",
    "render_step_summary",
    "write_markdown",
    "write_step_summary",
]

MAX_COMMENT_CHARS = 65_000
"""GitHub refuses comments over 65,536 characters; stay under with a little room."""
STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
"""The environment variable GitHub Actions sets to the job summary file."""

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_MARKER_UNSAFE = re.compile(r"[^A-Za-z0-9_.:/@+=-]")
_URL_OK = re.compile(r"^https?://[^\s<>()\"'`\\]+$")


def marker(suite: str) -> str:
    """The hidden marker that identifies a suite's gate comment (stable across runs)."""
    safe = _MARKER_UNSAFE.sub("_", suite) or "_"
    return f"<!-- monday-eval-gate:{safe} -->"


def md_text(text: object, limit: int | None = None) -> str:
    """Untrusted text as inline Markdown that renders literally: on one line, punctuation
    backslash-escaped, ``@`` kept from mentioning anyone."""
    line = one_line(text)
    if limit is not None:
        line = shorten(line, limit)
    return _MD_SPECIAL.sub(r"\\\1", line).replace("@", "@\u200b")


def md_code(text: object, *, table: bool = False, limit: int = 120) -> str:
    """Untrusted text as a code span (``table``: inside a table row, where ``|`` is escaped)."""
    line = shorten(one_line(text), limit)
    if table:
        line = line.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", line)), default=0)
    fence = "`" * (longest + 1)
    if line.startswith(("`", " ")) or line.endswith(("`", " ")):
        line = f" {line} "
    return f"{fence}{line}{fence}"


def _cell(text: str) -> str:
    """Our own formatted text in a table cell (numbers, symbols): only ``|`` matters."""
    return text.replace("|", "\\|")


def _link(url: str | None) -> str | None:
    if url and _URL_OK.match(url):
        return f"[CI run]({url})"
    if url:
        return "CI run " + md_code(url)
    return None


def _checks_table(verdict: GateVerdict) -> list[str]:
    lines = [
        "| | Check | Baseline | Candidate | Δ | 95 % CI | p | MDE | Threshold |",
        "|:-:|---|--:|--:|--:|:-:|--:|--:|---|",
    ]
    for check in verdict.checks:
        row = check_row(check)
        cells = [
            STATUS_EMOJI[row.status],
            md_code(row.name, table=True),
            row.baseline,
            row.candidate,
            row.delta,
            row.ci,
            row.p,
            row.mde,
            row.threshold,
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def _reasons(verdict: GateVerdict) -> list[str]:
    loud = [c for c in verdict.checks if c.status is not Status.PASS]
    quiet = [c for c in verdict.checks if c.status is Status.PASS]
    lines: list[str] = []
    for check in loud:
        extra = " *(the run is unusable)*" if check.harness else ""
        lines.append(
            f"- {STATUS_EMOJI[check.status]} {md_code(check.name)}{extra}: "
            f"{md_text(check.reason, 1000)}"
        )
    if quiet:
        if lines:
            lines.append("")
        lines += ["<details><summary>Why the passing checks passed</summary>", ""]
        lines += [f"- {md_code(c.name)}: {md_text(c.reason, 1000)}" for c in quiet]
        lines += ["", "</details>"]
    return lines


def _case_list(ids: Sequence[str], limit: int) -> str:
    shown = ", ".join(md_code(i, limit=80) for i in ids[:limit])
    rest = len(ids) - limit
    if rest > 0:
        shown += f" and {rest} more" if shown else f"{rest} cases (not listed)"
    return shown


def _flipped(verdict: GateVerdict, details: RunDetails | None, limit: int) -> list[str]:
    down, up = verdict.flipped_to_fail, verdict.flipped_to_pass
    if not down and not up:
        return []
    lines = [
        "### Flipped cases",
        "",
        f"Paired on {plural(verdict.n_paired, 'case')} with the baseline; every flip is listed "
        "here, significant or not.",
        "",
    ]
    if down:
        lines.append(f"**❌ pass → fail: {len(down)}**")
        lines.append("")
        known = details.cases if details is not None else {}
        if known and limit > 0:
            lines += ["| Case | Now | Why |", "|---|---|---|"]
            for case_id in down[:limit]:
                detail = known.get(case_id)
                now = detail.outcome if detail is not None else "fail"
                why = md_text(detail.why(200), 200) if detail is not None else ""
                lines.append(f"| {md_code(case_id, table=True, limit=80)} | {now} | {why} |")
            if len(down) > limit:
                lines += ["", f"… and {len(down) - limit} more."]
        else:
            lines.append(_case_list(down, limit))
        lines.append("")
    if up:
        lines += [f"**✅ fail → pass: {len(up)}**", "", _case_list(up, limit), ""]
    return lines


def _quarantine(verdict: GateVerdict, limit: int) -> list[str]:
    if not verdict.quarantined:
        return []
    lines = [
        f"### Quarantined ({len(verdict.quarantined)})",
        "",
        "Left out of the gate until the date shown; still run and reported.",
        "",
        "| Case | Until | This run | Reason |",
        "|---|---|---|---|",
    ]
    for q in verdict.quarantined[: max(limit, 1)]:
        result = {True: "pass", False: "fail", None: "not run"}[q.passed]
        lines.append(
            f"| {md_code(q.id, table=True, limit=80)} | {q.expires.isoformat()} | {result} | "
            f"{md_text(q.reason, 200)} |"
        )
    rest = len(verdict.quarantined) - max(limit, 1)
    if rest > 0:
        lines += ["", f"… and {rest} more."]
    lines.append("")
    return lines


def _other(verdict: GateVerdict, limit: int) -> list[str]:
    lines: list[str] = []
    if verdict.errored:
        lines.append(
            f"- **Errored ({len(verdict.errored)})**: {_case_list(verdict.errored, limit)}"
        )
    if verdict.added:
        lines.append(
            f"- **New cases, not compared ({len(verdict.added)})**: "
            f"{_case_list(verdict.added, limit)}"
        )
    if verdict.removed:
        lines.append(
            f"- **Cases gone since the baseline ({len(verdict.removed)})**: "
            f"{_case_list(verdict.removed, limit)}"
        )
    lines += [f"- {md_text(note, 500)}" for note in verdict.notes]
    return [*lines, ""] if lines else []


def _slices(report: SuiteReport) -> list[str]:
    rows: list[str] = []
    for metric in report.view.metrics:
        for tag, piece in metric.by_tag.items():
            judged = piece.judged
            if judged:
                ci = stats.wilson_interval(piece.passed or 0, judged)
                value = f"{fmt_score(ci.estimate)} pass"
                interval = fmt_ci(ci.low, ci.high)
                n = judged
            else:
                value = f"{fmt_score(piece.mean)} mean"
                interval = "—"
                n = piece.n or 0
            rows.append(
                f"| {md_code(metric.name, table=True, limit=60)} | "
                f"{md_code(tag, table=True, limit=60)} | {n} | {value} | {interval} |"
            )
    if not rows:
        return []
    return [
        "<details><summary>Slices by tag (95 % Wilson intervals)</summary>",
        "",
        "| Metric | Tag | n | Value | 95 % CI |",
        "|---|---|--:|--:|:-:|",
        *rows,
        "",
        "</details>",
        "",
    ]


def _summary_line(report: SuiteReport) -> str:
    view = report.view
    verdict = report.verdict
    parts: list[str] = []
    if view.cases is not None:
        parts.append(f"**{plural(view.cases, 'case')}**")
    if view.epochs and view.epochs > 1:
        parts.append(f"{view.epochs} epochs")
    if view.pass_rate is not None:
        parts.append(f"pass rate {fmt_pct(view.pass_rate)}")
    if verdict is not None:
        if verdict.n_paired:
            parts.append(f"{verdict.n_paired} paired with the baseline")
        if verdict.quarantined:
            parts.append(f"{len(verdict.quarantined)} quarantined")
    if view.errors:
        parts.append(f"{plural(view.errors, 'error')}")
    p95 = view.latency("p95")
    if p95 is not None:
        parts.append(f"p95 {fmt_ms(p95)}")
    if view.cost_total is not None:
        parts.append(f"cost ${view.cost_total:,.4g}")
    return " · ".join(parts)


def _provenance(report: SuiteReport) -> str:
    view = report.view
    verdict = report.verdict
    parts = [f"run {md_code(view.id)}"]
    if report.baseline is not None:
        parts.append(f"baseline run {md_code(report.baseline.run_id)}")
    if view.git_commit:
        dirty = " (dirty)" if view.git_dirty else ""
        parts.append(f"commit {md_code(view.git_commit[:12])}{dirty}")
    digests: list[tuple[str, str | None]] = [("contract", view.spec_digest)]
    if verdict is not None:
        digests += [
            ("candidate", verdict.inputs.get("candidate")),
            ("baseline", verdict.inputs.get("baseline")),
            ("gate spec", verdict.inputs.get("gate_spec")),
        ]
    for label, digest in digests:
        short = short_digest(digest)
        if short:
            parts.append(f"{label} {md_code(short)}")
    if view.mode:
        parts.append(f"mode {md_text(view.mode)}")
    if view.monday_version:
        parts.append(f"monday {md_text(view.monday_version)}")
    link = _link(report.run_url)
    if link:
        parts.append(link)
    return "<sub>" + " · ".join(parts) + "</sub>"


def _render(report: SuiteReport, flipped_limit: int, slices: bool) -> str:
    head = headline(report)
    view = report.view
    verdict = report.verdict
    version = f" v{md_text(view.suite_version)}" if view.suite_version else ""
    lines = [
        marker(report.suite),
        f"### {head.emoji} Eval gate {md_code(report.suite)}{version}: **{head.label}**",
        "",
        f"> [!{head.alert}]",
        f"> {md_text(head.sentence)}",
        "",
    ]
    if view.mode == "replay":
        lines += [
            "> [!NOTE]",
            "> Outputs were replayed from the recorded cassette: this checks the scorers and the "
            "gate, not the live model.",
            "",
        ]
    if view.status and view.status != "complete":
        reason = f": {md_text(view.stopped_reason, 300)}" if view.stopped_reason else ""
        lines += [f"**The run is {md_text(view.status)}**{reason}", ""]
    summary = _summary_line(report)
    if summary:
        lines += [summary, ""]
    if verdict is not None:
        lines += _checks_table(verdict)
        lines.append("")
        lines += _reasons(verdict)
        lines.append("")
        lines += _flipped(verdict, report.details, flipped_limit)
        lines += _quarantine(verdict, flipped_limit)
        lines += _other(verdict, flipped_limit)
    if slices:
        lines += _slices(report)
    lines.append(_provenance(report))
    return "\n".join(lines) + "\n"


def render_markdown(
    report: SuiteReport, *, flipped_limit: int = 20, max_chars: int = MAX_COMMENT_CHARS
) -> str:
    """The PR comment for one suite (GitHub-flavoured Markdown, marker first).

    Lists of cases show at most ``flipped_limit`` ids each. If the text is longer than
    ``max_chars``, slices and lists shrink, and as a last resort the text is cut.
    """
    text = _render(report, flipped_limit, slices=True)
    for limit, slices in ((flipped_limit, False), (min(flipped_limit, 5), False), (0, False)):
        if len(text) <= max_chars:
            return text
        text = _render(report, limit, slices)
    if len(text) <= max_chars:
        return text
    note = "\n\n… (cut to fit the comment size limit; see the JUnit or HTML report)\n"
    return text[: max(max_chars - len(note), 0)] + note


def render_step_summary(
    reports: SuiteReport | Sequence[SuiteReport], *, flipped_limit: int = 20
) -> str:
    """The job summary for one or more suites: each suite's comment, one after the other."""
    items = [reports] if isinstance(reports, SuiteReport) else list(reports)
    return "\n".join(render_markdown(r, flipped_limit=flipped_limit) for r in items)


def write_markdown(
    path: str | os.PathLike[str],
    report: SuiteReport,
    *,
    flipped_limit: int = 20,
    max_chars: int = MAX_COMMENT_CHARS,
) -> Path:
    """Write :func:`render_markdown` to ``path``; returns the path."""
    return write_text(
        path, render_markdown(report, flipped_limit=flipped_limit, max_chars=max_chars)
    )


def write_step_summary(text: str, *, environ: Mapping[str, str] | None = None) -> Path | None:
    """Append ``text`` to the file named by ``$GITHUB_STEP_SUMMARY``; None when it is not set."""
    env = os.environ if environ is None else environ
    target = env.get(STEP_SUMMARY_ENV, "").strip()
    if not target:
        return None
    return append_text(target, text if text.endswith("\n") else text + "\n")
