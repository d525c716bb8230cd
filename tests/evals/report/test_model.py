"""Report inputs: tolerant run.json views, streamed trial details, the headline, text helpers."""

from __future__ import annotations

from typing import Any

import pytest
from tests.evals.report.fixtures import make_sample

from mondaytest.evals.gate_model import CheckKind, CheckVerdict, GateVerdict, Status
from mondaytest.evals.report import RunView, SuiteReport, collect_details, focus_ids, headline
from mondaytest.evals.report._text import (
    fmt_ci,
    fmt_delta,
    fmt_ms,
    fmt_p,
    fmt_pct,
    fmt_score,
    one_line,
    printable,
    short_digest,
    shorten,
)


def _trial(case: str, passed: bool | None, **kw: Any) -> dict[str, Any]:
    value = None if passed is None else (1.0 if passed else 0.0)
    trial: dict[str, Any] = {
        "case": case,
        "epoch": kw.pop("epoch", 0),
        "status": kw.pop("status", "ok"),
        "passed": passed,
        "scores": kw.pop("scores", {"label": {"value": value, "passed": passed}}),
    }
    trial.update(kw)
    return trial


# --------------------------------------------------------------------------------------------
# text helpers


def test_printable_keeps_lines_and_escapes_what_no_format_carries() -> None:
    text = "a\tb\nc\rd\x00e\x1bf\x7fg\x85h\ud800i\ufffej"
    assert printable(text) == "a\tb\nc\rd\\x00e\\x1bf\\x7fg\\x85h\\ud800i\\ufffej"


def test_one_line_escapes_breaks_and_bidi_overrides() -> None:
    assert one_line("a\nb\tc\rd") == "a\\nb\\tc\\rd"
    assert one_line("bidi-\u202egnp.exe\u2066") == "bidi-\\u202egnp.exe\\u2066"
    assert one_line("plain <b>&") == "plain <b>&"


def test_number_formats() -> None:
    assert fmt_score(0.91234) == "0.912"
    assert fmt_score(None) == "—"
    assert fmt_score(float("nan")) == "—"
    assert fmt_delta(-0.0412) == "−0.041"
    assert fmt_delta(0.05) == "+0.050"
    assert fmt_delta(-0.0001) == "+0.000"
    assert fmt_ci(-0.06, 0.01, signed=True) == "[−0.060, +0.010]"
    assert fmt_ci(None, 0.3) == "—"
    assert fmt_p(0.0004) == "0.0004"
    assert fmt_p(0.0412) == "0.041"
    assert fmt_pct(0.975) == "97.5 %"
    assert fmt_ms(1234.5) == "1,234 ms"
    assert fmt_ms(0.42) == "0.42 ms"
    assert fmt_ms(None) == "—"
    assert short_digest("sha256:" + "a" * 64) == "sha256:aaaaaaaaaaaa"
    assert short_digest(None) is None
    assert shorten("abcdef", 4) == "abc…"
    assert shorten("abc", 4) == "abc"


# --------------------------------------------------------------------------------------------
# RunView


def test_run_view_reads_a_real_summary() -> None:
    sample = make_sample(n=80, history=0)
    view = RunView(sample.run)
    assert view.id == sample.run["run_id"]
    assert view.suite == "claims-triage"
    assert view.cases == 80
    assert view.spec_digest is not None
    assert view.spec_digest.startswith("sha256:")
    assert view.git_commit is not None
    assert view.mode == "live"
    names = [m.name for m in view.metrics]
    assert names == ["label", "grounded"]
    label = view.metrics[0]
    assert label.overall.judged == (label.overall.passed or 0) + (label.overall.failed or 0)
    assert "motor" in label.by_tag or "home" in label.by_tag


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"run_id": 5, "counts": "junk", "metrics": [1, 2], "provenance": {"git": None}},
        {"counts": {"passed": "3", "failed": 1.0, "trials": True}, "latency_ms": {"p95": "nan"}},
        {"metrics": {"m": {"by_tag": {"t": None}, "mean": "0.5"}}},
    ],
)
def test_run_view_tolerates_missing_and_odd_fields(data: dict[str, Any]) -> None:
    view = RunView(data)
    assert isinstance(view.id, str)
    _ = (view.cases, view.trials, view.errors, view.pass_rate, view.latency("p95"))
    _ = (view.git_commit, view.git_dirty, view.spec_digest, view.mode, view.labels)
    for metric in view.metrics:
        assert metric.overall.judged >= 0


def test_pass_rate_falls_back_to_counts() -> None:
    assert RunView({"counts": {"passed": 3, "failed": 1}}).pass_rate == 0.75
    assert RunView({"counts": {"passed": 0, "failed": 0}}).pass_rate is None


# --------------------------------------------------------------------------------------------
# collect_details


def test_collect_details_histograms_and_binary_detection() -> None:
    trials = [
        _trial("a", True, scores={"x": {"value": 1.0}, "y": {"value": 0.25}}),
        _trial("b", False, scores={"x": {"value": 0.0}, "y": {"value": 1.0}}),
        _trial("c", None, status="error", scores={}, error="boom"),
        _trial("d", True, scores={"x": {"value": 1.0}, "y": {"value": None}}),
        _trial("e", None, status="score_error", scores={"x": {"value": None, "error": "bad"}}),
    ]
    details = collect_details(trials, bins=4)
    assert details.trials == 5
    assert details.histograms["x"].binary is True
    assert (details.histograms["x"].zeros, details.histograms["x"].ones) == (1, 2)
    assert details.histograms["y"].binary is False
    assert details.histograms["y"].counts == [0, 1, 0, 1]
    assert details.failing == ["b", "c", "e"]
    assert details.failing_total == 3


def test_collect_details_keeps_focus_and_caps_failing() -> None:
    trials = [_trial(f"f{i}", False) for i in range(50)] + [_trial("ok", True)]
    details = collect_details(trials, focus=["ok", "f3"], failing_limit=5)
    assert details.failing == ["f0", "f1", "f2", "f4", "f5"]
    assert details.failing_total == 50
    assert set(details.cases) == {"ok", "f3", "f0", "f1", "f2", "f4", "f5"}
    assert details.cases["ok"].outcome == "pass"


def test_collect_details_merges_epochs_and_keeps_the_failing_output() -> None:
    trials = [
        _trial("c", True, epoch=0, output="fine"),
        _trial(
            "c",
            False,
            epoch=1,
            output={"text": "bad\x00<b>" + "x" * 5000},
            scores={"label": {"value": 0.0, "passed": False, "reason": "wrong\nlabel"}},
        ),
        _trial("c", True, epoch=2, output="fine again"),
    ]
    detail = collect_details(trials, focus=["c"], output_chars=100).cases["c"]
    assert (detail.trials, detail.passed, detail.failed) == (3, 2, 1)
    assert detail.outcome == "flaky"
    assert detail.output is not None
    assert detail.output.startswith('{"text": "bad\\u0000<b>')  # JSON escapes it
    assert len(detail.output) == 100
    assert detail.output.endswith("…")
    assert detail.reasons == {"label": "wrong\nlabel"}
    assert "label: wrong" in detail.why()


def test_collect_details_error_and_label_reason() -> None:
    trials = [
        _trial("e", None, status="error", scores={}, error="Timeout\x07 after 30 s"),
        _trial(
            "l",
            False,
            scores={"label": {"value": 0.0, "passed": False, "label": "a", "expected_label": "b"}},
        ),
    ]
    details = collect_details(trials, focus=["e", "l"])
    assert details.cases["e"].outcome == "error"
    assert details.cases["e"].why() == "Timeout\\x07 after 30 s"
    assert details.cases["l"].why() == "label: got 'a', expected 'b'"


def test_collect_details_of_nothing() -> None:
    details = collect_details([])
    assert details.trials == 0
    assert details.histograms == {}
    assert details.cases == {}


# --------------------------------------------------------------------------------------------
# headline and focus


def _verdict(status: Status, *checks: CheckVerdict, policy: str = "warn") -> GateVerdict:
    return GateVerdict(
        status=status,
        checks=checks,
        inconclusive=policy,
        n_cases=10,
        n_judged=10,
        n_paired=10,
        flipped_to_fail=("a", "b"),
        flipped_to_pass=("c",),
        errored=("e",),
    )


def _check(status: Status, name: str = "regression:x", harness: bool = False) -> CheckVerdict:
    return CheckVerdict(name, CheckKind.REGRESSION, status, "because", harness=harness)


def test_headline_per_status() -> None:
    run = {"run_id": "r", "suite": "s", "status": "complete"}
    ok = headline(SuiteReport(run, _verdict(Status.PASS, _check(Status.PASS))))
    assert (ok.label, ok.emoji, ok.alert) == ("PASS", "✅", "NOTE")
    bad = headline(SuiteReport(run, _verdict(Status.FAIL, _check(Status.FAIL))))
    assert (bad.label, bad.emoji, bad.alert) == ("FAIL", "❌", "CAUTION")
    assert "Exit code 1" in bad.sentence
    broken = headline(SuiteReport(run, _verdict(Status.FAIL, _check(Status.FAIL, harness=True))))
    assert "Exit code 3" in broken.sentence
    assert "cannot be judged" in broken.sentence
    unsure = _verdict(Status.INCONCLUSIVE, _check(Status.INCONCLUSIVE))
    warn = headline(SuiteReport(run, unsure))
    assert (warn.label, warn.emoji) == ("INCONCLUSIVE", "⚠️")
    assert "does not block" in warn.sentence
    assert "Exit code 0" in warn.sentence
    strict = headline(SuiteReport(run, unsure, strict=True))
    assert "blocks the merge" in strict.sentence
    assert "--strict" in strict.sentence
    assert "Exit code 1" in strict.sentence
    none = headline(SuiteReport(run))
    assert none.label == "NOT GATED"


def test_focus_ids_orders_and_dedupes() -> None:
    verdict = _verdict(Status.FAIL, _check(Status.FAIL))
    assert focus_ids(verdict) == ["a", "b", "c", "e"]
    assert focus_ids(verdict, limit=1) == ["a", "c", "e"]
    assert focus_ids(None) == []
