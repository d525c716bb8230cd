"""Regressions found in review: deep nesting, empty ids, the shared-members cache, the reserved
``decision`` kind, ``why`` on a pruned log and with a domain kind this process does not know,
and markup in an entry id."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.audit.conftest import make_config

from mondaytest._util.canonical import MAX_DEPTH
from mondaytest.audit import open_log
from mondaytest.audit.entries import (
    ThresholdPayload,
    decode_entry,
    draft_decision,
    draft_many,
    draft_state_change,
    kinds,
    register_kind,
)
from mondaytest.audit.retention import enforce_retention
from mondaytest.audit.verify import fsck
from mondaytest.audit.why import explain
from mondaytest.cli.app import main
from mondaytest.errors import InputError

ORIGIN = "monday.test/audit/review"


def _nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def test_nesting_is_bounded_and_what_fits_is_written_and_read_back(tmp_path: Path) -> None:
    # envelope, payload and outcome are three levels: the outcome's value may nest the rest
    fits = {"decision": "t", "outcome": {"a": _nested(MAX_DEPTH - 3)}}
    too_deep = {"decision": "t", "outcome": {"a": _nested(MAX_DEPTH - 2)}}
    with pytest.raises(InputError, match=f"deeper than {MAX_DEPTH} levels"):
        draft_decision(too_deep, origin=ORIGIN)
    with pytest.raises(InputError, match=f"payload 1: .*deeper than {MAX_DEPTH} levels"):
        draft_many("decision", [fits, too_deep], origin=ORIGIN)
    with pytest.raises(InputError):  # far deeper: refused, never a RecursionError
        draft_decision({"decision": "t", "outcome": {"a": _nested(5000)}}, origin=ORIGIN)
    cfg = make_config(tmp_path)
    with open_log(cfg) as log:
        idx = log.decision(fits)
        assert idx is not None
        assert log.entry(idx).payload["outcome"] == fits["outcome"]
        assert fsck(log.store, log.verifiers(), deep=True).ok


def test_an_empty_id_or_timestamp_gets_a_fresh_one_on_every_path() -> None:
    fast = draft_decision({"decision": "t"}, origin=ORIGIN, entry_id="", ts="")
    assert fast.entry_id
    assert fast.ts
    fields = decode_entry(fast.finish(1, None)).fields
    assert fields["id"] == fast.entry_id
    assert fields["ts"] == fast.ts


def test_the_config_flag_follows_the_kind_when_it_is_registered_again() -> None:
    register_kind("review_cache_kind", ThresholdPayload, config=False)
    payload = {"name": "t", "value": "1"}
    try:
        before = draft_state_change("review_cache_kind", payload, origin=ORIGIN)
        assert before.fields["config"] is False
        register_kind("review_cache_kind", ThresholdPayload, config=True, replace=True)
        after = draft_state_change("review_cache_kind", payload, origin=ORIGIN)
        assert after.is_config
        assert after.fields["config"] is True
    finally:
        from mondaytest.audit import entries

        entries._REGISTRY.pop("review_cache_kind", None)


def test_decision_is_not_a_kind_name() -> None:
    with pytest.raises(ValueError, match="reserved"):
        register_kind("decision", ThresholdPayload, config=False)
    assert "decision" not in kinds()


def test_why_on_a_log_pruned_by_retention(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    old = "2020-01-01T00:00:00.000000Z"
    with open_log(cfg) as log:
        gate = log.append_drafts(
            [log.draft("eval_gate", {"suite": "s", "run": "r", "result": "pass"}, ts=old)]
        )[0]
        log.append_drafts(
            [
                log.draft(
                    "model_version", {"model": "m", "version": "1", "eval_gate_idx": gate}, ts=old
                )
            ]
        )
        later = "2039-06-01T00:00:00.000000Z"
        model = {"decision": "t", "model": {"id": "m", "version": "1"}}
        d = log.append_drafts([log.draft("decision", model, ts=later)])[0]
        assert d is not None
        pruned = enforce_retention(log, now=datetime(2040, 1, 1, tzinfo=UTC))
        assert pruned.min_index > 2
        log.checkpoint()
    with open_log(cfg, readonly=True) as log:
        result = explain(log, d)
    assert result.ok  # what was pruned is said, not failed
    notes = [c.text for c in result.checks if c.ok is None]
    assert any("pruned by retention" in t for t in notes)
    assert result.in_force == ()


_AUDITOR = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from tests.audit.conftest import make_config
    from mondaytest.audit import open_log
    from mondaytest.audit.why import explain
    with open_log(make_config(Path({tmp!r})), readonly=True) as log:
        r = explain(log, {idx})
    print(r.ok)
    print([(f.kind, f.key) for f in r.in_force])
    """
)


def test_why_in_a_process_that_does_not_know_a_domains_configuration_kind(
    tmp_path: Path,
) -> None:
    register_kind("review_flag", ThresholdPayload, config=True, config_key="name")
    try:
        cfg = make_config(tmp_path)
        with open_log(cfg) as log:
            log.append("model_version", {"model": "m", "version": "1"})
            log.append("review_flag", {"name": "fast_path", "value": "1"})
            d = log.decision(decision="t")
            log.checkpoint()
    finally:
        from mondaytest.audit import entries

        entries._REGISTRY.pop("review_flag", None)
    root = str(Path(__file__).resolve().parents[2])
    script = _AUDITOR.format(root=root, tmp=str(tmp_path), idx=d)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "True"  # config_idx checked from the entries' own marks
    assert "('review_flag', None)" in out[1]  # shown, though this process has no model for it


def test_an_entry_id_with_markup_is_printed_as_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = make_config(tmp_path)
    with open_log(cfg) as log:
        idx = log.append_drafts([log.draft("decision", {"decision": "t"}, entry_id="req-42[/]")])[0]
        log.checkpoint()
    assert main(["audit", "why", str(idx), "--store", cfg.store_url, "--vkey", str(cfg.vkey)]) == 0
    assert "req-42[/]" in capsys.readouterr().out
