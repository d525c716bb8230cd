"""The gate wired to runs: case outcomes, baselines, comparability, exit codes, planning."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from tests.conftest import VALID_SPEC, write_project
from tests.evals.evalkit import Project

from mondaytest.cli.app import main
from mondaytest.errors import InputError
from mondaytest.evals.casesum import summarize_cases
from mondaytest.evals.compare import NotComparableError
from mondaytest.evals.gating import (
    bless_run,
    case_outcomes,
    fingerprint_text,
    gate_run,
    parse_fingerprint,
    plan_suite,
)
from mondaytest.evals.runs import read_run

GATE = """
      retry_backoff_s: 0
      gate:
        required: {tags: [critical]}
        thresholds: {label: {min: 0.5, bound: lower95}}
        regression: {metrics: [label], margin: 0.05, alpha: 0.05}
        budgets: {error_rate: {max: 0.1}}
"""


def test_case_outcomes_fold_epochs(evproj: Project) -> None:
    evproj.write(
        "alt.py",
        """
        import itertools
        _n = itertools.count()
        def predict(x):
            return x.upper() if x != "w-1" or next(_n) % 2 else x
        """,
    )
    run = read_run(evproj.run(target={"python": "alt:predict"}, epochs=2, concurrency=1).dir)
    outcomes = {o.id: o for o in case_outcomes(summarize_cases(run))}
    assert len(outcomes) == 20
    assert outcomes["c1"].passed is False
    assert outcomes["c1"].scores["exact"] == 0.5
    assert outcomes["c2"].passed is True
    assert outcomes["c2"].scores["exact"] == 1.0
    assert outcomes["c0"].tags == ("critical",)


def test_fingerprint_text_round_trip(evproj: Project) -> None:
    run = read_run(evproj.run().dir)
    text = fingerprint_text(run)
    parts = parse_fingerprint(text)
    assert text.startswith("monday-fp/1 ")
    assert parts["suite"] == "s"
    assert parts["version"] == "1"
    assert len(parts["scorer.exact"]) == 16
    assert parse_fingerprint("sha256:abc") == {}


def test_bless_and_gate_in_process(evproj: Project) -> None:
    suite = evproj.suite(
        gate={
            "regression": {"metrics": ["exact"], "margin": 0.05},
            "thresholds": {"exact": {"min": 0.3}},
        }
    )
    good = read_run(evproj.run(gate=suite.spec.gate.model_dump()).dir)
    baseline, path = bless_run(suite, good)
    assert path == evproj.root / "evals" / "baselines" / "s.json"
    assert len(baseline.outcomes) == 20
    assert baseline.fingerprint == fingerprint_text(good)
    bad_suite = evproj.suite(
        target={"python": "app:wrong_on_odd"}, gate=suite.spec.gate.model_dump()
    )
    from mondaytest.evals.runner import run_suite

    bad = read_run(run_suite(bad_suite).dir)
    result = gate_run(bad_suite, bad)
    v = result.verdict
    assert v.status.value == "fail"
    assert v.exit_code() == 1
    assert v.check("required").status.value == "fail"
    assert v.check("regression:exact").status.value == "fail"
    assert len(v.flipped_to_fail) == 10
    assert v.n_paired == 20
    saved = json.loads((bad.dir / "gate.json").read_text())
    assert saved["verdict"]["status"] == "fail"
    assert saved["baseline"]["run_id"] == good.id
    assert saved["verdict"]["inputs"]["baseline"] == baseline.digest()


def test_bless_refuses_unfinished_runs(evproj: Project) -> None:
    run = evproj.run(target={"python": "app:boom"}, error_budget=0.0)
    with pytest.raises(InputError, match="only a complete run can be blessed"):
        bless_run(evproj.suite(), read_run(run.dir))


def test_baseline_comparability(evproj: Project) -> None:
    gate = {"regression": {"metrics": ["exact"], "margin": 0.05}}
    suite = evproj.suite(gate=gate)
    bless_run(suite, read_run(evproj.run(gate=gate).dir))
    v2 = evproj.suite(gate=gate, version=2)
    from mondaytest.evals.runner import run_suite

    with pytest.raises(NotComparableError, match=r"suite version 1 \(baseline\) vs 2"):
        gate_run(v2, read_run(run_suite(v2).dir))
    other = evproj.suite(gate=gate, scorers=[{"name": "exact", "kind": "exact", "field": "x"}])
    with pytest.raises(NotComparableError, match="scorer 'exact' changed since the baseline"):
        gate_run(other, read_run(run_suite(other).dir))
    rows = [json.loads(x) for x in (evproj.root / "evals/cases.jsonl").read_text().splitlines()]
    rows[3]["expected"] = "nope"
    evproj.cases("evals/cases.jsonl", rows)
    with pytest.raises(NotComparableError, match=r"c3 \(expected\)") as info:
        gate_run(suite, read_run(run_suite(suite).dir))
    assert info.value.exit_code == 3


def test_edited_case_is_refused_from_the_baseline_alone(evproj: Project) -> None:
    import shutil
    from datetime import date

    from mondaytest.evals.baseline import BASELINE_SCHEMA, read_baseline
    from mondaytest.evals.runner import run_suite

    gate = {"regression": {"metrics": ["exact"], "margin": 0.05}}
    suite = evproj.suite(gate=gate)
    blessed = read_run(evproj.run(gate=gate).dir)
    baseline, path = bless_run(suite, blessed)
    assert json.loads(path.read_text())["schema"] == BASELINE_SCHEMA
    assert baseline.case_hashes is not None
    assert set(baseline.case_hashes) == {f"c{i}" for i in range(20)}
    shutil.rmtree(blessed.dir)  # CI checks out the baseline file, never the blessed run
    rows = [json.loads(x) for x in (evproj.root / "evals/cases.jsonl").read_text().splitlines()]
    rows[3]["expected"] = "nope"
    rows[5]["input"] = "changed"
    evproj.cases("evals/cases.jsonl", rows)
    candidate = read_run(run_suite(suite).dir)
    with pytest.raises(NotComparableError) as info:
        gate_run(suite, candidate)
    assert info.value.exit_code == 3
    assert "2 case(s) changed under the same id since the baseline was blessed" in str(info.value)
    assert "c3 (expected), c5 (input)" in str(info.value)
    assert read_baseline(path).case_hashes == baseline.case_hashes
    # quarantined cases are out of every check, edits included
    quarantine = [
        {"case": c, "reason": "being rewritten", "expires": "2099-01-01"} for c in ("c3", "c5")
    ]
    q_suite = evproj.suite(gate={**gate, "quarantine": quarantine})
    result = gate_run(q_suite, candidate, today=date(2026, 1, 1))
    assert result.verdict.n_paired == 18


def test_old_baseline_without_hashes_is_still_used(evproj: Project) -> None:
    import shutil

    from mondaytest.evals.runner import run_suite

    gate = {"regression": {"metrics": ["exact"], "margin": 0.05}}
    suite = evproj.suite(gate=gate)
    blessed = read_run(evproj.run(gate=gate).dir)
    _, path = bless_run(suite, blessed)
    data = json.loads(path.read_text())
    data["schema"] = "monday.eval.baseline/1"
    for case in data["cases"]:
        del case["input_hash"], case["expected_hash"]
    path.write_text(json.dumps(data))
    shutil.rmtree(blessed.dir)
    rows = [json.loads(x) for x in (evproj.root / "evals/cases.jsonl").read_text().splitlines()]
    rows[3]["expected"] = "nope"
    evproj.cases("evals/cases.jsonl", rows)
    result = gate_run(suite, read_run(run_suite(suite).dir))
    assert result.baseline is not None
    assert result.baseline.case_hashes is None
    assert any("re-bless it to record them" in n for n in result.notes)


def test_gate_refuses_case_weights_it_would_ignore(evproj: Project) -> None:
    from datetime import date

    from mondaytest.errors import ConfigError

    rows = [json.loads(x) for x in (evproj.root / "evals/cases.jsonl").read_text().splitlines()]
    rows[7]["weight"] = 3
    rows[9]["weight"] = 0.5
    evproj.cases("evals/cases.jsonl", rows)
    for gate in (
        {"thresholds": {"exact": {"min": 0.5}}},
        {"regression": {"metrics": ["exact"], "margin": 0.05}},
    ):
        suite = evproj.suite(gate=gate)
        run = read_run(evproj.run(gate=gate).dir)
        with pytest.raises(ConfigError) as info:
            gate_run(suite, run)
        assert info.value.exit_code == 2
        message = str(info.value)
        assert "case 'c7' has weight 3 and 1 more case(s)" in message
        assert "does not support case weights yet" in message
    # required cases and budgets count cases, not means: weights do not change them
    required_only = {"required": {"tags": ["critical"]}}
    result = gate_run(evproj.suite(gate=required_only), run)
    assert result.verdict.status.value == "pass"
    # a quarantined weighted case is out of every check
    rows[9].pop("weight")
    evproj.cases("evals/cases.jsonl", rows)
    gate = {
        "thresholds": {"exact": {"min": 0.5}},
        "quarantine": [{"case": "c7", "reason": "weighted", "expires": "2099-01-01"}],
    }
    run = read_run(evproj.run(gate=gate).dir)
    assert gate_run(evproj.suite(gate=gate), run, today=date(2026, 1, 1)).verdict.n_judged == 19


def test_plan_reports_mde_and_cases_needed(evproj: Project) -> None:
    gate = {"regression": {"metrics": ["exact"], "margin": 0.05}}
    suite = evproj.suite(gate=gate)
    plans, notes = plan_suite(suite)
    assert plans[0].n == 20
    assert "no runs yet" in notes[0]
    evproj.run(target={"python": "app:wrong_on_odd"}, gate=gate)
    plans, _ = plan_suite(suite)
    p = plans[0]
    assert p.binary
    assert p.n == 20
    assert p.spread == pytest.approx(0.5)
    assert not p.adequate
    assert p.needed is not None
    assert p.needed > 20
    assert p.to_json()["cases_needed"] == p.needed


# ------------------------------------------------------------------------------------- CLI


@pytest.fixture
def gated_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CI", "true")
    text = VALID_SPEC.replace(
        "      scorers: [{name: label, kind: exact}]\n",
        "      scorers: [{name: label, kind: exact}]\n" + GATE.lstrip("\n"),
    )
    spec = write_project(tmp_path, text)
    (tmp_path / "app.py").write_text(
        "import os\ndef predict(x):\n"
        "    return x if x % int(os.environ.get('EVERY', '1000')) else -x\n"
    )
    rows = [
        {"id": f"c{i}", "input": i, "expected": i, "tags": ["critical"] if i in (1, 2) else []}
        for i in range(1, 101)
    ]
    (tmp_path / "evals" / "triage.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    yield spec
    sys.modules.pop("app", None)
    while str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def test_gate_cli_exit_codes(
    gated_spec: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    s = str(gated_spec)
    assert main(["eval", "gate", "--spec", s, "-q"]) == 3  # no baseline yet
    assert "run:baseline" in capsys.readouterr().err
    assert main(["eval", "baseline", "bless", "latest", "--spec", s]) == 0
    assert "blessed run" in capsys.readouterr().out
    assert (gated_spec.parent / "evals" / "baselines" / "triage.json").is_file()
    assert main(["eval", "gate", "--spec", s, "-q"]) == 0
    out = capsys.readouterr().out
    assert "gate PASS" in out
    assert "regression:label" in out
    monkeypatch.setenv("EVERY", "7")  # 14 of 100 cases now fail
    sys.modules.pop("app", None)
    # the cache would replay the old outputs: the code did not change, only the environment
    assert main(["eval", "gate", "--spec", s, "-q", "--format", "json", "--cache", "off"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"]["status"] == "fail"
    assert data["verdict"]["flipped_to_fail"]["count"] == 14
    assert main(["eval", "gate", "--spec", s, "--run", "latest", "-q"]) == 1
    assert "flipped pass → fail (14)" in capsys.readouterr().out
    assert main(["eval", "baseline", "show", "--spec", s, "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["cases"] == 100
    assert shown["passed"] == 100
    assert main(["eval", "plan", "--spec", s, "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["metrics"][0]["metric"] == "label"


def test_gate_cli_replay_for_keyless_ci(
    gated_spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = str(gated_spec)
    assert main(["eval", "run", "--spec", s, "--record", "-q"]) == 0
    assert main(["eval", "baseline", "bless", "latest", "--spec", s]) == 0
    (gated_spec.parent / "app.py").write_text("raise RuntimeError('needs an API key')\n")
    sys.modules.pop("app", None)
    assert main(["eval", "gate", "--spec", s, "--replay", "-q"]) == 0
    assert "gate PASS" in capsys.readouterr().out


def test_gate_writes_reports(
    gated_spec: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = str(gated_spec)
    assert main(["eval", "run", "--spec", s, "-q"]) == 0
    assert main(["eval", "baseline", "bless", "latest", "--spec", s]) == 0
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = tmp_path / "out"
    args = ["eval", "gate", "--spec", s, "-q", "--junit", str(out / "j.xml")]
    args += ["--comment-out", str(out / "c.md"), "--html", str(out / "r.html")]
    assert main(args) == 0
    assert "<testsuite" in (out / "j.xml").read_text()
    comment = (out / "c.md").read_text()
    assert comment.startswith("<!-- monday-eval-gate:triage -->")
    assert "PASS" in comment
    assert "<html" in (out / "r.html").read_text().lower()
    assert summary.read_text() == comment
    capsys.readouterr()
    assert (
        main(
            ["eval", "report", "latest", "--spec", s, "--gate", "--markdown", str(out / "again.md")]
        )
        == 0
    )
    assert "PASS" in (out / "again.md").read_text()
    assert main(["eval", "report", "latest", "--spec", s]) == 2


def _add_suite(spec: Path, name: str, dataset: str, extra: str = "") -> None:
    text = spec.read_text()
    anchor = "    triage:\n"
    block = (
        f'    {name}:\n      dataset: {dataset}\n      target: {{python: "app:predict"}}\n'
        "      scorers: [{name: label, kind: exact}]\n      retry_backoff_s: 0\n" + extra
    )
    spec.write_text(text.replace(anchor, block + anchor, 1))


def test_gate_all_gates_every_suite_and_exits_with_the_worst(
    gated_spec: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _add_suite(
        gated_spec,
        "smoke",
        "evals/triage.jsonl",
        "      gate: {thresholds: {label: {min: 0.9, bound: point}}}\n",
    )
    s = str(gated_spec)
    assert main(["eval", "gate", "--all", "--spec", s, "-q", "--no-record"]) == 3  # no baseline
    captured = capsys.readouterr()
    assert "── suite smoke" in captured.out
    assert "── suite triage" in captured.out
    assert "gated 2 suite(s): smoke exit 0, triage exit 3" in captured.out
    assert "run:baseline" in captured.err
    assert main(["eval", "baseline", "bless", "latest", "--spec", s, "--suite", "triage"]) == 0
    capsys.readouterr()
    out = tmp_path / "reports"
    args = ["eval", "gate", "--all", "--spec", s, "-q", "--format", "json"]
    args += ["--junit", str(out / "{suite}.xml")]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == 0
    assert data["exit_codes"] == {"smoke": 0, "triage": 0}
    assert data["suites"]["triage"]["verdict"]["status"] == "pass"
    assert sorted(p.name for p in out.iterdir()) == ["smoke.xml", "triage.xml"]
    monkeypatch.setenv("EVERY", "7")  # 14 of 100 cases now fail
    sys.modules.pop("app", None)
    args = ["eval", "gate", "--all", "--spec", s, "-q", "--cache", "off", "--format", "json"]
    assert main(args) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["exit_codes"] == {"smoke": 1, "triage": 1}
    # a suite that cannot run (exit 2) does not hide the others' verdicts
    (gated_spec.parent / "evals" / "bad.jsonl").write_text('{"id": "\\ud800", "input": 1}\n')
    _add_suite(gated_spec, "bad", "evals/bad.jsonl")
    assert main(["eval", "gate", "--all", "--spec", s, "-q", "--cache", "off"]) == 2
    captured = capsys.readouterr()
    assert "bad.jsonl:1" in captured.err
    assert "gated 3 suite(s): smoke exit 1, bad exit 2, triage exit 1" in captured.out


def test_gate_all_refuses_single_suite_options(
    gated_spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = str(gated_spec)
    _add_suite(gated_spec, "smoke", "evals/triage.jsonl")
    assert main(["eval", "gate", "--all", "triage", "--spec", s]) == 2
    assert "drop the suite name" in capsys.readouterr().err
    assert main(["eval", "gate", "--all", "--run", "latest", "--spec", s]) == 2
    assert "cannot go with --all" in capsys.readouterr().err
    assert main(["eval", "gate", "--all", "--junit", "j.xml", "--spec", s]) == 2
    assert "put {suite} in the path" in capsys.readouterr().err


def test_scaffolded_workflow_uses_real_gate_flags_and_is_keyless_on_pull_requests(
    tmp_path: Path,
) -> None:
    import re

    import typer
    from ruamel.yaml import YAML

    from mondaytest.cli.eval import app as eval_app

    assert main(["init", str(tmp_path / "p")]) == 0
    text = (tmp_path / "p" / ".github" / "workflows" / "monday.yml").read_text()
    steps = YAML(typ="safe").load(text)["jobs"]["monday"]["steps"]
    gate = typer.main.get_command(eval_app).commands["gate"]  # type: ignore[attr-defined]
    known = {opt for p in gate.params for opt in (*p.opts, *p.secondary_opts)}
    gate_steps = [s for s in steps if "monday eval gate" in s.get("run", "")]
    assert {s["if"] for s in gate_steps} == {
        "github.event_name == 'pull_request'",
        "github.event_name == 'push'",
    }
    for step in gate_steps:
        line = next(x for x in step["run"].splitlines() if "monday eval gate" in x)
        flags = set(re.findall(r"--[a-z-]+", line)) | {"--replay"}
        assert flags <= known, flags - known
        assert "--all" in flags
        if step["if"] == "github.event_name == 'pull_request'":
            assert "--no-record" in flags
            assert "secrets." not in str(step)
            assert "compgen -G" in step["run"]  # --replay only when a cassette exists
        else:
            assert "--no-record" not in flags
            assert "secrets.MONDAY_AUDIT_KEY" in str(step["env"])
    assert any(s.get("run") == "monday check" for s in steps)
