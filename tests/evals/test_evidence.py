"""Gate verdicts as ``eval_gate`` audit entries, on a real SQLite audit log."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.evals.releasekit import (
    FP_A,
    ReleaseProject,
    cleanup,
    make_project,
    outcomes,
    run_data,
    verdict,
)

from mondaytest._util.canonical import canonical_json
from mondaytest.audit import open_log
from mondaytest.audit.entries import MAX_ENTRY_BYTES, decode_entry, kind_info
from mondaytest.cli.app import main
from mondaytest.errors import InputError
from mondaytest.evals.evidence import (
    EvalGateEvidence,
    audit_configured,
    gate_evidence,
    record_gate_result,
    record_gate_verdict,
    verdict_digest,
)
from mondaytest.evals.gate import CaseOutcome, evaluate_gate, outcomes_digest
from mondaytest.evals.gating import gate_run
from mondaytest.evals.runs import resolve_run
from mondaytest.evals.suites import suite_from_spec
from mondaytest.spec.evals_gate import GateSpec


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReleaseProject]:
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("MONDAY_DATABASE_URL", raising=False)
    project = make_project(tmp_path)
    yield project
    cleanup(tmp_path)


def test_the_registered_eval_gate_payload_is_the_rich_one() -> None:
    assert kind_info("eval_gate").model is EvalGateEvidence
    assert kind_info("eval_gate").config is False


def test_payloads_of_the_small_model_stay_valid(proj: ReleaseProject) -> None:
    thin = {"suite": "triage", "run": "r1", "result": "pass", "report": "sha256:" + "0" * 64}
    with open_log(proj.load()) as log:
        idx = log.append("eval_gate", thin)
        assert log.entry(idx).payload == thin
        with pytest.raises(InputError, match="result"):
            log.append("eval_gate", {**thin, "result": "maybe"})


def test_record_gate_verdict_writes_the_hashes_and_the_checks(proj: ReleaseProject) -> None:
    loaded = proj.load()
    v = verdict("pass")
    with open_log(loaded) as log:
        idx = record_gate_verdict(
            log,
            v,
            suite="triage",
            run=run_data(spec_digest="sha256:" + "e" * 64),
            spec_digest=loaded.digest,
            baseline_run="base-run",
        )
        entry = log.entry(idx)
        raw = log.store.entry(idx)
    assert raw is not None
    assert decode_entry(raw.body).kind == "eval_gate"  # full profile check: no floats anywhere
    assert len(raw.body) <= MAX_ENTRY_BYTES
    p = entry.payload
    assert entry.kind == "eval_gate"
    assert (p["suite"], p["run"], p["result"], p["exit_code"]) == ("triage", "run-1", "pass", 0)
    assert p["target"] == {"fingerprint": FP_A, "kind": "python", "ref": "app:predict"}
    assert p["spec"]["digest"] == loaded.digest
    assert p["run_spec"] == "sha256:" + "e" * 64  # the run was made under another contract
    assert p["git"] == {"commit": "c0ffee" * 6 + "beef", "dirty": False, "branch": "main"}
    assert p["dataset"] == "sha256:" + "d" * 64
    assert p["candidate"] == outcomes_digest(outcomes(50, 2))
    assert p["gate_spec"] == v.inputs["gate_spec"]
    assert "baseline" not in p  # a threshold-only gate has no baseline
    expected = "sha256:" + hashlib.sha256(canonical_json(v.to_dict())).hexdigest()
    assert p["verdict"] == expected == verdict_digest(v)
    assert [c["name"] for c in p["checks"]] == [c.name for c in v.checks]
    threshold = p["checks"][0]
    assert threshold["status"] == "pass"
    assert threshold["threshold"] == "0.5"
    assert all(isinstance(x, str) for x in threshold["ci95"])
    assert p["counts"] == {"cases": 50, "judged": 50, "paired": 0}


def test_failing_and_inconclusive_verdicts_keep_their_exit_codes(proj: ReleaseProject) -> None:
    with open_log(proj.load()) as log:
        failed = record_gate_verdict(log, verdict("fail"), suite="triage", run=run_data())
        unsure = record_gate_verdict(log, verdict("inconclusive"), suite="triage", run=run_data())
        strict = record_gate_verdict(
            log, verdict("inconclusive"), suite="triage", run=run_data(), strict=True
        )
        got = [log.entry(i).payload for i in (failed, unsure, strict)]
    assert [(p["result"], p["exit_code"]) for p in got] == [
        ("fail", 1),
        ("inconclusive", 0),
        ("inconclusive", 1),
    ]
    assert got[1]["baseline"]["digest"] == outcomes_digest(outcomes(10))
    assert got[2]["strict"] is True


def test_huge_verdicts_are_trimmed_to_fit_a_leaf(proj: ReleaseProject) -> None:
    long = "x" * 1500  # 50 ids of 1.5 kB would not fit
    base = [CaseOutcome(f"{long}{i:05d}", True, {"label": 1.0}) for i in range(3000)]
    cand = [CaseOutcome(o.id, i % 2 == 0, {"label": float(i % 2 == 0)}) for i, o in enumerate(base)]
    gate = GateSpec.model_validate(
        {"thresholds": {"label": {"min": "0.5"}}, "regression": {"metrics": ["label"]}}
    )
    v = evaluate_gate(cand, base, gate)
    assert len(v.flipped_to_fail) == 1500
    payload = gate_evidence(v, suite="triage", run=run_data())
    assert payload.case_limit < 50
    flipped = payload.flipped_to_fail
    assert flipped is not None
    assert flipped.count == 1500
    assert flipped.truncated
    all_ids = "\n".join(sorted(v.flipped_to_fail)).encode()
    assert flipped.sha256 == hashlib.sha256(all_ids).hexdigest()
    with open_log(proj.load()) as log:
        idx = record_gate_verdict(log, v, suite="triage", run=run_data())
        assert len(log.store.entry(idx).body) <= MAX_ENTRY_BYTES  # type: ignore[union-attr]


def test_a_run_id_is_required() -> None:
    with pytest.raises(InputError, match="run id"):
        gate_evidence(verdict(), suite="triage")
    payload = gate_evidence(verdict(), suite="triage", run_id="r9", target_fingerprint=FP_A)
    assert payload.run == "r9"
    assert payload.target is not None
    assert payload.target.fingerprint == FP_A
    assert payload.spec is None


def test_record_gate_result_from_a_real_run(proj: ReleaseProject) -> None:
    s = str(proj.spec_path)
    assert main(["eval", "run", "triage", "--spec", s, "-q"]) == 0
    assert main(["eval", "baseline", "bless", "latest", "--spec", s]) == 0
    loaded = proj.load()
    assert audit_configured(loaded)
    ref = suite_from_spec(loaded, "triage")
    run = resolve_run(ref.root_dir, "latest", "triage")
    result = gate_run(ref, run)
    idx = record_gate_result(loaded, result)
    with open_log(loaded, readonly=True) as log:
        p = log.entry(idx).payload
    run_json = (run.dir / "run.json").read_bytes()
    assert p["run"] == run.id
    assert p["result"] == "pass"
    assert p["report"] == "sha256:" + hashlib.sha256(run_json).hexdigest()
    assert p["target"]["fingerprint"] == json.loads(run_json)["target"]["fingerprint"]
    assert p["baseline"]["run"] == run.id
    assert p["baseline"]["digest"] == result.baseline.digest()  # type: ignore[union-attr]
    assert p["spec"]["digest"] == loaded.digest
    gate_json = json.loads((run.dir / "gate.json").read_text())
    assert (
        p["verdict"] == "sha256:" + hashlib.sha256(canonical_json(gate_json["verdict"])).hexdigest()
    )
    assert {c["name"] for c in p["checks"]} >= {"required", "threshold:label", "regression:label"}
