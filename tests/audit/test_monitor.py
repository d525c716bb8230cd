"""``monday audit monitor``: one pass over the log checks every decision's binding, and agrees
with ``monday audit why`` decision by decision."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from tests.audit.test_why import Built, _build

from mondaytest.audit import open_log
from mondaytest.audit.monitor import monitor
from mondaytest.audit.store import open_store
from mondaytest.audit.why import explain
from mondaytest.cli.app import main


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build(tmp_path_factory.mktemp("monitor"))


def test_every_decision_is_checked_and_the_violations_named(built: Built) -> None:
    store = open_store(built.cfg.store_url)
    try:
        report = monitor(store)
    finally:
        store.close()
    assert not report.ok
    assert report.start == 0
    assert report.decisions == 7
    assert report.waived == 2  # scorer 3, before and after the last checkpoint
    bad = {(v.idx, v.rule) for v in report.violations}
    assert bad == {
        (built.stale, "model"),
        (built.stale, "approval"),
        (built.unbound, "approval"),
        (built.lapsed, "approval"),
    }
    assert report.counts == {"config_idx": 0, "model": 1, "approval": 3}
    text = {v.idx: v.text for v in report.violations if v.rule == "approval"}
    assert "had expired" in text[built.lapsed]
    assert "no eval gate verdict and no waiver" in text[built.unbound]


def test_the_monitor_agrees_with_why_on_every_decision(built: Built) -> None:
    store = open_store(built.cfg.store_url)
    try:
        flagged = {v.idx for v in monitor(store).violations}
    finally:
        store.close()
    with open_log(built.cfg, readonly=True) as log:
        decisions = [e.idx for e in log.tail(100, kind="decision")]
        for idx in decisions:
            result = explain(log, idx)
            binding = [c for c in result.checks if "inclusion" not in c.text]
            holds = all(c.ok is not False for c in binding)
            assert holds == (idx not in flagged), (idx, result.checks)


def test_a_rewritten_config_idx_is_caught(tmp_path: Path) -> None:
    b = _build(tmp_path)
    conn = sqlite3.connect(tmp_path / "audit.db")
    body: bytes = conn.execute("SELECT body FROM entries WHERE idx = ?", (b.ok,)).fetchone()[0]
    forged = body.replace(b'"config_idx":', b'"config_idx":1', 1)  # 10 → 110 and so on
    conn.execute("UPDATE entries SET body = ? WHERE idx = ?", (forged, b.ok))
    conn.commit()
    conn.close()
    store = open_store(b.cfg.store_url)
    try:
        report = monitor(store)
    finally:
        store.close()
    assert report.counts["config_idx"] == 1
    assert any(v.idx == b.ok and v.rule == "config_idx" for v in report.violations)


def test_a_clean_log_passes_and_the_command_reports_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.audit.conftest import make_config

    cfg = make_config(tmp_path)
    with open_log(cfg) as log:
        gate = log.append("eval_gate", {"suite": "s", "run": "r", "result": "pass"})
        log.append("model_version", {"model": "m", "version": "1", "eval_gate_idx": gate})
        log.append_many("decision", [{"decision": "d", "model": {"id": "m", "version": "1"}}] * 50)
        log.decision(decision="no model named")
    assert main(["audit", "monitor", "--store", cfg.store_url]) == 0
    out = capsys.readouterr().out
    assert "51 decisions" in out
    assert out.count("✓") == 3
    assert main(["audit", "monitor", "--store", cfg.store_url, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True
    assert data["decisions"] == 51
    assert main(["audit", "monitor", "--store", str(tmp_path / "missing.db")]) == 2


def test_the_command_exits_1_and_lists_violations(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "monitor", "--store", built.cfg.store_url, "--show", "2"]) == 1
    out = capsys.readouterr().out
    assert "✗ model: 1 decision(s) do not hold" in out
    assert "… 2 more" in out
