"""JUnit XML: well-formed whatever the case ids hold, shaped as CI tools read it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pytest
from tests.evals.report.fixtures import HOSTILE_IDS, make_sample

from mondaytest.errors import InputError
from mondaytest.evals.gate_model import (
    CheckKind,
    CheckVerdict,
    GateVerdict,
    QuarantinedCase,
    Status,
)
from mondaytest.evals.report import SuiteReport, render_junit, write_junit

# Characters allowed in an XML 1.0 document.
_XML_CHAR = re.compile("^[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*$")

# Jenkins' junit-10.xsd, the superset CI tools read: element -> (allowed attributes,
# required attributes, allowed children). Counts and times must be numbers.
_SCHEMA: dict[str, tuple[set[str], set[str], set[str]]] = {
    "testsuites": (
        {"name", "time", "tests", "failures", "disabled", "errors", "skipped"},
        set(),
        {"testsuite"},
    ),
    "testsuite": (
        {
            "name",
            "tests",
            "failures",
            "errors",
            "time",
            "disabled",
            "skipped",
            "timestamp",
            "hostname",
            "id",
            "package",
            "file",
            "log",
            "url",
            "version",
        },
        {"name", "tests"},
        {"properties", "testcase", "system-out", "system-err"},
    ),
    "properties": (set(), set(), {"property"}),
    "property": ({"name", "value"}, {"name", "value"}, set()),
    "testcase": (
        {"name", "assertions", "time", "classname", "status", "class", "file", "line"},
        {"name"},
        {"skipped", "error", "failure", "system-out", "system-err"},
    ),
    "skipped": ({"message"}, set(), set()),
    "error": ({"message", "type"}, set(), set()),
    "failure": ({"message", "type"}, set(), set()),
    "system-out": (set(), set(), set()),
    "system-err": (set(), set(), set()),
}
_NUMERIC = {"tests", "failures", "errors", "skipped", "disabled", "assertions"}
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def _validate(root: ET.Element) -> None:
    """Check ``root`` against the junit-10.xsd shape; raise AssertionError naming the problem."""
    assert root.tag == "testsuites"
    stack = [root]
    while stack:
        node = stack.pop()
        assert node.tag in _SCHEMA, f"unexpected element <{node.tag}>"
        allowed, required, children = _SCHEMA[node.tag]
        extra = set(node.attrib) - allowed
        assert not extra, f"<{node.tag}> has attributes {extra}"
        missing = required - set(node.attrib)
        assert not missing, f"<{node.tag}> lacks {missing}"
        for key, value in node.attrib.items():
            if key in _NUMERIC:
                assert value.isdigit(), f"{key}={value!r}"
            if key == "time":
                float(value)
            if key == "timestamp":
                assert _TIMESTAMP.match(value), value
        for child in node:
            assert child.tag in children, f"<{child.tag}> inside <{node.tag}>"
            stack.append(child)
        if node.tag == "testcase":
            outcomes = [c.tag for c in node if c.tag in ("skipped", "error", "failure")]
            assert len(outcomes) <= 1, f"testcase {node.get('name')!r} has {outcomes}"
        if node.tag == "testsuite":
            order = [c.tag for c in node]
            if "properties" in order:
                assert order.index("properties") == 0
            cases = node.findall("testcase")
            assert int(node.get("tests", "-1")) == len(cases)
            for kind, attr in (
                ("failure", "failures"),
                ("error", "errors"),
                ("skipped", "skipped"),
            ):
                count = sum(1 for c in cases if c.find(kind) is not None)
                assert int(node.get(attr, "0")) == count, f"{attr} of {node.get('name')}"
    for attr in ("tests", "failures", "errors", "skipped"):
        total = sum(int(s.get(attr, "0")) for s in root.findall("testsuite"))
        assert int(root.get(attr, "0")) == total


def _parse(text: str) -> ET.Element:
    assert _XML_CHAR.match(text), "a character XML 1.0 cannot carry"
    root = ET.fromstring(text.encode("utf-8"))
    _validate(root)
    return root


def _cases(root: ET.Element, classname_suffix: str) -> dict[str, ET.Element]:
    return {
        c.get("name", ""): c
        for c in root.iter("testcase")
        if c.get("classname", "").endswith(classname_suffix)
    }


def test_gate_checks_and_notable_cases() -> None:
    sample = make_sample(n=300)
    assert sample.verdict is not None
    root = _parse(render_junit(sample.report()))
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("name") == "claims-triage"
    checks = _cases(root, ".gate")
    assert list(checks) == [c.name for c in sample.verdict.checks]
    for check in sample.verdict.checks:
        node = checks[check.name]
        if check.status is Status.PASS:
            assert node.find("failure") is None
            assert node.find("error") is None
            out = node.find("system-out")
            assert out is not None
            assert check.reason in (out.text or "")
        elif check.harness:
            assert node.find("error") is not None
        else:
            failure = node.find("failure")
            assert failure is not None
            assert failure.get("type") == check.kind.value
    regression = checks["regression:label"].find("failure")
    assert regression is not None
    body = regression.text or ""
    assert "95% CI: [" in body
    assert "MDE: " in body
    assert "threshold: drop < 0.02" in body
    cases = _cases(root, ".cases")
    for case_id in sample.verdict.flipped_to_fail:
        failure = cases[case_id].find("failure")
        assert failure is not None
        assert failure.get("type") in ("flipped", "required")
    flipped = cases[sample.verdict.flipped_to_fail[-1]].find("failure")
    assert flipped is not None
    assert "expected" in (flipped.get("message") or "")
    for case_id in sample.verdict.errored:
        assert cases[case_id].find("error") is not None
    for q in sample.verdict.quarantined:
        skipped = cases[q.id].find("skipped")
        assert skipped is not None
        assert q.expires.isoformat() in (skipped.get("message") or "")
    for case_id in sample.verdict.flipped_to_pass:
        node = cases[case_id]
        assert node.find("failure") is None
        assert node.find("system-out") is not None


def test_properties_carry_provenance() -> None:
    sample = make_sample(n=120, history=0)
    assert sample.verdict is not None
    assert sample.baseline is not None
    root = _parse(render_junit(sample.report(run_url="https://ci.example/run/9")))
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["monday.run_id"] == sample.run["run_id"]
    assert props["monday.spec_digest"] == sample.run["provenance"]["spec"]["digest"]
    assert props["monday.git_commit"] == sample.run["provenance"]["git"]["commit"]
    assert props["monday.baseline_run_id"] == sample.baseline.run_id
    assert props["monday.input.candidate"] == sample.verdict.inputs["candidate"]
    assert props["monday.input.gate_spec"] == sample.verdict.inputs["gate_spec"]
    assert props["monday.exit_code"] == str(sample.verdict.exit_code())
    assert props["monday.run_url"] == "https://ci.example/run/9"
    assert props["label.pr"] == "412"
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("timestamp") == "2026-11-30T09:00:00"


def test_hostile_case_ids_stay_well_formed_and_readable() -> None:
    sample = make_sample(n=200, hostile=True, history=0)
    text = render_junit(sample.report())
    root = _parse(text)
    names = {c.get("name") for c in root.iter("testcase")}
    assert "<script>alert(1)</script>" in names
    assert "]]><evil/>" in names
    assert "ctl-\\x00\\x01\\x1b[31m-\\x7f\\x85" in names
    assert "line\\nbreak\\rcr\\ttab" in names
    assert "bidi-\\u202egnp.exe" in names
    assert "<script>" not in text
    assert "<evil/>" not in text
    # outputs carrying markup reach the body as text, not as elements
    bodies = " ".join(f.text or "" for f in root.iter("failure"))
    assert "</pre><script>x()</script>" in bodies


def _verdict_with(ids: list[str], n_flips: int = 0) -> GateVerdict:
    flips = tuple(f"flip-{i:05d}" for i in range(n_flips))
    return GateVerdict(
        status=Status.FAIL,
        checks=(
            CheckVerdict(
                "regression:x\x00<y>",
                CheckKind.REGRESSION,
                Status.FAIL,
                "reason with ]]> and \ud800 and \x1b",
                cases=tuple(ids),
            ),
            CheckVerdict(
                "required", CheckKind.REQUIRED, Status.FAIL, "required failed", cases=tuple(ids)
            ),
        ),
        inconclusive="warn",
        n_cases=len(ids) + n_flips,
        n_judged=len(ids) + n_flips,
        n_paired=len(ids) + n_flips,
        flipped_to_fail=(*ids, *flips),
        quarantined=tuple(
            QuarantinedCase(i, "reason \x0c <b>", date(2026, 12, 31), None) for i in ids
        ),
        notes=("note \x01",),
        inputs={"candidate": "sha256:" + "0" * 64, "baseline": None},
    )


def test_lone_surrogates_and_controls_in_hand_built_verdicts() -> None:
    ids = ["lone-\ud800-surrogate", "\ufffe\uffff", "nul\x00"]
    run = {"run_id": "r\x00", "suite": "s<u>\"ite'", "status": "complete", "duration_s": 1}
    text = render_junit(SuiteReport(run, _verdict_with(ids)))
    text.encode("utf-8")  # no lone surrogate survives
    root = _parse(text)
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("name") == "s<u>\"ite'"
    names = {c.get("name") for c in root.iter("testcase")}
    assert "lone-\\ud800-surrogate" in names
    assert "\\ufffe\\uffff" in names


def test_huge_flipped_list_is_capped_with_a_count() -> None:
    run = {"run_id": "r", "suite": "big", "status": "complete"}
    verdict = _verdict_with([], n_flips=5000)
    root = _parse(render_junit(SuiteReport(run, verdict), case_limit=100))
    cases = _cases(root, ".cases")
    assert len(cases) == 101
    summary = cases["… and 4900 more pass → fail cases"]
    failure = summary.find("failure")
    assert failure is not None
    assert "4900" in (failure.get("message") or "")


def test_inconclusive_is_skipped_under_warn_and_failure_when_blocking() -> None:
    check = CheckVerdict("regression:x", CheckKind.REGRESSION, Status.INCONCLUSIVE, "unsure")
    run = {"run_id": "r", "suite": "s", "status": "complete"}

    def verdict(policy: str) -> GateVerdict:
        return GateVerdict(Status.INCONCLUSIVE, (check,), policy, 5, 5, 5)

    warn = _parse(render_junit(SuiteReport(run, verdict("warn"))))
    node = _cases(warn, ".gate")["regression:x"]
    skipped = node.find("skipped")
    assert skipped is not None
    assert "does not block" in (skipped.get("message") or "")
    for report in (
        SuiteReport(run, verdict("fail")),
        SuiteReport(run, verdict("warn"), strict=True),
    ):
        node = _cases(_parse(render_junit(report)), ".gate")["regression:x"]
        failure = node.find("failure")
        assert failure is not None
        assert failure.get("type") == "inconclusive"


def test_several_suites_one_document() -> None:
    a = make_sample(n=60, suite="alpha", history=0).report()
    b = make_sample(n=60, suite="beta", seed=5, history=0).report()
    root = _parse(render_junit([a, b]))
    assert [s.get("name") for s in root.findall("testsuite")] == ["alpha", "beta"]


def test_ungated_runs() -> None:
    sample = make_sample(n=80, history=0)
    report = SuiteReport(sample.run, details=sample.report().details)
    root = _parse(render_junit(report, case_limit=5))
    cases = _cases(root, ".cases")
    assert len(cases) == 6  # five failing cases and a count of the rest
    assert any(name.startswith("… and") for name in cases)
    run_case = _cases(root, ".run")["run"]
    assert run_case.find("error") is None
    empty = {"run_id": "e", "suite": "empty", "status": "complete", "counts": {"trials": 0}}
    node = _cases(_parse(render_junit(SuiteReport(empty))), ".run")["run"]
    error = node.find("error")
    assert error is not None
    assert "no trials" in (error.get("message") or "")
    aborted = {"run_id": "a", "suite": "s", "status": "aborted", "stopped_reason": "budget <x>"}
    node = _cases(_parse(render_junit(SuiteReport(aborted))), ".run")["run"]
    error = node.find("error")
    assert error is not None
    assert error.get("message") == "run aborted: budget <x>"


def test_zero_case_gate() -> None:
    from mondaytest.evals.gate import evaluate_gate
    from mondaytest.spec.evals_gate import GateSpec

    verdict = evaluate_gate([], None, GateSpec(), today=date(2026, 12, 1))
    run = {"run_id": "e", "suite": "empty", "status": "complete", "counts": {"cases": 0}}
    root = _parse(render_junit(SuiteReport(run, verdict)))
    node = _cases(root, ".gate")["run:cases"]
    error = node.find("error")
    assert error is not None
    assert error.get("type") == "harness"


def test_write_junit(tmp_path: Path) -> None:
    sample = make_sample(n=40, history=0)
    path = write_junit(tmp_path / "reports" / "nested" / "junit.xml", sample.report())
    _parse(path.read_text(encoding="utf-8"))
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(InputError, match="cannot write"):
        write_junit(tmp_path / "reports", sample.report())  # a directory


def test_hostile_ids_fixture_is_what_it_claims() -> None:
    assert any("\x00" in i for i in HOSTILE_IDS)
    assert any("]]>" in i for i in HOSTILE_IDS)
