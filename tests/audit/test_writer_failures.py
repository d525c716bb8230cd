"""The writer when things fail: a full store in fail_mode open (the gap recorded on close, every
lost async entry counted), a bulk call cut in parts with no hole, published waiters told when no
checkpoint can be stored, and a writer that crashes mid-commit failing the callers it held."""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from tests.audit.conftest import make_config

from mondaytest.audit import WriterSettings, open_log
from mondaytest.audit import writer as w
from mondaytest.errors import StoreError

BIG = {"decision": "triage", "outcome": {"note": "x" * 8000}}


def _pages(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("PRAGMA page_count").fetchone()[0])
    finally:
        conn.close()


def test_a_fail_open_gap_is_recorded_when_the_log_closes(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, fail_mode="open")
    with open_log(cfg) as log:
        log.decision(decision="triage")
    full = replace(cfg, store_url=f"{cfg.store_url}?max_page_count={_pages(tmp_path / 'audit.db')}")
    log = open_log(full)
    assert [log.decision(BIG) for _ in range(3)] == [None, None, None]
    log.store._max_pages = None  # type: ignore[attr-defined]  # the disk has room again
    log.close()
    with open_log(cfg, readonly=True) as again:
        gaps = [e for e in again.tail(20) if e.kind == "fail_open"]
    assert [g.payload["lost"] for g in gaps] == [3]


def test_every_lost_async_entry_is_counted(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, fail_mode="open")
    with open_log(cfg) as log:
        log.decision(decision="triage")
    full = replace(cfg, store_url=f"{cfg.store_url}?max_page_count={_pages(tmp_path / 'audit.db')}")
    with open_log(full) as log:
        for _ in range(40):
            log.decision(BIG, durability="async")
        log.flush()
        log.store._max_pages = None  # type: ignore[attr-defined]
        log.decision(decision="after")  # takes the failure and records the gap
    with open_log(cfg, readonly=True) as again:
        gaps = [e for e in again.tail(50) if e.kind == "fail_open"]
    assert sum(g.payload["lost"] for g in gaps) == 40


def test_a_bulk_call_cut_in_parts_leaves_no_hole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(w, "MAX_SUBMISSION", 10)
    cfg = make_config(tmp_path, writer=WriterSettings(max_batch=10))  # one part per commit
    calls = {"n": 0}
    with open_log(cfg) as log:
        log.checkpoint()
        real = log._get_writer()._sequencer.append

        def second_part_fails(drafts: list[object], **kw: object) -> list[int]:
            calls["n"] += 1
            if calls["n"] == 2:
                raise StoreError("the store is full")
            return real(drafts, **kw)  # type: ignore[arg-type]

        log._get_writer()._sequencer.append = second_part_fails  # type: ignore[method-assign]
        size = log.size()
        with pytest.raises(StoreError, match="full"):
            log.append_many("decision", [{"decision": f"d{i}"} for i in range(30)])
        log.flush()
        assert log.size() == size + 10  # the first part only: the third was not written


def test_published_waiters_learn_when_no_checkpoint_can_be_stored(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, writer=WriterSettings(checkpoint_interval=0.05))
    with open_log(cfg) as log:
        log.checkpoint()
        writer = log._get_writer()

        def refuse(*args: object, **kwargs: object) -> object:
            raise StoreError("the store is full")

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(w, "publish_checkpoint", refuse)
            with pytest.raises(StoreError, match="committed, but no signed checkpoint"):
                log.decision(decision="triage", durability="published")
        assert writer.alive


def test_a_writer_that_crashes_mid_commit_fails_the_callers_it_held(tmp_path: Path) -> None:
    logging.disable(logging.CRITICAL)
    try:
        log = open_log(make_config(tmp_path))
        log.decision(decision="triage")

        def boom(drafts: object, **kw: object) -> object:
            raise RuntimeError("a bug")

        log._get_writer()._sequencer.append = boom  # type: ignore[method-assign]
        result: dict[str, object] = {}

        def call() -> None:
            try:
                result["r"] = log.decision(decision="triage")
            except StoreError as exc:
                result["r"] = exc

        t = threading.Thread(target=call, daemon=True)
        t.start()
        t.join(10)
        assert not t.is_alive()
        assert isinstance(result["r"], StoreError)
        assert "crashed" in str(result["r"])
    finally:
        logging.disable(logging.NOTSET)
