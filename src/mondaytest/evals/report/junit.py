"""JUnit XML: what CI test panels (GitHub, GitLab, Jenkins, Buildkite) show of a gate.

One ``<testsuite>`` per suite. Its test cases are:

* every **gate check** (classname ``<suite>.gate``): a failing check is a ``<failure>``, or an
  ``<error>`` when it means the run itself is unusable (exit 3); an inconclusive check is
  ``<skipped>`` when the policy lets it through (``warn``) and a ``<failure>`` when it blocks;
* every **case worth a look** (classname ``<suite>.cases``): required cases that failed and cases
  that flipped pass → fail (``<failure>``), cases that errored (``<error>``), quarantined cases
  (``<skipped>``, with the expiry), cases that flipped fail → pass (passing, for the record).
  Each list is capped; the rest is counted in one extra test case.

Passing cases are not listed one by one: a 200,000-case suite would drown the panel, and the
per-case record is ``trials.jsonl``. Without a verdict (``monday eval report``), the failing
cases of the run are listed instead. ``<properties>`` carry the run id, suite version, contract
digest, git commit, dataset hash, baseline run and the digests the verdict was computed from.

Structure follows Jenkins' ``junit-10.xsd`` (the superset CI tools read). Every string is
escaped; characters XML 1.0 cannot carry at all (most control characters, lone surrogates)
become visible ``\\xNN`` escapes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from mondaytest.evals.gate_model import CheckKind, CheckVerdict, GateVerdict, Status
from mondaytest.evals.report._io import write_text
from mondaytest.evals.report._rows import check_row
from mondaytest.evals.report._text import one_line, printable, shorten
from mondaytest.evals.report.model import CaseDetail, RunView, SuiteReport, headline

__all__ = ["render_junit", "write_junit"]

MESSAGE_CHARS = 500
"""Longest ``message`` attribute; the full text goes in the element body."""


def _xml_text(text: object) -> str:
    return printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml_attr(text: object) -> str:
    return (
        printable(text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )


def _attrs(pairs: Sequence[tuple[str, object | None]]) -> str:
    return "".join(f' {key}="{_xml_attr(value)}"' for key, value in pairs if value is not None)


class _Case:
    """One ``<testcase>`` before it is written."""

    __slots__ = ("classname", "kind", "message", "name", "out", "text", "time", "type")

    def __init__(
        self,
        name: str,
        classname: str,
        *,
        kind: str | None = None,
        message: str = "",
        type_: str = "",
        text: str = "",
        out: str = "",
        time: float = 0.0,
    ) -> None:
        self.name = name
        self.classname = classname
        self.kind = kind  # None (passed), "failure", "error" or "skipped"
        self.message = message
        self.type = type_
        self.text = text
        self.out = out
        self.time = time

    @property
    def seconds(self) -> str:
        return f"{self.time:.3f}"

    def xml(self) -> str:
        attrs = _attrs(
            [("name", one_line(self.name)), ("classname", self.classname), ("time", self.seconds)]
        )
        head = f"    <testcase{attrs}"
        parts: list[str] = []
        message = shorten(one_line(self.message), MESSAGE_CHARS)
        if self.kind == "skipped":
            parts.append(f"      <skipped{_attrs([('message', message)])}/>")
        elif self.kind in ("failure", "error"):
            attrs = _attrs([("message", message), ("type", self.type or None)])
            body = _xml_text(self.text or self.message)
            parts.append(f"      <{self.kind}{attrs}>{body}</{self.kind}>")
        if self.out:
            parts.append(f"      <system-out>{_xml_text(self.out)}</system-out>")
        if not parts:
            return head + "/>"
        return head + ">\n" + "\n".join(parts) + "\n    </testcase>"


def _check_text(check: CheckVerdict) -> str:
    row = check_row(check)
    lines = [check.reason, ""]
    for label, value in (
        ("status", check.status.value + (" (run unusable)" if check.harness else "")),
        ("method", check.method),
        ("n", check.n or None),
        ("baseline", row.baseline),
        ("candidate", row.candidate),
        ("delta", row.delta),
        ("95% CI", row.ci),
        ("p (one-sided)", row.p),
        ("MDE", row.mde),
        ("threshold", row.threshold),
    ):
        if value is not None and value != "—":
            lines.append(f"{label}: {value}")
    for key, detail in sorted(check.details.items()):
        value = f"{detail:.6g}" if isinstance(detail, float) else detail
        lines.append(f"{one_line(key)}: {one_line(value)}")
    if check.cases:
        shown = [one_line(c) for c in check.cases[:20]]
        more = f" and {len(check.cases) - 20} more" if len(check.cases) > 20 else ""
        lines.append(f"cases: {', '.join(shown)}{more}")
    return "\n".join(lines)


def _check_case(check: CheckVerdict, suite: str, verdict: GateVerdict, strict: bool) -> _Case:
    classname = f"{suite}.gate"
    text = _check_text(check)
    if check.status is Status.PASS:
        return _Case(check.name, classname, out=text)
    if check.status is Status.FAIL:
        kind = "error" if check.harness else "failure"
        type_ = "harness" if check.harness else check.kind.value
        return _Case(check.name, classname, kind=kind, type_=type_, message=check.reason, text=text)
    blocking = strict or verdict.inconclusive == "fail"
    if blocking:
        return _Case(
            check.name,
            classname,
            kind="failure",
            type_="inconclusive",
            message=f"inconclusive (blocks under {'--strict' if strict else 'policy fail'}): "
            f"{check.reason}",
            text=text,
        )
    return _Case(
        check.name,
        classname,
        kind="skipped",
        message=f"inconclusive (policy warn, does not block): {check.reason}",
        out=text,
    )


def _case_text(detail: CaseDetail | None, lead: str) -> str:
    lines = [lead]
    if detail is None:
        return lead
    lines.append(
        f"trials: {detail.trials} (passed {detail.passed}, failed {detail.failed}, "
        f"errors {detail.errors})"
    )
    if detail.tags:
        lines.append("tags: " + ", ".join(one_line(t) for t in detail.tags))
    if detail.error:
        lines.append(f"error: {detail.error}")
    for name, reason in detail.reasons.items():
        lines.append(f"{one_line(name)}: {reason}")
    if detail.output is not None:
        lines.append(f"output: {detail.output}")
    return "\n".join(lines)


def _case_time(detail: CaseDetail | None) -> float:
    if detail is None or detail.latency_ms is None:
        return 0.0
    return detail.latency_ms / 1000.0


def _gated_cases(report: SuiteReport, verdict: GateVerdict, limit: int) -> list[_Case]:
    classname = f"{report.suite}.cases"
    details = report.details.cases if report.details is not None else {}
    out: list[_Case] = []
    seen: set[str] = set()

    def add_group(ids: Sequence[str], make: tuple[str, str, str], noun: str) -> None:
        kind, type_, lead = make
        fresh = [i for i in ids if i not in seen]
        for case_id in fresh[:limit]:
            seen.add(case_id)
            detail = details.get(case_id)
            why = detail.why() if detail is not None else ""
            message = f"{lead}: {why}" if why else lead
            case = _Case(case_id, classname, time=_case_time(detail))
            if kind == "pass":
                case.out = _case_text(detail, lead)
            else:
                case.kind = kind
                case.type = type_
                case.message = message
                case.text = _case_text(detail, lead)
            out.append(case)
        rest = len(fresh) - limit
        if rest > 0:
            summary = _Case(f"… and {rest} more {noun}", classname)
            if kind != "pass":
                summary.kind = kind if kind != "error" else "failure"
                summary.type = type_
                summary.message = f"{rest} more {noun} not listed (see trials.jsonl)"
            else:
                summary.out = f"{rest} more {noun} not listed"
            out.append(summary)

    for check in verdict.checks:
        if check.kind is CheckKind.REQUIRED and check.status is Status.FAIL:
            lead = "required case failed" + (" or missing from the run" if check.harness else "")
            add_group(check.cases, ("failure", "required", lead), "required cases")
    add_group(
        verdict.flipped_to_fail,
        ("failure", "flipped", "flipped pass → fail (passed in the baseline)"),
        "pass → fail cases",
    )
    add_group(verdict.errored, ("error", "error", "the case errored"), "errored cases")
    quarantined = [q for q in verdict.quarantined if q.id not in seen]
    for q in quarantined[:limit]:
        seen.add(q.id)
        result = {True: "passed", False: "failed", None: "not in the run"}[q.passed]
        out.append(
            _Case(
                q.id,
                classname,
                kind="skipped",
                message=f"quarantined until {q.expires.isoformat()} ({result}): {q.reason}",
                time=_case_time(details.get(q.id)),
            )
        )
    if len(quarantined) > limit:
        rest = len(quarantined) - limit
        out.append(
            _Case(
                f"… and {rest} more quarantined cases",
                classname,
                kind="skipped",
                message=f"{rest} more quarantined cases not listed",
            )
        )
    add_group(
        verdict.flipped_to_pass,
        ("pass", "", "flipped fail → pass (failed in the baseline)"),
        "fail → pass cases",
    )
    return out


def _ungated_cases(report: SuiteReport, limit: int) -> list[_Case]:
    view = report.view
    classname_gate = f"{report.suite}.run"
    status = view.status or "unknown"
    run_case = _Case("run", classname_gate, time=view.duration_s or 0.0)
    if status != "complete":
        run_case.kind = "error"
        run_case.type = "harness"
        run_case.message = f"run {status}" + (
            f": {view.stopped_reason}" if view.stopped_reason else ""
        )
    elif not view.trials:
        run_case.kind = "error"
        run_case.type = "harness"
        run_case.message = "the run has no trials: a run of nothing proves nothing"
    else:
        run_case.out = f"run {view.id} complete: {view.trials} trial(s)"
    out = [run_case]
    details = report.details
    if details is None:
        return out
    classname = f"{report.suite}.cases"
    for case_id in details.failing[:limit]:
        detail = details.cases.get(case_id)
        errored = detail is not None and detail.outcome == "error"
        lead = "the case errored" if errored else "the case failed"
        why = detail.why() if detail is not None else ""
        out.append(
            _Case(
                case_id,
                classname,
                kind="error" if errored else "failure",
                type_="error" if errored else "case",
                message=f"{lead}: {why}" if why else lead,
                text=_case_text(detail, lead),
                time=_case_time(detail),
            )
        )
    rest = details.failing_total - min(len(details.failing), limit)
    if rest > 0:
        out.append(
            _Case(
                f"… and {rest} more failing cases",
                classname,
                kind="failure",
                type_="case",
                message=f"{rest} more failing cases not listed (see trials.jsonl)",
            )
        )
    return out


def _properties(report: SuiteReport) -> list[tuple[str, str]]:
    view: RunView = report.view
    verdict = report.verdict
    props: list[tuple[str, str | None]] = [
        ("monday.run_id", view.id),
        ("monday.suite", view.suite),
        ("monday.suite_version", view.suite_version),
        ("monday.run_status", view.status),
        ("monday.mode", view.mode),
        ("monday.spec_digest", view.spec_digest),
        ("monday.git_commit", view.git_commit),
        ("monday.git_dirty", None if view.git_dirty is None else str(view.git_dirty).lower()),
        ("monday.git_branch", view.git_branch),
        ("monday.dataset_sha256", view.dataset_sha256),
        ("monday.target_fingerprint", view.target_fingerprint),
        ("monday.version", view.monday_version),
    ]
    if report.baseline is not None:
        props.append(("monday.baseline_run_id", report.baseline.run_id))
    if verdict is not None:
        props.append(("monday.gate_status", verdict.status.value))
        props.append(("monday.exit_code", str(verdict.exit_code(strict=report.strict))))
        props.append(("monday.inconclusive_policy", verdict.inconclusive))
        for key, value in sorted(verdict.inputs.items()):
            props.append((f"monday.input.{key}", value))
    if report.run_url:
        props.append(("monday.run_url", report.run_url))
    for key, value in sorted(view.labels.items()):
        props.append((f"label.{key}", value))
    return [(k, v) for k, v in props if v is not None]


def _timestamp(started: str | None) -> str | None:
    """ISO 8601 without zone or fraction, as the JUnit schema wants (UTC)."""
    if not started or len(started) < 19:
        return None
    stamp = started[:19]
    return stamp if stamp[4] == "-" and stamp[10] == "T" else None


def _suite_xml(report: SuiteReport, case_limit: int) -> tuple[str, dict[str, int]]:
    verdict = report.verdict
    suite = one_line(report.suite)
    cases: list[_Case]
    if verdict is None:
        cases = _ungated_cases(report, case_limit)
    else:
        cases = [_check_case(c, suite, verdict, report.strict) for c in verdict.checks]
        cases += _gated_cases(report, verdict, case_limit)
    counts = {
        "tests": len(cases),
        "failures": sum(1 for c in cases if c.kind == "failure"),
        "errors": sum(1 for c in cases if c.kind == "error"),
        "skipped": sum(1 for c in cases if c.kind == "skipped"),
    }
    view = report.view
    attrs = _attrs(
        [
            ("name", suite),
            ("tests", counts["tests"]),
            ("failures", counts["failures"]),
            ("errors", counts["errors"]),
            ("skipped", counts["skipped"]),
            ("time", f"{view.duration_s or 0.0:.3f}"),
            ("timestamp", _timestamp(view.started_at)),
            ("id", view.id),
        ]
    )
    lines = [f"  <testsuite{attrs}>", "    <properties>"]
    lines += [
        f"      <property{_attrs([('name', name), ('value', value)])}/>"
        for name, value in _properties(report)
    ]
    lines.append("    </properties>")
    lines += [case.xml() for case in cases]
    head = headline(report)
    summary = f"{head.label}: {head.sentence}"
    if verdict is not None and verdict.notes:
        summary += "\n" + "\n".join(f"note: {n}" for n in verdict.notes)
    lines.append(f"    <system-out>{_xml_text(summary)}</system-out>")
    lines.append("  </testsuite>")
    return "\n".join(lines), counts


def _chunks(reports: Sequence[SuiteReport], case_limit: int, name: str) -> Iterator[str]:
    bodies: list[str] = []
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    time = 0.0
    for report in reports:
        body, counts = _suite_xml(report, case_limit)
        bodies.append(body)
        for key, value in counts.items():
            totals[key] += value
        time += report.view.duration_s or 0.0
    yield '<?xml version="1.0" encoding="UTF-8"?>\n'
    attrs = _attrs(
        [
            ("name", name),
            ("tests", totals["tests"]),
            ("failures", totals["failures"]),
            ("errors", totals["errors"]),
            ("skipped", totals["skipped"]),
            ("time", f"{time:.3f}"),
        ]
    )
    yield f"<testsuites{attrs}>\n"
    for body in bodies:
        yield body + "\n"
    yield "</testsuites>\n"


def render_junit(
    reports: SuiteReport | Sequence[SuiteReport],
    *,
    case_limit: int = 200,
    name: str = "monday eval",
) -> str:
    """JUnit XML for one or more suites (one ``<testsuite>`` each).

    ``case_limit`` caps each list of cases (flipped, errored, required, quarantined).
    """
    items = [reports] if isinstance(reports, SuiteReport) else list(reports)
    return "".join(_chunks(items, max(case_limit, 0), name))


def write_junit(
    path: str | os.PathLike[str],
    reports: SuiteReport | Sequence[SuiteReport],
    *,
    case_limit: int = 200,
    name: str = "monday eval",
) -> Path:
    """Write :func:`render_junit` to ``path`` (UTF-8, atomically); returns the path."""
    return write_text(path, render_junit(reports, case_limit=case_limit, name=name))
