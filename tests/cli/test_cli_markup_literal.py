"""Text from users and data prints literally: the spec, eval and release commands never read
suite or case ids, run ids, paths, model names or table cells as Rich markup (no MarkupError
traceback for ``[/x]``, no ``a[red]b`` printed as ``ab``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import VALID_SPEC, write_project
from tests.evals.releasekit import FP_A, cleanup, make_project, run_data, verdict

from mondaytest.audit import open_log
from mondaytest.cli import state
from mondaytest.cli.app import main
from mondaytest.evals.evidence import record_gate_verdict

CLOSE = "[/x]"
RED = "a[red]b"
WEIRD = f"p{CLOSE}{RED}"
"""A directory name holding both (``[/x]`` makes it two levels: ``p[`` / ``x]a[red]b``)."""

GATE = """\
      retry_backoff_s: 0
      cache: off
      gate:
        required: {tags: [critical]}
        thresholds: {label: {min: 0.1}}
"""

APP = """\
def predict(x):
    return "nope" if x.startswith("bad") else x
"""


def _clean(out: str, err: str = "") -> None:
    text = out + err
    assert "MarkupError" not in text
    assert "Traceback" not in text
    assert "internal error" not in text


def _literal(text: str, *parts: str) -> None:
    for part in parts:
        assert part in text, f"{part!r} not printed literally in:\n{text}"


@pytest.fixture
def weird_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project in a directory named with markup, whose cases and labels are markup."""
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("MONDAY_DATABASE_URL", raising=False)
    root = tmp_path / WEIRD
    root.mkdir(parents=True)
    text = VALID_SPEC.replace(
        "      scorers: [{name: label, kind: exact}]\n",
        "      scorers: [{name: label, kind: exact}, {name: cls, kind: classification}]\n" + GATE,
    )
    spec = write_project(root, text)
    (root / "app.py").write_text(APP)
    rows = [
        {"id": RED, "input": "bad-1", "expected": "bad-1", "tags": ["critical"]},
        {"id": CLOSE, "input": CLOSE, "expected": CLOSE, "tags": ["critical"]},
        *({"id": f"c{i}", "input": RED, "expected": RED} for i in range(8)),
    ]
    (root / "evals" / "triage.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    yield spec
    cleanup(root)


def _retag_run(spec: Path, run_id: str) -> None:
    """Give the newest run a run id holding markup (as a run copied in from elsewhere)."""
    docs = [
        (path, json.loads(path.read_text(encoding="utf-8")))
        for path in (spec.parent / ".monday" / "runs").glob("*/run.json")
    ]
    # runs of one second sort by a random suffix: the newest is the latest started_at
    path, data = max(docs, key=lambda doc: str(doc[1].get("started_at")))
    data["run_id"] = run_id
    path.write_text(json.dumps(data), encoding="utf-8")


# ------------------------------------------------------------------------------------ spec


def test_spec_validate_and_show_print_paths_literally(
    weird_spec: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    named = weird_spec.parent / f"{RED}.yaml"
    named.write_text(weird_spec.read_text())
    assert main(["spec", "validate", str(named)]) == 0
    out = capsys.readouterr()
    _clean(out.out, out.err)
    _literal(out.out, f"{RED}.yaml is valid")

    assert main(["spec", "show", str(weird_spec)]) == 0
    out = capsys.readouterr()
    _clean(out.out, out.err)
    _literal(out.out, str(weird_spec))

    # on a terminal the provenance is a Panel: its text is literal too
    monkeypatch.setattr(state, "plain", lambda: False)
    assert main(["spec", "show", str(weird_spec)]) == 0
    out = capsys.readouterr()
    _clean(out.out, out.err)
    _literal(out.out.replace("│", "").replace("\n", ""), CLOSE, RED)


def test_spec_schema_migrate_and_init_print_paths_literally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    target = tmp_path / WEIRD
    assert main(["init", str(target), "--name", "demo"]) == 0
    out = capsys.readouterr()
    _clean(out.out, out.err)
    _literal(out.out, f"{target / 'monday.yaml'} validates", "created runbooks/")

    schema_out = target / f"{RED}.json"
    assert main(["spec", "schema", "-o", str(schema_out)]) == 0
    out = capsys.readouterr()
    _clean(out.out, out.err)
    _literal(out.err, f"wrote {schema_out}")

    named = target / f"{RED}.yaml"
    named.write_text((target / "monday.yaml").read_text())
    assert main(["spec", "migrate", str(named)]) == 0
    out = capsys.readouterr()
    _clean(out.out, out.err)
    _literal(out.out, f"{RED}.yaml is already at version")


# ------------------------------------------------------------------------------------ eval


def test_eval_run_and_show_print_ids_paths_and_labels_literally(
    weird_spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = str(weird_spec)
    assert main(["eval", "run", "triage", "--spec", s]) == 0
    out = capsys.readouterr()
    _clean(out.out, out.err)
    # the run directory (under the project) and the classification labels (expected values)
    _literal(out.out, str(weird_spec.parent / ".monday" / "runs"), CLOSE, RED)
    assert f"labels {CLOSE}, {RED}, bad-1" in out.out or f"{CLOSE}, {RED}" in out.out

    _retag_run(weird_spec, f"r{CLOSE}{RED}")
    assert main(["eval", "show", "latest", "--spec", s]) == 0
    out = capsys.readouterr()
    _clean(out.out, out.err)
    _literal(out.out, f"run r{CLOSE}{RED}", f"{RED} (epoch 0)")


def test_eval_ls_and_compare_print_run_ids_literally(
    weird_spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = str(weird_spec)
    assert main(["eval", "run", "--spec", s, "-q"]) == 0
    _retag_run(weird_spec, f"A{CLOSE}{RED}")
    assert main(["eval", "run", "--spec", s, "-q"]) == 0
    _retag_run(weird_spec, f"B{CLOSE}{RED}")
    capsys.readouterr()

    assert main(["eval", "ls", "--spec", s]) == 0
    out = capsys.readouterr()
    _clean(out.out, out.err)
    _literal(out.out, f"A{CLOSE}{RED}", f"B{CLOSE}{RED}")

    assert main(["eval", "compare", f"A{CLOSE}", f"B{CLOSE}", "--spec", s]) == 0
    out = capsys.readouterr()
    _clean(out.out, out.err)
    _literal(out.out, f"compare A{CLOSE}{RED} (A) → B{CLOSE}{RED} (B)")


def test_eval_gate_and_baseline_print_case_ids_literally(
    weird_spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = str(weird_spec)
    assert main(["eval", "run", "--spec", s, "-q"]) == 0
    _retag_run(weird_spec, f"r{CLOSE}{RED}")
    assert main(["eval", "baseline", "bless", "latest", "--spec", s]) == 0
    out = capsys.readouterr()
    _clean(out.out, out.err)
    _literal(out.out, f"blessed run r{CLOSE}{RED}", str(weird_spec.parent / "evals"))

    # the critical case a[red]b fails: the required check names it
    code = main(["eval", "gate", "--spec", s, "--run", "latest", "-q", "--no-record"])
    out = capsys.readouterr()
    _clean(out.out, out.err)
    assert code == 1, out.out + out.err
    _literal(out.out, f"for run r{CLOSE}{RED}", f"failed: {RED}")

    assert main(["eval", "plan", "--spec", s]) == 0
    out = capsys.readouterr()
    _clean(out.out, out.err)


# ------------------------------------------------------------------------------------ release


@pytest.fixture
def release_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("MONDAY_DATABASE_URL", raising=False)
    monkeypatch.delenv("EVERY", raising=False)
    root = tmp_path / WEIRD
    root.mkdir(parents=True)
    monkeypatch.chdir(root)
    make_project(root)
    yield root
    cleanup(root)
    sys.modules.pop("app", None)


def test_release_record_and_show_print_model_names_literally(
    release_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mondaytest.spec import load_spec

    loaded = load_spec(release_root / "monday.yaml")
    with open_log(loaded) as log:
        record_gate_verdict(
            log,
            verdict("pass"),
            suite="triage",
            run=run_data(FP_A, run_id=f"run{CLOSE}{RED}"),
            spec_digest=loaded.digest,
        )
    model, version = f"m{CLOSE}{RED}", f"v{RED}"
    args = ["release", "record", "--model", model, "--version", version, "--fingerprint", FP_A]
    assert main(args) == 0
    out = capsys.readouterr()
    _clean(out.out, out.err)
    _literal(out.out, f"released {model} {version}", f"run run{CLOSE}{RED}")

    assert main(["release", "show"]) == 0
    out = capsys.readouterr()
    _clean(out.out, out.err)
    _literal(out.out, model, version, f"run run{CLOSE}{RED}")


def test_emoji_codes_print_as_written() -> None:
    from mondaytest.cli import state

    for make in (state.console, state.err_console):
        con = make()
        with con.capture() as captured:
            con.print("case :smile: failed", markup=False)
        assert ":smile:" in captured.get()
