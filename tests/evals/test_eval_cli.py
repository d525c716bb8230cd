"""``monday eval`` end to end through the CLI entry point (exit codes, output, JSON)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from tests.conftest import VALID_SPEC, write_project

from mondaytest.cli.app import main

APP = """
def predict(x):
    return x if x % 3 else -x
"""


@pytest.fixture
def spec_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CI", "true")
    spec = write_project(
        tmp_path,
        VALID_SPEC.replace(
            "scorers: [{name: label, kind: exact}]",
            "scorers: [{name: label, kind: exact}]\n      retry_backoff_s: 0",
        ),
    )
    (tmp_path / "app.py").write_text(APP)
    rows = [
        {"id": f"c{i}", "input": i, "expected": i, "tags": ["critical"] if i < 2 else []}
        for i in range(1, 31)
    ]
    (tmp_path / "evals" / "triage.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    yield spec
    sys.modules.pop("app", None)
    while str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def cli(*args: str) -> int:
    return main(list(args))


def test_run_show_ls_compare(spec_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("eval", "run", "triage", "--spec", str(spec_path)) == 0
    out = capsys.readouterr()
    assert "complete" in out.out
    assert "label" in out.out
    assert "20 passed" not in out.out
    assert "run " in out.err  # progress header goes to stderr
    assert cli("eval", "run", "--spec", str(spec_path), "--format", "json", "--seed", "3") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"]["trials"] == 30
    assert data["counts"]["failed"] == 10
    assert data["config"]["seed"] == 3
    assert cli("eval", "ls", "--spec", str(spec_path), "--format", "json") == 0
    runs = json.loads(capsys.readouterr().out)
    assert len(runs) == 2
    assert runs[-1]["run_id"] == data["run_id"]
    assert cli("eval", "show", "latest", "--spec", str(spec_path)) == 0
    shown = capsys.readouterr().out
    assert "failed (10)" in shown
    assert "c3 (epoch 0): label: expected 3, got -3" in shown
    assert (
        cli(
            "eval",
            "compare",
            runs[0]["run_id"],
            "latest",
            "--spec",
            str(spec_path),
            "--format",
            "json",
        )
        == 0
    )
    cmp = json.loads(capsys.readouterr().out)
    assert cmp["metrics"][0]["delta"] == 0.0
    assert cmp["flipped_to_fail"] == []
    assert cli("eval", "compare", runs[0]["run_id"][:17], "latest", "--spec", str(spec_path)) in (
        0,
        2,
    )


def test_run_usage_and_input_errors(spec_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("eval", "run", "nope", "--spec", str(spec_path)) == 2
    assert "no suite named 'nope'" in capsys.readouterr().err
    assert cli("eval", "run", "--spec", str(spec_path), "--record", "--replay") == 2
    assert cli("eval", "run", "--spec", str(spec_path), "--cache", "maybe") == 2
    assert cli("eval", "run", "--spec", str(spec_path), "--replay") == 2
    assert "no cassette" in capsys.readouterr().err
    dataset = spec_path.parent / "evals" / "triage.jsonl"
    dataset.write_text(dataset.read_text() + '{"id": "c1", "input": 9}\n')
    assert cli("eval", "run", "--spec", str(spec_path)) == 2
    err = capsys.readouterr().err
    assert "triage.jsonl:31: id: duplicate id 'c1' (first at line 1)" in err
    assert "Traceback" not in err
    assert cli("eval", "show", "nothing-like-this", "--spec", str(spec_path)) == 2


def test_error_budget_exit_3(spec_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (spec_path.parent / "app.py").write_text("def predict(x):\n    raise ValueError('broken')\n")
    assert cli("eval", "run", "--spec", str(spec_path), "-q") == 3
    captured = capsys.readouterr()
    assert "aborted" in captured.err
    assert "error budget" in captured.err
    assert cli("eval", "show", "latest", "--spec", str(spec_path)) == 0
    assert "ValueError: broken" in capsys.readouterr().out


def test_record_replay_and_flaky(spec_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("eval", "run", "--spec", str(spec_path), "--record", "--epochs", "2") == 0
    assert (spec_path.parent / "evals" / "cassettes" / "triage.jsonl").is_file()
    capsys.readouterr()
    (spec_path.parent / "app.py").write_text("raise ImportError('no keys in CI')\n")
    assert (
        cli(
            "eval", "run", "--spec", str(spec_path), "--replay", "--epochs", "2", "--format", "json"
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["counts"]["failed"] == 20
    assert data["config"]["mode"] == "replay"
    assert cli("eval", "flaky", "--spec", str(spec_path), "--last", "2", "--format", "json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["repeated_cases"] == 30
    assert report["flaky_cases"] == 0


def test_compare_refuses_incomparable_runs(
    spec_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("eval", "run", "--spec", str(spec_path), "-q") == 0
    dataset = spec_path.parent / "evals" / "triage.jsonl"
    rows = [json.loads(x) for x in dataset.read_text().splitlines()]
    rows[4]["expected"] = 999
    dataset.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert cli("eval", "run", "--spec", str(spec_path), "-q") == 0
    runs = [r.name for r in sorted((spec_path.parent / ".monday" / "runs").iterdir())]
    capsys.readouterr()
    assert cli("eval", "compare", runs[0], runs[1], "--spec", str(spec_path)) == 3
    err = capsys.readouterr().err
    assert "not comparable" in err
    assert "1 case(s) changed under the same id: c5 (expected)" in err


def test_run_prints_the_judge_fingerprint_to_pin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CI", "true")
    judge = (
        "      scorers:\n"
        "        - {name: label, kind: exact}\n"
        "        - {name: judged, kind: judge, target: {python: 'app:judge'},\n"
        "           prompt: 'ok? {{output}}'}\n"
    )
    spec = write_project(
        tmp_path, VALID_SPEC.replace("      scorers: [{name: label, kind: exact}]\n", judge)
    )
    (tmp_path / "app.py").write_text(
        "def predict(x):\n    return x\ndef judge(req):\n    return 'PASS'\n"
    )
    try:
        assert main(["eval", "run", "--spec", str(spec), "-q"]) == 0
        out = capsys.readouterr().out
        assert "judged is model-graded; pin its judge: pin: " in out
        fp = out.split("pin: ")[-1].split()[0]
        pinned = judge.replace("prompt:", f"pin: {fp}, prompt:")
        (tmp_path / "monday.yaml").write_text(
            VALID_SPEC.replace("      scorers: [{name: label, kind: exact}]\n", pinned)
        )
        assert main(["eval", "run", "--spec", str(spec), "-q"]) == 0
        (tmp_path / "monday.yaml").write_text(
            VALID_SPEC.replace(
                "      scorers: [{name: label, kind: exact}]\n",
                pinned.replace("ok? {{output}}", "fine? {{output}}"),
            )
        )
        capsys.readouterr()
        assert main(["eval", "run", "--spec", str(spec), "-q"]) == 2
        assert "the judge changed" in capsys.readouterr().err
    finally:
        sys.modules.pop("app", None)
        while str(tmp_path) in sys.path:
            sys.path.remove(str(tmp_path))


@pytest.mark.parametrize("bad", ['{"x": 1}', "[1]", "7"])
def test_a_trial_line_without_a_case_is_input_error(
    spec_path: Path, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    assert cli("eval", "run", "--spec", str(spec_path), "-q") == 0
    assert cli("eval", "run", "--spec", str(spec_path), "-q") == 0
    runs = sorted((spec_path.parent / ".monday" / "runs").iterdir())
    trials = runs[1] / "trials.jsonl"
    lines = trials.read_text().splitlines(keepends=True)
    lines.insert(2, bad + "\n")
    trials.write_text("".join(lines))
    capsys.readouterr()
    assert cli("eval", "compare", runs[0].name, runs[1].name, "--spec", str(spec_path)) == 2
    err = capsys.readouterr().err
    assert f"{trials}:3" in err
    assert "internal error" not in err
    assert cli("eval", "flaky", "--spec", str(spec_path), "--last", "2") == 2
    assert f"{trials}:3" in capsys.readouterr().err
