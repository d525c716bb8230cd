"""Regressions found in review: deep nesting, empty ids, the shared-members cache, the reserved
``decision`` kind, ``why`` on a pruned log and with a domain kind this process does not know,
and markup in an entry id."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import create_model
from tests.audit.conftest import make_config

from mondaytest._util.canonical import MAX_DEPTH
from mondaytest.audit import open_log
from mondaytest.audit.entries import (
    Payload,
    ThresholdPayload,
    decode_entry,
    draft_decision,
    draft_many,
    draft_state_change,
    kinds,
    register_kind,
)
from mondaytest.audit.monitor import monitor
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
        log.checkpoint()
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


def test_an_entry_with_markup_is_printed_as_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = make_config(tmp_path)
    with open_log(cfg) as log:
        idx = log.append_drafts([log.draft("decision", {"decision": "req-42[/]"})])[0]
        log.checkpoint()
    assert main(["audit", "why", str(idx), "--store", cfg.store_url, "--vkey", str(cfg.vkey)]) == 0
    assert "req-42[/]" in capsys.readouterr().out


def test_a_tasks_entries_keep_the_order_it_recorded_them_in(tmp_path: Path) -> None:
    async def main(log: Any) -> int:
        async def other() -> None:
            await log.adecision(decision="other")

        async def mine() -> int:
            queued = await log.aappend(
                "model_version", {"model": "m", "version": "2"}, durability="async"
            )
            assert queued is None
            idx = await log.adecision(decision="mine", model={"id": "m", "version": "2"})
            assert idx is not None
            return int(idx)

        first = asyncio.create_task(other())  # opens this tick's submission
        second = asyncio.create_task(mine())  # same tick: an async entry, then a decision
        await first
        return await second

    for trial in range(10):
        cfg = make_config(tmp_path / str(trial))
        with open_log(cfg) as log:
            decision = asyncio.run(main(log))
            log.flush()
            release = next(e.idx for e in log.tail(10) if e.kind == "model_version")
            assert release < decision
            assert log.entry(decision).config_idx == release


def test_a_revoked_release_waiver_no_longer_approves(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    grant = {"action": "grant", "target": "release:m", "reason": "r", "approver": "ana"}
    with open_log(cfg) as log:
        w = log.append("waiver", grant)
        log.append("model_version", {"model": "m", "version": "1", "waiver_idx": w})
        before = log.decision(decision="t", model={"id": "m", "version": "1"})
        revoke = log.append("waiver", {**grant, "action": "revoke"})
        after = log.decision(decision="t", model={"id": "m", "version": "1"})
        log.append("model_version", {"model": "m", "version": "2", "waiver_idx": revoke})
        bound_to_revoke = log.decision(decision="t", model={"id": "m", "version": "2"})
        log.checkpoint()
    with open_log(cfg, readonly=True) as log:
        assert explain(log, before).ok
        late = explain(log, after)
        assert not late.ok
        assert any("revoked before the decision" in c.text for c in late.checks)
        wrong = explain(log, bound_to_revoke)
        assert any("revokes a waiver, not grants one" in c.text for c in wrong.checks)
        report = monitor(log.store)
    assert {v.idx for v in report.violations} == {after, bound_to_revoke}
    assert report.waived == 1


def test_monitor_says_what_retention_pruned_instead_of_failing_it(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    old, late = "2020-01-01T00:00:00.000000Z", "2039-06-01T00:00:00.000000Z"
    with open_log(cfg) as log:
        gate = log.append_drafts(
            [log.draft("eval_gate", {"suite": "s", "run": "r", "result": "pass"}, ts=old)]
        )[0]
        release = {"model": "m", "version": "1", "eval_gate_idx": gate}
        log.append_drafts([log.draft("model_version", release, ts=late)])
        model = {"decision": "t", "model": {"id": "m", "version": "1"}}
        log.append_drafts([log.draft("decision", model, ts=late)])
        assert enforce_retention(log, now=datetime(2040, 1, 1, tzinfo=UTC)).min_index == 2
        report = monitor(log.store)
    assert report.ok
    assert report.unchecked == 1


def test_a_field_typed_deeper_than_the_limit_is_still_depth_checked() -> None:
    nested: Any = str
    for _ in range(MAX_DEPTH):
        nested = list[nested]
    deep_model = create_model("DeepPayload", __base__=Payload, x=(nested, ...))
    register_kind("review_deep", deep_model, config=False)
    try:
        value: Any = "s"
        for _ in range(MAX_DEPTH):
            value = [value]
        with pytest.raises(InputError, match="deeper than"):
            draft_state_change("review_deep", {"x": value}, origin=ORIGIN)
        with pytest.raises(InputError, match="deeper than"):
            draft_many("review_deep", [{"x": value}], origin=ORIGIN)
        with pytest.raises(InputError, match="deeper than"):
            draft_state_change("review_deep", deep_model(x=value), origin=ORIGIN)
    finally:
        from mondaytest.audit import entries

        entries._REGISTRY.pop("review_deep", None)
        entries._FAST.pop(deep_model, None)
