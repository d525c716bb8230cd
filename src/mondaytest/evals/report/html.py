"""A self-contained HTML report of one suite's run (and its gate verdict).

One file, no network and no scripts: inline CSS and inline SVG charts from
:mod:`mondaytest.evals.report.svg`, and a Content-Security-Policy that forbids loading anything.
It shows the verdict, the gate checks with a Δ-and-interval plot, flipped cases (pass → fail
first) with their outputs, quarantined and errored cases, score distributions (against the
baseline's), per-tag slices with Wilson 95 % intervals, the trend over earlier runs, and the
provenance of every input.

Every piece of user content (case ids, outputs, reasons, tags, labels) is escaped; characters
no HTML document may carry become visible ``\\xNN`` escapes.
"""

from __future__ import annotations

import html
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path

from mondaytest.evals import stats
from mondaytest.evals.gate_model import CheckKind, GateVerdict
from mondaytest.evals.report._io import write_text
from mondaytest.evals.report._rows import STATUS_LABEL, check_row
from mondaytest.evals.report._text import (
    fmt_ci,
    fmt_delta,
    fmt_ms,
    fmt_pct,
    fmt_score,
    one_line,
    plural,
    printable,
    short_digest,
)
from mondaytest.evals.report.model import (
    CaseDetail,
    Histogram,
    RunView,
    SuiteReport,
    headline,
)
from mondaytest.evals.report.svg import (
    IntervalRow,
    RefLine,
    Series,
    histogram_svg,
    interval_svg,
    trend_svg,
)

__all__ = ["render_html", "write_html"]

_URL_OK = re.compile(r"^https?://[^\s<>\"'`\\]+$")


def _h(text: object) -> str:
    """Untrusted text for HTML, on one line."""
    return html.escape(one_line(text), quote=True)


def _block(text: object) -> str:
    """Untrusted text for HTML, line breaks kept (inside ``<pre>``)."""
    return html.escape(printable(text), quote=True)


def _code(text: object) -> str:
    return f"<code>{_h(text)}</code>"


_CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff;--soft:#f6f8fa;
--pass:#1a7f37;--fail:#cf222e;--inc:#9a6700;--base:#6e7781;--accent:#0969da;
--s0:#0969da;--s1:#8250df;--s2:#bf3989;--s3:#1a7f37;--s4:#bc4c00;--s5:#57606a}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
main{max-width:1120px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:32px 0 10px;
padding-bottom:6px;border-bottom:1px solid var(--line)}h3{font-size:14px;margin:18px 0 8px}
.sub{color:var(--muted);margin:0 0 12px}
code,pre{font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code{background:var(--soft);padding:1px 4px;border-radius:4px;word-break:break-all}
pre{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:8px 10px;
margin:6px 0;white-space:pre-wrap;word-break:break-word;max-height:260px;overflow:auto}
.verdict{display:flex;gap:16px;align-items:center;border:1px solid var(--line);
border-left-width:6px;border-radius:8px;padding:14px 18px;margin:16px 0}
.verdict.pass{border-left-color:var(--pass)}.verdict.fail{border-left-color:var(--fail)}
.verdict.inconclusive{border-left-color:var(--inc)}.verdict.none{border-left-color:var(--base)}
.badge{display:inline-block;font-weight:700;letter-spacing:.04em;border-radius:999px;
padding:3px 12px;color:#fff;white-space:nowrap}
.badge.pass{background:var(--pass)}.badge.fail{background:var(--fail)}
.badge.inconclusive{background:var(--inc)}.badge.none{background:var(--base)}
.pill{display:inline-block;font-size:12px;font-weight:600;border-radius:999px;padding:0 8px;
border:1px solid currentColor;white-space:nowrap}
.pill.pass{color:var(--pass)}.pill.fail{color:var(--fail)}.pill.inconclusive{color:var(--inc)}
.pill.none,.pill.flaky,.pill.unjudged{color:var(--base)}.pill.error{color:var(--fail)}
.note-box{background:#ddf4ff;border:1px solid #54aeff66;border-radius:6px;padding:8px 12px;
margin:10px 0}
.warn-box{background:#fff8c5;border:1px solid #d4a72c66;border-radius:6px;padding:8px 12px;
margin:10px 0}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;
margin:12px 0}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.card .k{color:var(--muted);font-size:12px}.card .v{font-size:20px;font-weight:600}
.card .x{color:var(--muted);font-size:12px}
table{border-collapse:collapse;width:100%;margin:8px 0}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600;background:var(--soft)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.checks td{border-bottom:none}
table.checks tr.why td{border-bottom:1px solid var(--line);color:var(--muted);font-size:12.5px;
padding-top:0}
table.checks code{white-space:nowrap;word-break:normal}
tr.fail td:first-child{box-shadow:inset 3px 0 var(--fail)}
tr.inconclusive td:first-child{box-shadow:inset 3px 0 var(--inc)}
nav{font-size:13px;margin:4px 0 0}nav a{color:var(--accent);text-decoration:none;margin-right:12px}
.chart .zone{fill:var(--fail);fill-opacity:.07;stroke:none}
details summary{cursor:pointer;color:var(--accent)}
.grid2{display:grid;grid-template-columns:repeat(auto-fill,minmax(430px,1fr));gap:14px}
figure{margin:0;border:1px solid var(--line);border-radius:8px;padding:10px}
figcaption{font-weight:600;margin-bottom:4px}
.muted{color:var(--muted)}
.chart{max-width:100%;height:auto;display:block}
figure .chart{width:100%}
.chart text{font:11px system-ui,sans-serif;fill:var(--fg)}
.chart .tick,.chart .label,.chart .note,.chart .legend{fill:var(--muted)}
.chart .grid{stroke:var(--line);stroke-width:1}
.chart .axis{stroke:var(--muted);stroke-width:1}
.chart .dashed{stroke-dasharray:4 3;stroke-width:1.5}
.chart line.c-base.dashed,.chart polyline.c-base.dashed{stroke:var(--fg);stroke-opacity:.75}
.chart .ci{stroke-width:2}
.chart .line{stroke-width:2}
.chart .band{stroke:none;fill-opacity:.14}
.chart .current{stroke:var(--line);stroke-width:8;stroke-opacity:.6}
.chart .reflabel{font-size:10.5px}
.c-pass{fill:var(--pass);stroke:var(--pass)}.c-fail{fill:var(--fail);stroke:var(--fail)}
.c-inconclusive{fill:var(--inc);stroke:var(--inc)}.c-base{fill:none;stroke:var(--base)}
.c-base-text{fill:var(--base)!important}.c-fail-text{fill:var(--fail)!important}
.c-pass-text{fill:var(--pass)!important}
.c-s0{fill:var(--s0);stroke:var(--s0)}.c-s1{fill:var(--s1);stroke:var(--s1)}
.c-s2{fill:var(--s2);stroke:var(--s2)}.c-s3{fill:var(--s3);stroke:var(--s3)}
.c-s4{fill:var(--s4);stroke:var(--s4)}.c-s5{fill:var(--s5);stroke:var(--s5)}
.line.c-s0,.line.c-s1,.line.c-s2,.line.c-s3,.line.c-s4,.line.c-s5{fill:none}
rect.c-s0{stroke:none}rect.c-pass,rect.c-fail{stroke:none}
footer{margin-top:40px;color:var(--muted);font-size:12px}
"""


# --------------------------------------------------------------------------------------------
# Sections


def _header(report: SuiteReport, nav: str) -> str:
    view = report.view
    head = headline(report)
    version = f" <span class='muted'>v{_h(view.suite_version)}</span>" if view.suite_version else ""
    started = _h(view.started_at) if view.started_at else "unknown time"
    bits = [f"run {_code(view.id)}", f"started {started}"]
    if view.duration_s is not None:
        bits.append(f"took {view.duration_s:,.1f} s")
    if view.mode:
        bits.append(f"mode <b>{_h(view.mode)}</b>")
    link = ""
    if report.run_url and _URL_OK.match(report.run_url):
        link = f' · <a href="{html.escape(report.run_url, quote=True)}">CI run</a>'
    out = [
        f"<h1>Eval report · {_h(report.suite)}{version}</h1>",
        f"<p class='sub'>{' · '.join(bits)}{link}</p>",
        nav,
        f"<div class='verdict {head.css}'><span class='badge {head.css}'>{_h(head.label)}</span>"
        f"<div>{_h(head.sentence)}</div></div>",
    ]
    if view.mode == "replay":
        out.append(
            "<div class='note-box'>Outputs were replayed from the recorded cassette: this run "
            "checks the scorers and the gate, not the live model.</div>"
        )
    if view.status and view.status != "complete":
        reason = f": {_h(view.stopped_reason)}" if view.stopped_reason else ""
        out.append(f"<div class='warn-box'>The run is <b>{_h(view.status)}</b>{reason}</div>")
    return "\n".join(out)


def _card(key: str, value: str, extra: str = "") -> str:
    tail = f"<div class='x'>{extra}</div>" if extra else ""
    return f"<div class='card'><div class='k'>{key}</div><div class='v'>{value}</div>{tail}</div>"


def _cards(report: SuiteReport) -> str:
    view = report.view
    verdict = report.verdict
    cards = [
        _card(
            "Cases",
            f"{view.cases:,}" if view.cases is not None else "—",
            f"{view.trials:,} trials" if view.trials is not None else "",
        )
    ]
    judged = (view.passed or 0) + (view.failed or 0)
    if judged:
        ci = stats.wilson_interval(view.passed or 0, judged)
        cards.append(_card("Pass rate", fmt_pct(ci.estimate), f"95 % CI {fmt_ci(ci.low, ci.high)}"))
    elif view.pass_rate is not None:
        cards.append(_card("Pass rate", fmt_pct(view.pass_rate)))
    if view.errors is not None:
        share = f"{fmt_pct(view.errors / view.trials)} of trials" if view.trials else ""
        cards.append(_card("Errors", f"{view.errors:,}", share))
    p50, p95 = view.latency("p50"), view.latency("p95")
    if p95 is not None:
        cards.append(
            _card("Latency p95", fmt_ms(p95), f"p50 {fmt_ms(p50)}" if p50 is not None else "")
        )
    if view.cost_total is not None:
        cards.append(_card("Cost", f"${view.cost_total:,.4g}"))
    if verdict is not None and (verdict.n_paired or report.baseline is not None):
        cards.append(
            _card(
                "Paired with baseline",
                f"{verdict.n_paired:,}",
                f"{len(verdict.flipped_to_fail)} pass→fail · {len(verdict.flipped_to_pass)} "
                "fail→pass",
            )
        )
    if verdict is not None and verdict.quarantined:
        cards.append(_card("Quarantined", str(len(verdict.quarantined))))
    return "<div class='cards'>" + "".join(cards) + "</div>"


def _checks(verdict: GateVerdict) -> str:
    rows = []
    for check in verdict.checks:
        row = check_row(check)
        status = STATUS_LABEL[row.status]
        harness = " <span class='pill fail'>run unusable</span>" if row.harness else ""
        rows.append(
            f"<tr class='{status}'><td><span class='pill {status}'>{status}</span></td>"
            f"<td>{_code(row.name)}{harness}</td>"
            f"<td class='num'>{_h(row.baseline)}</td><td class='num'>{_h(row.candidate)}</td>"
            f"<td class='num'>{_h(row.delta)}</td><td class='num'>{_h(row.ci)}</td>"
            f"<td class='num'>{_h(row.p)}</td><td class='num'>{_h(row.mde)}</td>"
            f"<td>{_h(row.threshold)}</td></tr>"
            f"<tr class='why {status}'><td></td><td colspan='8'>{_h(row.reason)}</td></tr>"
        )
    table = (
        "<table class='checks'><thead><tr><th>Status</th><th>Check</th>"
        "<th class='num'>Baseline</th>"
        "<th class='num'>Candidate</th><th class='num'>Δ</th><th class='num'>95 % CI</th>"
        "<th class='num'>p (one-sided)</th><th class='num'>MDE</th><th>Threshold</th>"
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )
    parts = ["<h2>Gate checks</h2>", table]
    plot = _regression_plot(verdict)
    if plot:
        parts += [
            "<h3>Regression checks: Δ (candidate − baseline) with 95 % CI</h3>",
            plot,
            "<p class='muted'>Left of the dashed −margin line is a drop the gate will not "
            "accept; a check passes only when its bound on the drop stays inside the margin.</p>",
        ]
    if verdict.notes:
        parts.append("<ul>" + "".join(f"<li>{_h(n)}</li>" for n in verdict.notes) + "</ul>")
    return "\n".join(parts)


def _regression_plot(verdict: GateVerdict) -> str:
    checks = [
        c
        for c in verdict.checks
        if c.kind is CheckKind.REGRESSION and c.delta is not None and c.ci_low is not None
    ]
    if not checks:
        return ""
    margins = [float(c.threshold) for c in checks if c.threshold is not None]
    margin = max(margins) if margins else 0.0
    extent = max(
        [abs(c.ci_low or 0.0) for c in checks]
        + [abs(c.ci_high or 0.0) for c in checks]
        + [margin, 0.01]
    )
    extent *= 1.15
    rows = [
        IntervalRow(
            label=c.metric or c.name,
            estimate=c.delta,
            low=c.ci_low,
            high=c.ci_high,
            note=f"Δ {fmt_delta(c.delta)} {fmt_ci(c.ci_low, c.ci_high, signed=True)}",
            css={"pass": "c-pass", "fail": "c-fail", "inconclusive": "c-inconclusive"}[
                c.status.value
            ],
        )
        for c in checks
    ]
    refs = [RefLine(0.0, "no change")]
    if margin:
        refs.append(RefLine(-margin, f"−margin {margin:g}", css="c-fail"))
    return interval_svg(
        rows,
        title="Regression: difference from the baseline",
        domain=(-extent, extent),
        refs=refs,
        signed=True,
        zone=(-extent, -margin) if margin else None,
    )


def _detail_cells(detail: CaseDetail | None) -> str:
    if detail is None:
        return "<td class='muted'>—</td><td class='muted'>no trial details</td>"
    tags = ", ".join(_h(t) for t in detail.tags) or "<span class='muted'>—</span>"
    why = _h(detail.why(400)) or "<span class='muted'>—</span>"
    output = ""
    if detail.output is not None:
        output = f"<details><summary>output</summary><pre>{_block(detail.output)}</pre></details>"
    return f"<td>{tags}</td><td>{why}{output}</td>"


def _case_table(
    ids: Sequence[str],
    report: SuiteReport,
    limit: int,
    now: str,
    *,
    baseline_column: bool = False,
) -> str:
    details = report.details
    known = details.cases if details is not None else {}
    before: dict[str, bool] = {}
    if baseline_column and report.baseline is not None:
        wanted = set(ids[:limit])
        before = {o.id: o.passed for o in report.baseline.outcomes if o.id in wanted}
    else:
        baseline_column = False
    rows = []
    for case_id in ids[:limit]:
        detail = known.get(case_id)
        outcome = detail.outcome if detail is not None else now
        base = ""
        if baseline_column:
            was = before.get(case_id)
            word = "new" if was is None else ("pass" if was else "fail")
            base = f"<td><span class='pill {word}'>{word}</span></td>"
        rows.append(
            f"<tr><td>{_code(case_id)}</td>{base}<td><span class='pill {_h(outcome)}'>"
            f"{_h(outcome)}</span></td>{_detail_cells(detail)}</tr>"
        )
    more = ""
    if len(ids) > limit:
        more = f"<p class='muted'>… and {len(ids) - limit:,} more.</p>"
    head_base = "<th>Baseline</th>" if baseline_column else ""
    return (
        f"<table><thead><tr><th>Case</th>{head_base}<th>Now</th><th>Tags</th>"
        "<th>Why / output</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>" + more
    )


def _flipped(report: SuiteReport, verdict: GateVerdict, limit: int) -> str:
    down, up = verdict.flipped_to_fail, verdict.flipped_to_pass
    parts = ["<h2>Flipped cases</h2>"]
    if not down and not up:
        if verdict.n_paired:
            parts.append(
                f"<p class='muted'>No case changed between the baseline and this run "
                f"({plural(verdict.n_paired, 'paired case')}).</p>"
            )
            return "\n".join(parts)
        return ""
    parts.append(
        f"<p class='muted'>Paired on {plural(verdict.n_paired, 'case')}; every flip is listed, "
        "significant or not.</p>"
    )
    if down:
        parts.append(f"<h3>Pass → fail ({len(down):,})</h3>")
        parts.append(_case_table(down, report, limit, "fail"))
    if up:
        parts.append(f"<h3>Fail → pass ({len(up):,})</h3>")
        parts.append(_case_table(up, report, limit, "pass"))
    return "\n".join(parts)


def _other_cases(report: SuiteReport, verdict: GateVerdict | None, limit: int) -> str:
    parts: list[str] = []
    if verdict is not None and verdict.quarantined:
        rows = []
        for q in verdict.quarantined[:limit]:
            result = {True: "pass", False: "fail", None: "none"}[q.passed]
            shown = {True: "pass", False: "fail", None: "not run"}[q.passed]
            rows.append(
                f"<tr><td>{_code(q.id)}</td><td class='num'>{q.expires.isoformat()}</td>"
                f"<td><span class='pill {result}'>{shown}</span></td><td>{_h(q.reason)}</td></tr>"
            )
        more = (
            f"<p class='muted'>… and {len(verdict.quarantined) - limit:,} more.</p>"
            if len(verdict.quarantined) > limit
            else ""
        )
        parts += [
            f"<h2>Quarantined ({len(verdict.quarantined)})</h2>",
            "<p class='muted'>Left out of the gate until the date shown; still run and "
            "reported.</p>",
            "<table><thead><tr><th>Case</th><th class='num'>Until</th><th>This run</th>"
            "<th>Reason</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>" + more,
        ]
    if verdict is not None and verdict.errored:
        parts += [
            f"<h2>Errored cases ({len(verdict.errored):,})</h2>",
            _case_table(verdict.errored, report, limit, "error"),
        ]
    if verdict is not None and (verdict.added or verdict.removed):
        items = []
        if verdict.added:
            items.append(
                f"<li>New since the baseline, not compared ({len(verdict.added):,}): "
                + ", ".join(_code(i) for i in verdict.added[:limit])
                + (" …" if len(verdict.added) > limit else "")
                + "</li>"
            )
        if verdict.removed:
            items.append(
                f"<li>Gone since the baseline ({len(verdict.removed):,}): "
                + ", ".join(_code(i) for i in verdict.removed[:limit])
                + (" …" if len(verdict.removed) > limit else "")
                + "</li>"
            )
        parts += ["<h2>Cases added and removed</h2>", "<ul>" + "".join(items) + "</ul>"]
    details = report.details
    if details is not None and details.failing:
        shown_ids: set[str] = set()
        if verdict is not None:
            shown_ids = {*verdict.flipped_to_fail, *verdict.errored}
        rest = [i for i in details.failing if i not in shown_ids]
        if rest:
            total = details.failing_total
            title = "Failing cases" if verdict is None else "Other failing cases"
            n_shown = min(len(rest), limit)
            listed = set(details.failing)
            bad_focus = sum(
                1
                for c in details.cases.values()
                if c.id not in listed and c.outcome in ("fail", "error", "flaky")
            )
            unlisted = total - len(details.failing) - bad_focus
            lead = f"{plural(total, 'case')} failed or errored in at least one trial"
            lead += "." if verdict is None else "; these are the ones not listed above."
            if unlisted > 0 or n_shown < len(rest):
                lead += f" Showing the first {n_shown}."
            table = _case_table(rest, report, limit, "fail", baseline_column=True)
            parts += [
                f"<h2>{title}</h2>",
                f"<p class='muted'>{lead}</p>",
                f"<details{' open' if n_shown <= 10 else ''}><summary>Show "
                f"{plural(n_shown, 'case')}</summary>{table}</details>",
            ]
    return "\n".join(parts)


def _distributions(report: SuiteReport) -> str:
    details = report.details
    parts = ["<h2>Score distributions</h2>"]
    if details is None or not details.histograms:
        parts.append(
            "<p class='muted'>Not available: the report was made without the run's trials.</p>"
        )
        return "\n".join(parts)
    baseline_hist: dict[str, Histogram] = {}
    if report.baseline is not None:
        bins = next(iter(details.histograms.values())).bins
        for name in details.histograms:
            values = [o.scores[name] for o in report.baseline.outcomes if name in o.scores]
            if values:
                baseline_hist[name] = Histogram.of(values, bins)
    figures = []
    for name, hist in details.histograms.items():
        base = baseline_hist.get(name)
        legend = " <span class='muted'>(bars: this run; dashed: baseline)</span>" if base else ""
        figures.append(
            f"<figure><figcaption>{_h(name)} <span class='muted'>· {hist.n:,} trials</span>"
            f"{legend}</figcaption>{histogram_svg(hist, title=name, baseline=base)}</figure>"
        )
    parts.append("<div class='grid2'>" + "".join(figures) + "</div>")
    return "\n".join(parts)


def _slices(report: SuiteReport) -> str:
    view = report.view
    metrics = [m for m in view.metrics if m.by_tag]
    if not metrics:
        return ""
    parts = [
        "<h2>Slices by tag</h2>",
        "<p class='muted'>Pass rate per tag with a 95 % Wilson interval (mean score for metrics "
        "without a pass/fail verdict); the dashed line is the whole run.</p>",
    ]
    for metric in metrics:
        rows: list[IntervalRow] = []
        for tag, piece in metric.by_tag.items():
            if piece.judged:
                ci = stats.wilson_interval(piece.passed or 0, piece.judged)
                rows.append(
                    IntervalRow(
                        tag,
                        ci.estimate,
                        ci.low,
                        ci.high,
                        note=f"{fmt_score(ci.estimate)} {fmt_ci(ci.low, ci.high)} n={piece.judged}",
                    )
                )
            elif piece.mean is not None:
                rows.append(
                    IntervalRow(tag, piece.mean, note=f"mean {fmt_score(piece.mean)} n={piece.n}")
                )
        if not rows:
            continue
        overall = metric.overall.pass_rate
        if overall is None:
            overall = metric.overall.mean
        refs = [RefLine(overall, f"all {fmt_score(overall)}")] if overall is not None else []
        lowest = min(
            [r.low if r.low is not None else (r.estimate or 0.0) for r in rows]
            + ([overall] if overall is not None else [])
        )
        kind = f" <span class='muted'>({_h(metric.kind)})</span>" if metric.kind else ""
        parts.append(f"<h3>{_h(metric.name)}{kind}</h3>")
        parts.append(
            interval_svg(
                rows, title=f"{metric.name} by tag", domain=(_floor_tenth(lowest), 1.0), refs=refs
            )
        )
    return "\n".join(parts)


def _floor_tenth(value: float) -> float:
    """The axis start for values down to ``value``: a tenth below it, at least 0."""
    return max(0.0, math.floor(value * 10 - 1e-9) / 10 - 0.1) if value > 0.1 else 0.0


def _same(a: Sequence[float | None], b: Sequence[float | None]) -> bool:
    return all(
        (x is None and y is None) or (x is not None and y is not None and abs(x - y) < 1e-9)
        for x, y in zip(a, b, strict=True)
    )


def _trend(report: SuiteReport) -> str:
    runs = [RunView(r) for r in report.history] + [report.view]
    parts = ["<h2>Trend</h2>"]
    if len(runs) < 2:
        parts.append("<p class='muted'>No earlier runs were given.</p>")
        return "\n".join(parts)
    labels = [r.id for r in runs]
    dates = [(r.started_at or "")[:10] or r.id for r in runs]
    series: list[Series] = []
    rates: list[float | None] = []
    lows: list[float | None] = []
    highs: list[float | None] = []
    for r in runs:
        judged = (r.passed or 0) + (r.failed or 0)
        if judged:
            ci = stats.wilson_interval(r.passed or 0, judged)
            rates.append(ci.estimate)
            lows.append(ci.low)
            highs.append(ci.high)
        else:
            rates.append(r.pass_rate)
            lows.append(None)
            highs.append(None)
    if any(v is not None for v in rates):
        series.append(Series("pass rate (95 % CI)", rates, lows, highs))
    names: list[str] = []
    for r in runs:
        for m in r.metrics:
            if m.name not in names:
                names.append(m.name)
    for name in names:
        values: list[float | None] = []
        for r in runs:
            found = next((m for m in r.metrics if m.name == name), None)
            values.append(found.overall.mean if found is not None else None)
        if not any(v is not None for v in values):
            continue
        twin = next((s for s in series if _same(s.values, values)), None)
        if twin is not None:  # a pass/fail metric equal to the pass rate: one line, two names
            series[series.index(twin)] = Series(
                f"{twin.name} = {name} mean", twin.values, twin.low, twin.high
            )
            continue
        series.append(Series(f"{name} mean", values))
    floor = min(
        [v for s in series for v in s.values if v is not None]
        + [v for s in series for v in (s.low or []) if v is not None]
        + [1.0]
    )
    parts.append(
        trend_svg(
            series,
            labels,
            title=f"{report.suite}: runs over time",
            x_labels=dates,
            domain=(_floor_tenth(floor), 1.0),
        )
    )
    rows = []
    for r in reversed(runs[-30:]):
        commit = _code(r.git_commit[:10]) if r.git_commit else "—"
        rows.append(
            f"<tr><td>{_code(r.id)}</td><td>{_h((r.started_at or '—')[:19])}</td>"
            f"<td class='num'>{r.cases if r.cases is not None else '—'}</td>"
            f"<td class='num'>{fmt_pct(r.pass_rate)}</td>"
            f"<td class='num'>{r.errors if r.errors is not None else '—'}</td>"
            f"<td>{commit}</td><td>{_h(r.mode or '—')}</td></tr>"
        )
    parts.append(
        "<details><summary>Runs in the trend</summary><table><thead><tr><th>Run</th>"
        "<th>Started</th><th class='num'>Cases</th><th class='num'>Pass rate</th>"
        "<th class='num'>Errors</th><th>Commit</th><th>Mode</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></details>"
    )
    return "\n".join(parts)


def _provenance(report: SuiteReport) -> str:
    view = report.view
    verdict = report.verdict
    rows: list[tuple[str, str | None]] = [
        ("Run", view.id),
        ("Suite version", view.suite_version),
        ("Contract digest", view.spec_digest),
        ("Git commit", (view.git_commit or "") + (" (dirty)" if view.git_dirty else "") or None),
        ("Git branch", view.git_branch),
        ("Dataset sha256", view.dataset_sha256),
        ("Target", view.target_ref),
        ("Target fingerprint", view.target_fingerprint),
        ("Monday", view.monday_version),
    ]
    if report.baseline is not None:
        rows.append(("Baseline run", report.baseline.run_id))
        rows.append(("Baseline blessed", report.baseline.created.isoformat()))
    if verdict is not None:
        rows += [
            (f"Digest of {key.replace('_', ' ')}", value)
            for key, value in sorted(verdict.inputs.items())
        ]
        rows.append(("Inconclusive policy", verdict.inconclusive))
    rows += [(f"Label {key}", value) for key, value in view.labels.items()]
    body = "".join(
        f"<tr><th>{_h(k)}</th><td><code title='{_h(v)}'>{_h(v)}</code></td></tr>"
        for k, v in rows
        if v
    )
    return f"<h2>Provenance</h2><table class='prov'><tbody>{body}</tbody></table>"


def render_html(report: SuiteReport, *, case_limit: int = 100) -> str:
    """The report as one self-contained HTML document (no scripts, no network).

    ``case_limit`` caps each list of cases (flipped, errored, quarantined, failing).
    """
    limit = max(case_limit, 0)
    verdict = report.verdict
    head = headline(report)
    parts: list[tuple[str, str, str]] = []
    if verdict is not None:
        parts.append(("checks", "Checks", _checks(verdict)))
        parts.append(("flipped", "Flipped", _flipped(report, verdict, limit)))
    parts.append(("cases", "Cases", _other_cases(report, verdict, limit)))
    parts.append(("distributions", "Distributions", _distributions(report)))
    parts.append(("slices", "Slices", _slices(report)))
    parts.append(("trend", "Trend", _trend(report)))
    parts.append(("provenance", "Provenance", _provenance(report)))
    present = [(key, name, body) for key, name, body in parts if body]
    nav = "<nav>" + "".join(f"<a href='#{key}'>{name}</a>" for key, name, _ in present) + "</nav>"
    sections = [_header(report, nav), _cards(report)]
    sections += [f"<section id='{key}'>{body}</section>" for key, _, body in present]
    title = f"{head.label} · {report.suite} · Monday eval report"
    short = short_digest(verdict.inputs.get("candidate")) if verdict is not None else None
    footer = (
        "Generated by Monday from run.json"
        + (" and the gate verdict" if verdict is not None else "")
        + (f" (candidate {_h(short)})" if short else "")
        + ". Self-contained: no scripts, nothing loaded from the network."
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<meta name='generator' content='monday'><title>{_h(title)}</title>"
        f"<style>{_CSS}</style></head>\n<body><main>\n"
        + "\n".join(s for s in sections if s)
        + f"\n<footer>{footer}</footer>\n</main></body></html>\n"
    )


def write_html(path: str | os.PathLike[str], report: SuiteReport, *, case_limit: int = 100) -> Path:
    """Write :func:`render_html` to ``path``; returns the path."""
    return write_text(path, render_html(report, case_limit=case_limit))
