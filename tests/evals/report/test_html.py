"""The HTML report: self-contained, every section present, all user content escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

from tests.evals.report.fixtures import HOSTILE_IDS, make_sample

from mondaytest.evals.gate_model import CheckKind, CheckVerdict, GateVerdict, Status
from mondaytest.evals.report import SuiteReport, collect_details, render_html, write_html
from mondaytest.evals.report.model import Histogram
from mondaytest.evals.report.svg import (
    IntervalRow,
    RefLine,
    Series,
    histogram_svg,
    interval_svg,
    trend_svg,
)

_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


class _Page(HTMLParser):
    """Collects tags, attributes, text and the ids of sections."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []
        self.sections: list[str] = []
        self.code: list[str] = []
        self._in_code = 0
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for key, value in attrs:
            self.attrs.append((tag, key, value))
        if tag == "section":
            self.sections.append(dict(attrs).get("id") or "")
        if tag == "code":
            self._in_code += 1
            self.code.append("")
        if tag == "style":
            self._in_style = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "code":
            self._in_code -= 1
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            return
        self.text.append(data)
        if self._in_code:
            self.code[-1] += data


def _parse(document: str) -> _Page:
    page = _Page()
    page.feed(document)
    page.close()
    return page


def _assert_self_contained(document: str, page: _Page) -> None:
    assert document.startswith("<!DOCTYPE html>")
    assert "script" not in page.tags
    assert "iframe" not in page.tags
    assert "link" not in page.tags
    assert "img" not in page.tags
    assert "object" not in page.tags
    for tag, key, value in page.attrs:
        assert not key.startswith("on"), (tag, key)
        if key in ("src", "srcset", "action", "formaction", "xlink:href"):
            raise AssertionError(f"{tag} loads {value}")
        if key == "href":
            assert value is not None
            assert value.startswith("#") or value.startswith("https://ci.example/"), value
    assert "url(" not in document
    assert "@import" not in document
    csp = [
        v for t, k, v in page.attrs if t == "meta" and k == "content" and v and "default-src" in v
    ]
    assert csp == ["default-src 'none'; style-src 'unsafe-inline'; img-src data:"]
    assert not _BAD_CHARS.search(document)


def test_full_report_sections() -> None:
    sample = make_sample(n=300)
    assert sample.verdict is not None
    document = render_html(sample.report(run_url="https://ci.example/run/1"))
    page = _parse(document)
    _assert_self_contained(document, page)
    assert page.sections == [
        "checks",
        "flipped",
        "cases",
        "distributions",
        "slices",
        "trend",
        "provenance",
    ]
    text = " ".join(page.text)
    assert "FAIL" in text
    assert "Exit code 1" in text
    for check in sample.verdict.checks:
        assert check.name in page.code
    assert "Regression checks: Δ (candidate − baseline) with 95 % CI" in text
    assert f"Pass → fail ({len(sample.verdict.flipped_to_fail)})" in text
    assert "Quarantined (2)" in text
    assert "2026-12-31" in text
    # histograms of both scorers, slices per metric, a trend over 6 + 1 runs
    assert document.count('class="chart"') >= 2 + 2 + 1 + 1
    assert "label by tag" in document
    assert "grounded by tag" in document
    assert document.count("20261130T090000Z-claims-triage-a1b2c3") >= 2
    assert "sha256:" + "ab12" * 16 in text  # contract digest in provenance
    assert str(sample.verdict.inputs["gate_spec"]) in text
    for svg in re.findall(r"<svg .*?</svg>", document, flags=re.S):
        ET.fromstring(svg)  # every chart is well-formed XML on its own


def test_hostile_content_is_text_never_markup() -> None:
    sample = make_sample(n=200, hostile=True, history=2)
    document = render_html(sample.report())
    page = _parse(document)
    _assert_self_contained(document, page)
    assert set(page.tags) <= {
        "html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3", "p",
        "span", "div", "b", "a", "nav", "section", "table", "thead", "tbody", "tr", "th", "td",
        "code", "details", "summary", "pre", "ul", "li", "figure", "figcaption", "footer",
        "svg", "line", "text", "rect", "polyline", "polygon", "circle", "g",
    }  # fmt: skip
    assert "<script>alert(1)</script>" in page.code
    assert "]]><evil/>" in page.code
    assert "ctl-\\x00\\x01\\x1b[31m-\\x7f\\x85" in page.code
    assert "line\\nbreak\\rcr\\ttab" in page.code
    assert "bidi-\\u202egnp.exe" in page.code
    assert "--> <!-- comment" in page.code
    # outputs with markup stay text inside <pre>
    assert any("</pre><script>x()</script>" in t for t in page.text)
    assert "<evil" not in document
    assert "<script" not in document
    # quarantine reasons are escaped too
    assert "flaky OCR upstream <see #311> & retry" in " ".join(page.text)


def test_every_hostile_id_reaches_the_page() -> None:
    sample = make_sample(n=200, hostile=True, history=0)
    page = _parse(render_html(sample.report()))
    shown = set(page.code)
    from mondaytest.evals.report._text import one_line

    for case_id in HOSTILE_IDS:
        assert one_line(case_id) in shown, case_id


def test_huge_flipped_list_is_capped() -> None:
    ids = tuple(f"case-{i:05d}" for i in range(5000))
    check = CheckVerdict("regression:x", CheckKind.REGRESSION, Status.FAIL, "worse")
    verdict = GateVerdict(
        Status.FAIL, (check,), "warn", 5000, 5000, 5000, flipped_to_fail=ids, errored=ids
    )
    run = {"run_id": "r", "suite": "big", "status": "complete"}
    document = render_html(SuiteReport(run, verdict), case_limit=50)
    assert "… and 4,950 more." in document
    assert document.count("<code>case-0") == 100  # 50 flipped + 50 errored
    assert len(document) < 200_000


def test_empty_run_and_ungated_run() -> None:
    from mondaytest.evals.gate import evaluate_gate
    from mondaytest.spec.evals_gate import GateSpec

    run = {"run_id": "e", "suite": "empty", "status": "complete", "counts": {"cases": 0}}
    verdict = evaluate_gate([], None, GateSpec(), today=date(2026, 12, 1))
    document = render_html(SuiteReport(run, verdict))
    page = _parse(document)
    _assert_self_contained(document, page)
    text = " ".join(page.text)
    assert "run unusable" in text
    assert "Exit code 3" in text
    assert "Not available" in text
    assert "No earlier runs were given." in text

    sample = make_sample(n=80, history=0)
    details = collect_details(sample.trials)
    document = render_html(SuiteReport(sample.run, details=details))
    page = _parse(document)
    text = " ".join(page.text)
    assert "NOT GATED" in text
    assert "Failing cases" in text
    assert "checks" not in page.sections

    bare = render_html(SuiteReport({}))
    _parse(bare)
    assert "Eval report · ?" in bare


def test_replay_and_incomplete_runs_are_flagged() -> None:
    sample = make_sample(n=50, history=0, mode="replay")
    text = " ".join(_parse(render_html(sample.report())).text)
    assert "replayed from the recorded cassette" in text
    run = {"run_id": "r", "suite": "s", "status": "aborted", "stopped_reason": "<b>budget</b>"}
    text = " ".join(_parse(render_html(SuiteReport(run))).text)
    assert "aborted" in text
    assert "<b>budget</b>" in text


def test_run_url_only_when_http() -> None:
    sample = make_sample(n=40, history=0)
    bad = render_html(sample.report(run_url="javascript:alert(1)"))
    assert "javascript:" not in bad
    good = render_html(sample.report(run_url="https://ci.example/run/7"))
    assert 'href="https://ci.example/run/7"' in good


def test_write_html(tmp_path: Path) -> None:
    sample = make_sample(n=40, history=0)
    path = write_html(tmp_path / "out" / "report.html", sample.report())
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


# --------------------------------------------------------------------------------------------
# SVG helpers


def test_histogram_svg() -> None:
    hist = Histogram.of([0.1, 0.5, 0.52, 1.0, 1.0], bins=10)
    base = Histogram.of([0.3, 0.9], bins=10)
    svg = histogram_svg(hist, title="<m>&", baseline=base)
    root = ET.fromstring(svg)
    assert root.get("aria-label") == "<m>&: distribution of 5 scores"
    assert len(root.findall("{http://www.w3.org/2000/svg}rect")) == 10
    binary = histogram_svg(Histogram.of([0, 1, 1], bins=10), title="b")
    rects = ET.fromstring(binary).findall("{http://www.w3.org/2000/svg}rect")
    assert len(rects) == 2
    ET.fromstring(histogram_svg(Histogram.empty(20), title="empty"))


def test_interval_and_trend_svg() -> None:
    rows = [
        IntervalRow("<tag>", 0.5, 0.4, 0.6, note="n=10"),
        IntervalRow("mean only", 0.7),
        IntervalRow("nothing", None),
        IntervalRow("outside", 2.0, -1.0, 3.0),
    ]
    svg = interval_svg(rows, title="t", refs=[RefLine(0.5, "all"), RefLine(5.0, "off")])
    root = ET.fromstring(svg)
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "<tag>" in texts
    assert "off" not in texts
    ET.fromstring(interval_svg([], title="empty", domain=(1.0, 1.0)))
    series = [
        Series("rate", [0.8, None, 0.9], [0.7, None, 0.85], [0.9, None, 0.95]),
        Series("<s>", [None, None, None]),
    ]
    root = ET.fromstring(trend_svg(series, ["a", "b", "c"], title="trend"))
    circles = list(root.iter("{http://www.w3.org/2000/svg}circle"))
    assert len(circles) == 2
    ET.fromstring(trend_svg([Series("one", [0.5])], ["only"], title="single"))
    ET.fromstring(trend_svg([], [], title="none"))
