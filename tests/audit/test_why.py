"""``monday audit why``: a decision, the configuration in force for it, and the checks, on a
real store (and through the command line)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.audit.conftest import make_config

from mondaytest.audit import LogConfig, open_log
from mondaytest.audit.why import Explanation, explain
from mondaytest.cli.app import main
from mondaytest.errors import InputError


@dataclass
class Built:
    cfg: LogConfig
    ok: int  # a decision under a model approved by a passing gate
    stale: int  # a decision naming v1 after v2 (a failed gate) went in force
    waived: int  # a decision under a model released with a waiver
    unbound: int  # a decision under a model bound to nothing
    uncovered: int  # a decision no checkpoint covers yet
    first: int  # a decision before any configuration
    lapsed: int  # a decision under a model whose release waiver had expired


def _build(tmp: Path) -> Built:
    cfg = make_config(tmp)
    with open_log(cfg) as log:
        first = log.decision(decision="triage", outcome={"code": "early"})
        gate = log.append("eval_gate", {"suite": "triage", "run": "r1", "result": "pass"})
        log.append("model_version", {"model": "scorer", "version": "1", "eval_gate_idx": gate})
        log.append("guardrail_config", {"guardrail": "pii", "digest": "sha256:" + "ab" * 32})
        waiver = {"reason": "noisy", "approver": "ana", "action": "grant"}
        log.append(
            "waiver", {**waiver, "target": "guardrail:tox", "expires": "2099-01-01T00:00:00Z"}
        )
        log.append(
            "waiver", {**waiver, "target": "guardrail:old", "expires": "2000-01-01T00:00:00Z"}
        )
        log.append("waiver", {**waiver, "target": "guardrail:gone"})
        log.append("waiver", {**waiver, "target": "guardrail:gone", "action": "revoke"})
        log.append("threshold", {"name": "refer_above", "value": "0.7"})
        log.append("threshold", {"name": "refer_above", "value": "0.8", "before": "0.7"})
        model = {"id": "scorer", "version": "1"}
        ok = log.decision(
            decision="triage",
            model=model,
            guardrails=[{"id": "pii@3", "result": "pass"}, {"id": "tox", "result": "skip"}],
            outcome={"code": "refer"},
        )
        failed = log.append("eval_gate", {"suite": "triage", "run": "r2", "result": "fail"})
        log.append("model_version", {"model": "scorer", "version": "2", "eval_gate_idx": failed})
        stale = log.decision(decision="triage", model=model, outcome={"code": "deny"})
        w = log.append(
            "waiver", {**waiver, "target": "release:scorer", "expires": "2099-01-01T00:00:00Z"}
        )
        log.append("model_version", {"model": "scorer", "version": "3", "waiver_idx": w})
        waived = log.decision(decision="triage", model={"id": "scorer", "version": "3"})
        log.append("model_version", {"model": "other", "version": "9"})
        unbound = log.decision(decision="triage", model={"id": "other", "version": "9"})
        old = log.append(
            "waiver", {**waiver, "target": "release:late", "expires": "2001-01-01T00:00:00Z"}
        )
        log.append("model_version", {"model": "late", "version": "1", "waiver_idx": old})
        lapsed = log.decision(decision="triage", model={"id": "late", "version": "1"})
        log.checkpoint()
        uncovered = log.decision(decision="triage", model={"id": "scorer", "version": "3"})
        log.flush()
        # close() would publish a checkpoint covering it: the writer closes without signing
        log._get_writer().signers = []
    assert None not in (first, ok, stale, waived, unbound, uncovered, lapsed)
    return Built(cfg, ok, stale, waived, unbound, uncovered, first, lapsed)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build(tmp_path_factory.mktemp("why"))


def _explain(b: Built, idx: int | str) -> Explanation:
    with open_log(b.cfg, readonly=True) as log:
        return explain(log, idx)


def _texts(result: Explanation, ok: bool | None) -> list[str]:
    return [c.text for c in result.checks if c.ok is ok]


def test_a_decision_under_an_approved_model_is_explained(built: Built) -> None:
    r = _explain(built, built.ok)
    assert r.ok
    assert _texts(r, False) == []
    got = {(f.kind, f.key): f.entry.payload for f in r.in_force}
    # newest per thing; the expired and the revoked waivers are not in force
    assert set(got) == {
        ("model_version", "scorer"),
        ("guardrail_config", "pii"),
        ("waiver", "guardrail:tox"),
        ("threshold", "refer_above"),
    }
    assert got[("threshold", "refer_above")]["value"] == "0.8"
    assert got[("model_version", "scorer")]["version"] == "1"
    release = next(f for f in r.in_force if f.kind == "model_version")
    assert [(a.kind, a.payload["result"]) for a in release.approvals] == [("eval_gate", "pass")]
    text = " | ".join(_texts(r, True))
    assert "is the last configuration change before the decision" in text
    assert "scorer 1 was approved by eval gate" in text
    assert "guardrail pii@3 (pass) has a configuration on record" in text
    assert "inclusion proved" in text
    assert any("tox" in t for t in _texts(r, None))  # named, but no guardrail_config of it
    assert r.checkpoint is not None


def test_a_decision_by_its_entry_id(built: Built) -> None:
    with open_log(built.cfg, readonly=True) as log:
        entry_id = log.entry(built.ok).id
        assert explain(log, entry_id).decision.idx == built.ok


def test_a_model_version_no_passing_gate_approved_fails(built: Built) -> None:
    r = _explain(built, built.stale)
    assert not r.ok
    bad = " | ".join(_texts(r, False))
    assert "the decision used scorer 1, but 2 was in force" in bad
    assert "not a pass (#" in bad


def test_a_waiver_is_reported_not_failed_and_no_binding_fails(built: Built) -> None:
    waived = _explain(built, built.waived)
    assert waived.ok
    assert any("released under waiver" in t for t in _texts(waived, None))
    unbound = _explain(built, built.unbound)
    assert not unbound.ok
    assert any("bound to no eval gate verdict and no waiver" in t for t in _texts(unbound, False))
    lapsed = _explain(built, built.lapsed)
    assert not lapsed.ok
    assert any("which had expired" in t for t in _texts(lapsed, False))


def test_uncovered_and_unconfigured_decisions_are_explained_with_warnings(built: Built) -> None:
    r = _explain(built, built.uncovered)
    assert r.ok
    assert r.checkpoint is None
    assert any("not yet covered by a signed checkpoint" in t for t in _texts(r, None))
    early = _explain(built, built.first)  # only the log's genesis entry came before it
    assert early.ok
    assert early.in_force == ()
    assert early.decision.config_idx == 0
    assert any("config_idx 0 is the last" in t for t in _texts(early, True))


def test_a_state_change_or_a_missing_entry_is_refused(built: Built) -> None:
    with pytest.raises(InputError, match="not a decision"):
        _explain(built, built.ok - 1)
    with pytest.raises(InputError, match="no entry"):
        _explain(built, 10_000)


def test_a_rewritten_decision_fails_its_checks(tmp_path: Path) -> None:
    b = _build(tmp_path)
    db = tmp_path / "audit.db"
    conn = sqlite3.connect(db)
    body: bytes = conn.execute("SELECT body FROM entries WHERE idx = ?", (b.ok,)).fetchone()[0]
    forged = body.replace(b'"code":"refer"', b'"code":"grant"')
    assert forged != body
    conn.execute("UPDATE entries SET body = ? WHERE idx = ?", (forged, b.ok))
    conn.commit()
    conn.close()
    r = _explain(b, b.ok)
    assert not r.ok
    assert any(f"entry {b.ok} does not verify" in t for t in _texts(r, False))
    proved = [t for t in _texts(r, True) if "inclusion proved" in t]
    assert proved
    assert all(t.startswith("the ") for t in proved), proved
    assert all(" it ran under:" in t for t in proved), proved


def test_the_command_prints_the_explanation_and_exits_by_the_checks(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--store", built.cfg.store_url, "--vkey", str(built.cfg.vkey)]
    assert main(["audit", "why", str(built.ok), *args]) == 0
    out = capsys.readouterr().out
    assert f"decision {built.ok}" in out
    assert "configuration in force" in out
    assert "every check holds" in out
    assert main(["audit", "why", str(built.stale), *args, "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    assert data["decision"]["idx"] == built.stale
    assert {f["kind"] for f in data["in_force"]} >= {"model_version", "threshold"}
    assert main(["audit", "why", str(built.ok - 1), *args]) == 2
    assert "not a decision" in capsys.readouterr().err


def test_configuration_kinds_name_what_they_configure() -> None:
    from mondaytest.audit.entries import ThresholdPayload, kinds, register_kind

    got = {k: i.config_key for k, i in kinds().items() if i.config}
    # kept when the evals domain replaced the model_version payload with its richer model
    assert got["model_version"] == "model"
    assert got["guardrail_config"] == "guardrail"
    assert got["waiver"] == "target"
    assert got["log_genesis"] is None
    with pytest.raises(ValueError, match="not a field"):
        register_kind("why_test_kind", ThresholdPayload, config=True, config_key="nope")
    assert "why_test_kind" not in kinds()
