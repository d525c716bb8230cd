"""The gate orchestration called directly (no CLI): one suite, every suite, reports, evidence."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import VALID_SPEC, write_project
from tests.evals.evalkit import Project

from mondaytest.errors import CheckFailed, ConfigError, HarnessError, InputError
from mondaytest.evals.gate_run import (
    AllSuitesGate,
    GateRequest,
    SuiteGate,
    all_suite_names,
    gate_all_suites,
    gate_suite,
)
from mondaytest.evals.report.files import ci_run_url, run_history, write_reports
from mondaytest.evals.runner import (
    RunObserver,
    RunOptions,
    RunResult,
    SuiteRef,
    run_suite_interruptible,
)
from mondaytest.evals.runs import list_runs, read_run
from mondaytest.evals.suites import suite_from_spec
from mondaytest.spec import load_spec
from mondaytest.spec.loader import LoadedSpec

SUITE = (
    "    {name}:\n"
    "      dataset: evals/{dataset}\n"
    '      target: {{python: "app:predict"}}\n'
    "      scorers: [{{name: label, kind: exact}}]\n"
    "      retry_backoff_s: 0\n"
    "      cache: off\n"
    "{gate}"
)
"""One suite of the contract: ``app:predict`` over the 20 cases, scored by exact match."""

TRIAGE = "    triage:\n      dataset: evals/triage.jsonl\n"


def _spec(root: Path, suites: dict[str, str], datasets: dict[str, str] | None = None) -> Path:
    """A contract whose suites are ``suites`` (name → gate block), in that order, each reading
    ``evals/cases.jsonl`` unless ``datasets`` names another file."""
    block = "".join(
        SUITE.format(name=n, gate=g, dataset=(datasets or {}).get(n, "cases.jsonl"))
        for n, g in suites.items()
    )
    start = VALID_SPEC.index(TRIAGE)
    end = VALID_SPEC.index("audit:\n")
    head = VALID_SPEC[:start] if suites else VALID_SPEC[:start].replace("suites:", "suites: {}")
    spec = write_project(root, head + block + VALID_SPEC[end:])
    (root / "app.py").write_text(
        "import os\n"
        "def predict(x):\n"
        "    if x == int(os.environ.get('BREAK', '-1')):\n"
        "        raise RuntimeError('broken')\n"
        "    return x if x % int(os.environ.get('EVERY', '1000')) else -x\n"
    )
    rows = [{"id": f"c{i}", "input": i, "expected": i} for i in range(1, 21)]
    (root / "evals" / "cases.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return spec


@pytest.fixture
def project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project directory; the app module it imports is forgotten afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    yield tmp_path
    sys.modules.pop("app", None)
    while str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


LENIENT = "      gate: {thresholds: {label: {min: 0.5, bound: point}}}\n"
"""Passes when at least half the cases pass."""
EXACTING = "      gate: {thresholds: {label: {min: 0.99, bound: point}}}\n"
"""Fails as soon as one case fails."""
REGRESSION = "      gate: {regression: {metrics: [label], margin: 0.05, alpha: 0.05}}\n"
"""Needs a baseline."""


def _loaded(
    root: Path, suites: dict[str, str], datasets: dict[str, str] | None = None
) -> LoadedSpec:
    return load_spec(_spec(root, suites, datasets))


class Recorder:
    """A :class:`~mondaytest.evals.gate_run.GateObserver` that writes down what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def run_observer(self, suite: SuiteRef) -> RunObserver | None:
        self.events.append(("run", suite.name))
        return None

    def run_finished(self, result: RunResult) -> None:
        self.events.append(("ran", str(result.data["suite"])))

    def suite_started(self, name: str) -> None:
        self.events.append(("start", name))

    def suite_finished(self, gate: SuiteGate) -> None:
        self.events.append(("end", f"{gate.suite}:{gate.exit_code}"))


# ------------------------------------------------------------------------------------ every suite


def test_all_suites_where_one_fails_gives_the_failing_verdict_and_both_results(
    project_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVERY", "10")  # c10 and c20 fail: 90 % pass
    loaded = _loaded(project_root, {"lenient": LENIENT, "exacting": EXACTING})
    seen = Recorder()
    gated = gate_all_suites(loaded, GateRequest(record_evidence=False), seen)
    assert isinstance(gated, AllSuitesGate)
    assert list(gated.suites) == ["lenient", "exacting"]
    assert gated.exit_codes == {"lenient": 0, "exacting": 1}
    assert gated.exit_code == 1
    lenient, exacting = gated.suites["lenient"], gated.suites["exacting"]
    assert lenient.result is not None
    assert lenient.result.verdict.status.value == "pass"
    assert exacting.result is not None
    assert exacting.result.verdict.status.value == "fail"
    assert exacting.message() == "gate fail: threshold:label"
    assert seen.events == [
        ("start", "lenient"),
        ("run", "lenient"),
        ("ran", "lenient"),
        ("end", "lenient:0"),
        ("start", "exacting"),
        ("run", "exacting"),
        ("ran", "exacting"),
        ("end", "exacting:1"),
    ]
    data = gated.to_json()
    assert data["exit_code"] == 1
    assert data["exit_codes"] == {"lenient": 0, "exacting": 1}
    assert data["suites"]["exacting"]["verdict"]["status"] == "fail"
    assert data["suites"]["lenient"]["audit_idx"] is None
    assert data["suites"]["lenient"]["schema"] == "monday.eval.gate-result/1"
    # each suite's verdict is written beside its own run
    for name in ("lenient", "exacting"):
        (run,) = list_runs(project_root, name)
        assert json.loads((run.dir / "gate.json").read_text())["suite"] == name
    with pytest.raises(CheckFailed, match="gate fail: threshold:label"):
        exacting.raise_for_exit_code()
    lenient.raise_for_exit_code()  # exit 0: nothing to raise


def test_a_suite_that_cannot_be_gated_does_not_hide_the_others(
    project_root: Path,
) -> None:
    (project_root / "evals").mkdir()
    (project_root / "evals" / "bad.jsonl").write_text('{"id": "\\ud800", "input": 1}\n')
    loaded = _loaded(project_root, {"broken": LENIENT, "lenient": LENIENT}, {"broken": "bad.jsonl"})
    seen = Recorder()
    gated = gate_all_suites(loaded, GateRequest(record_evidence=False), seen)
    assert gated.exit_codes == {"broken": 2, "lenient": 0}
    assert gated.exit_code == 2
    broken = gated.suites["broken"]
    assert broken.result is None
    assert broken.error is not None
    assert broken.to_json() == {"suite": "broken", "error": str(broken.error), "exit_code": 2}
    assert broken.message() == f"suite broken: {broken.error}"
    assert ("end", "broken:2") in seen.events
    assert ("end", "lenient:0") in seen.events
    with pytest.raises(type(broken.error)):
        broken.raise_for_exit_code()
    with pytest.raises(InputError, match=r"bad\.jsonl:1"):
        gate_all_suites(loaded, GateRequest(record_evidence=False), reraise=True)


def test_all_suites_refuses_what_names_one_suite_before_running_anything(
    project_root: Path,
) -> None:
    loaded = _loaded(project_root, {"a": LENIENT, "b": LENIENT})
    with pytest.raises(InputError, match="--run names one suite's run"):
        all_suite_names(loaded, GateRequest(run_ref="latest"))
    with pytest.raises(InputError, match="--baseline names one suite's"):
        all_suite_names(loaded, GateRequest(baseline=Path("b.json")))
    with pytest.raises(InputError, match="each suite writes its own file") as err:
        gate_all_suites(loaded, GateRequest(html=Path("out/r.html")))
    assert err.value.hint == "put {suite} in the path, e.g. --html reports/{suite}.html"
    assert list_runs(project_root) == []
    assert all_suite_names(loaded, GateRequest(junit=Path("r/{suite}.xml"))) == ["a", "b"]
    one = _loaded(project_root / "one", {"only": LENIENT})
    assert all_suite_names(one, GateRequest(junit=Path("j.xml"))) == ["only"]


def test_no_suites_is_a_contract_error(project_root: Path) -> None:
    loaded = _loaded(project_root, {})
    with pytest.raises(ConfigError, match="zero suites never pass"):
        gate_all_suites(loaded, GateRequest())


def test_report_paths_are_per_suite(project_root: Path) -> None:
    loaded = _loaded(project_root, {"a": LENIENT, "b": EXACTING})
    request = GateRequest(
        junit=project_root / "r" / "{suite}.xml",
        comment_out=project_root / "r" / "{suite}.md",
        record_evidence=False,
    )
    assert request.for_suite("a").junit == project_root / "r" / "a.xml"
    assert request.for_suite("a").comment_out == project_root / "r" / "a.md"
    assert request.for_suite("a").html is None
    gated = gate_all_suites(loaded, request)
    assert gated.suites["a"].written == [project_root / "r" / "a.xml", project_root / "r" / "a.md"]
    assert sorted(p.name for p in (project_root / "r").iterdir()) == [
        "a.md",
        "a.xml",
        "b.md",
        "b.xml",
    ]
    assert (project_root / "r" / "b.md").read_text().startswith("<!-- monday-eval-gate:b -->")


# ------------------------------------------------------------------------------------ one suite


def test_one_suite_without_a_baseline_is_unusable_not_worse(project_root: Path) -> None:
    loaded = _loaded(project_root, {"triage": REGRESSION})
    ref = suite_from_spec(loaded, "triage")
    gate = gate_suite(loaded, ref, GateRequest(record_evidence=False))
    assert gate.exit_code == 3
    assert gate.message() == "gate fail: the run or its baseline is unusable (run:baseline)"
    with pytest.raises(HarnessError, match="unusable") as err:
        gate.raise_for_exit_code()
    assert err.value.hint == "see the checks above; this is not a verdict on quality"


def test_one_suite_judges_an_existing_run_without_running(project_root: Path) -> None:
    loaded = _loaded(project_root, {"triage": LENIENT})
    ref = suite_from_spec(loaded, "triage")
    first = gate_suite(loaded, ref, GateRequest(record_evidence=False))
    assert first.result is not None
    seen = Recorder()
    again = gate_suite(loaded, ref, GateRequest(run_ref="latest", record_evidence=False), seen)
    assert seen.events == []  # nothing ran
    assert again.result is not None
    assert again.result.run.id == first.result.run.id
    assert len(list_runs(project_root, "triage")) == 1


def test_an_unusable_run_is_raised_after_the_observer_saw_it(
    project_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BREAK", "3")  # c3 errors: 1 of 20 trials, over a 1 % error budget
    loaded = _loaded(project_root, {"triage": "      error_budget: 0.01\n" + LENIENT})
    seen = Recorder()
    with pytest.raises(HarnessError, match="aborted"):
        gate_suite(loaded, suite_from_spec(loaded, "triage"), GateRequest(), seen)
    assert seen.events == [("run", "triage"), ("ran", "triage")]
    (run,) = list_runs(project_root, "triage")
    assert not (run.dir / "gate.json").exists()


def test_evidence_is_skipped_and_said_without_an_audit_log(project_root: Path) -> None:
    loaded = _loaded(project_root, {"triage": LENIENT})
    ref = suite_from_spec(loaded, "triage")
    asked = gate_suite(loaded, ref, GateRequest(run_ref=None))
    assert asked.audit_skipped is True
    assert asked.audit_idx is None
    not_asked = gate_suite(loaded, ref, GateRequest(run_ref="latest", record_evidence=False))
    assert not_asked.audit_skipped is False
    assert not_asked.to_json()["audit_idx"] is None


# ------------------------------------------------------------------------------------ reports


def test_write_reports_with_history_and_ci_link(
    evproj: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    older = read_run(evproj.run().dir)
    evproj.run("other")
    latest = read_run(evproj.run().dir)
    assert write_reports(latest, None) == []
    assert [h["run_id"] for h in run_history(latest)] == [older.id]
    assert run_history(older) == [latest.data]
    assert [h["run_id"] for h in run_history(latest, limit=0)] == []
    env = {"GITHUB_SERVER_URL": "https://gh", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "7"}
    assert ci_run_url(env) == "https://gh/o/r/actions/runs/7"
    assert ci_run_url({}) is None
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    out = evproj.root / "out"
    written = write_reports(latest, None, markdown=out / "r.md", junit=out / "r.xml")
    assert written == [out / "r.xml", out / "r.md"]
    assert "https://gh/o/r/actions/runs/7" in (out / "r.md").read_text()
    summary = evproj.root / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert write_reports(latest, None, step_summary=True, run_url="https://x") == [summary]
    assert "https://x" in summary.read_text()


# ------------------------------------------------------------------------------------ interrupts


class _Interrupting:
    """A run observer whose ``started`` is interrupted (Ctrl-C at the wrong moment)."""

    def __init__(self) -> None:
        self.finished_with: list[dict[str, Any]] = []

    def started(self, run_id: str, suite: str, total: int, done: int) -> None:
        raise KeyboardInterrupt

    def progress(self, done: int, errors: int, passed: int, failed: int) -> None:
        pass

    def finished(self, data: dict[str, Any]) -> None:
        self.finished_with.append(data)


def test_an_interrupted_run_says_how_to_resume_it(evproj: Project) -> None:
    observer = _Interrupting()
    with pytest.raises(HarnessError, match="interrupted; its finished trials are kept") as err:
        run_suite_interruptible(evproj.suite(), RunOptions(), observer)
    (run,) = list_runs(evproj.root)
    assert str(err.value).startswith(f"run {run.id} ")
    assert err.value.hint == f"continue it with `monday eval run s --resume {run.id}`"
    assert observer.finished_with == [{}]
    assert run_suite_interruptible(evproj.suite()).status == "complete"
