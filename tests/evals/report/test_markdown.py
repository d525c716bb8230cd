"""The PR comment: marker, verdict, checks table, flips, caps, escaping; the step summary."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from tests.evals.report.fixtures import make_sample

from mondaytest.evals.gate_model import (
    CheckKind,
    CheckVerdict,
    GateVerdict,
    QuarantinedCase,
    Status,
)
from mondaytest.evals.report import (
    SuiteReport,
    marker,
    render_markdown,
    render_step_summary,
    write_markdown,
    write_step_summary,
)
from mondaytest.evals.report.markdown import md_code, md_text

markdown_it = pytest.importorskip("markdown_it")


def _html(text: str) -> str:
    """Render as GitHub would (CommonMark + tables); raw HTML passes through, as on GitHub."""
    md = markdown_it.MarkdownIt("commonmark").enable("table").enable("strikethrough")
    return str(md.render(text))


def _table(text: str, header_start: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def _cells(row: str) -> int:
    """Cells of a GFM table row: pipes not escaped with a backslash."""
    return len(re.findall(r"(?<!\\)\|", row)) - 1


def test_marker_first_and_stable() -> None:
    sample = make_sample(n=100, history=0)
    text = render_markdown(sample.report())
    assert text.splitlines()[0] == "<!-- monday-eval-gate:claims-triage -->"
    again = make_sample(n=100, seed=99, history=0)
    assert render_markdown(again.report()).splitlines()[0] == marker("claims-triage")
    assert marker("a --> <b> c") == "<!-- monday-eval-gate:a_--___b__c -->"
    assert "-->" not in marker("x-->")[:-3]


def test_fail_comment_content() -> None:
    sample = make_sample(n=300)
    assert sample.verdict is not None
    assert sample.verdict.status is Status.FAIL
    text = render_markdown(sample.report())
    assert "### ❌ Eval gate `claims-triage` v3: **FAIL**" in text
    assert "> [!CAUTION]" in text
    rows = _table(text, "| | Check |")
    assert len(rows) == 2 + len(sample.verdict.checks)
    assert all(_cells(r) == 9 for r in rows)
    regression = next(r for r in rows if "`regression:label`" in r)
    assert "−0.0" in regression
    assert "[−0." in regression
    assert "drop < 0.02" in regression
    mde = sample.verdict.check("regression:label").mde
    assert mde is not None
    assert f"{mde:.3f}" in regression
    assert "Holm" in regression
    threshold = next(r for r in rows if "`threshold:label`" in r)
    assert "≥ 0.8 (lower95" in threshold
    # flips: pass → fail before fail → pass
    down = text.index("pass → fail:")
    up = text.index("fail → pass:")
    assert down < up
    # quarantined with expiry
    assert "### Quarantined (2)" in text
    assert "2026-12-31" in text
    # provenance
    last = text.strip().splitlines()[-1]
    assert last.startswith("<sub>")
    assert sample.run["run_id"] in last
    assert "commit `3f2a9c1d0e4b`" in last
    assert "contract `sha256:ab12ab12ab12`" in last
    assert "baseline run `20261101T080000Z-claims-triage-0f0f0f`" in last
    assert "gate spec `sha256:" in last
    html = _html(text)
    assert "<table>" in html
    assert "<script" not in html


def test_pass_and_inconclusive_headlines() -> None:
    run = {"run_id": "r", "suite": "s", "status": "complete"}
    check = CheckVerdict("regression:x", CheckKind.REGRESSION, Status.PASS, "fine")
    ok = render_markdown(SuiteReport(run, GateVerdict(Status.PASS, (check,), "warn", 3, 3, 3)))
    assert "✅" in ok
    assert "**PASS**" in ok
    assert "> [!NOTE]" in ok
    assert "### Flipped cases" not in ok  # sections without content are left out
    unsure = CheckVerdict("regression:x", CheckKind.REGRESSION, Status.INCONCLUSIVE, "unsure")
    text = render_markdown(
        SuiteReport(run, GateVerdict(Status.INCONCLUSIVE, (unsure,), "warn", 3, 3, 3))
    )
    assert "⚠️" in text
    assert "**INCONCLUSIVE**" in text
    assert "> [!WARNING]" in text
    assert "does not block" in text


def test_replay_lane_is_said() -> None:
    sample = make_sample(n=60, history=0, mode="replay")
    assert "replayed from the recorded cassette" in render_markdown(sample.report())


def test_hostile_ids_are_inert() -> None:
    sample = make_sample(n=200, hostile=True, history=0)
    text = render_markdown(sample.report())
    html = _html(text)
    assert "<script" not in html
    assert "<evil" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for row in _table(text, "| Case | Now | Why |"):
        assert _cells(row) == 3, row
    assert "\x00" not in text
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert "``pipe\\|`back`tick\\|``" in text  # in the flipped table, pipes escaped
    assert "<code>pipe|`back`tick|</code>" in html
    assert "<!-- comment" not in html.replace("&lt;!-- comment", "")


def test_md_helpers() -> None:
    assert md_text("a <b> *c* [d](e) | @team & `x`") == (
        "a \\<b\\> \\*c\\* \\[d\\](e) \\| @\u200bteam \\& \\`x\\`"
    )
    assert md_code("plain") == "`plain`"
    assert md_code("has `tick`") == "`` has `tick` ``"
    assert md_code("`edge") == "`` `edge ``"
    assert md_code("a|b", table=True) == "`a\\|b`"
    assert md_code("x" * 500).endswith("…`")
    html = _html(md_code("has `tick` and <b>"))
    assert "<code>has `tick` and &lt;b&gt;</code>" in html


def _big_verdict(n: int) -> GateVerdict:
    ids = tuple(f"case-{i:06d}-" + "x" * 60 for i in range(n))
    return GateVerdict(
        status=Status.FAIL,
        checks=(CheckVerdict("regression:x", CheckKind.REGRESSION, Status.FAIL, "worse"),),
        inconclusive="warn",
        n_cases=n,
        n_judged=n,
        n_paired=n,
        flipped_to_fail=ids,
        flipped_to_pass=ids[: n // 2],
        errored=ids,
        added=ids,
        removed=ids,
        quarantined=tuple(QuarantinedCase(i, "r", date(2027, 1, 1), False) for i in ids[:300]),
    )


def test_huge_lists_are_capped() -> None:
    run = {"run_id": "r", "suite": "big", "status": "complete"}
    text = render_markdown(SuiteReport(run, _big_verdict(10_000)), flipped_limit=20)
    assert "**❌ pass → fail: 10000**" in text
    assert "and 9980 more" in text
    assert "… and 280 more." in text  # quarantine table
    assert len(text) < 20_000


def test_size_limit_keeps_the_marker() -> None:
    run = {"run_id": "r", "suite": "big", "status": "complete"}
    text = render_markdown(SuiteReport(run, _big_verdict(2000)), flipped_limit=500, max_chars=9000)
    assert len(text) <= 9000
    assert text.startswith(marker("big"))
    tiny = render_markdown(SuiteReport(run, _big_verdict(2000)), max_chars=300)
    assert len(tiny) <= 300
    assert tiny.startswith(marker("big"))
    assert "cut to fit" in tiny


def test_empty_and_ungated_runs() -> None:
    run = {"run_id": "r", "suite": "s", "status": "aborted", "stopped_reason": "budget"}
    text = render_markdown(SuiteReport(run))
    assert "NOT GATED" in text
    assert "The run is aborted" in text
    assert marker("s") in text


def test_write_markdown_and_step_summary(tmp_path: Path) -> None:
    sample = make_sample(n=50, history=0)
    path = write_markdown(tmp_path / "comment.md", sample.report())
    assert path.read_text(encoding="utf-8").startswith(marker("claims-triage"))
    assert write_step_summary("x", environ={}) is None
    assert write_step_summary("x", environ={"GITHUB_STEP_SUMMARY": "  "}) is None
    summary = tmp_path / "summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    text = render_step_summary([sample.report(), make_sample(n=50, suite="b").report()])
    assert write_step_summary(text, environ=env) == summary
    assert write_step_summary("second", environ=env) == summary
    content = summary.read_text(encoding="utf-8")
    assert content.count("<!-- monday-eval-gate:") == 2
    assert content.endswith("second\n")


def test_step_summary_uses_the_real_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "s.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    assert write_step_summary("hello") == target
    assert target.read_text(encoding="utf-8") == "hello\n"
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    assert write_step_summary("hello") is None
