"""The public API on a real SQLite file: appends, durability, config_idx, receipts, keys."""

from __future__ import annotations

import itertools
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from tests.audit.conftest import ORIGIN, make_config

from mondaytest.audit import LogConfig, WriterSettings, open_log
from mondaytest.audit.checkpoint import open_checkpoint
from mondaytest.audit.keys import KeyMismatch, generate_key_file
from mondaytest.audit.verify import fsck, verify_receipt_bytes
from mondaytest.errors import ConfigError, InputError, StoreError


def test_append_decision_and_config_idx(config: LogConfig) -> None:
    with open_log(config) as log:
        d0 = log.decision(decision="triage", outcome={"code": "a"})
        mv = log.append("model_version", {"model": "m", "version": "2"})
        log.append("access", {"purpose": "debug"})  # not configuration
        log.append("page", {"page": "p1", "severity": "P1", "target": "ana"})
        d1 = log.decision({"decision": "triage"})
        w = log.append(
            "waiver", {"action": "grant", "target": "x", "reason": "r", "approver": "maya"}
        )
        d2 = log.decision(decision="triage")
        assert d0 == 1  # entry 0 is the genesis entry
        assert log.entry(0).kind == "log_genesis"
        assert log.entry(0).payload["vkey"] == config.vkey
        assert log.entry(d0).config_idx == 0  # type: ignore[arg-type]
        assert log.entry(d1).config_idx == mv  # type: ignore[arg-type]
        assert log.entry(d2).config_idx == w  # type: ignore[arg-type]
        assert [e.kind for e in log.tail(3)] == ["decision", "waiver", "decision"]
        assert [e.idx for e in log.tail(5, kind="page")] == [4]
        assert log.find(log.entry(d1).id) == d1


def test_bad_input_is_refused_before_anything_is_written(config: LogConfig) -> None:
    with open_log(config) as log:
        log.decision(decision="triage")
        size = log.size()
        with pytest.raises(InputError, match="unknown entry kind"):
            log.append("no_such_kind", {})
        with pytest.raises(InputError, match="float"):
            log.decision(decision="triage", outcome={"score": 0.9})
        with pytest.raises(InputError, match="either as a payload"):
            log.decision({"decision": "x"}, decision="y")
        assert log.size() == size


def test_durability_modes(config: LogConfig) -> None:
    cfg = replace(config, writer=WriterSettings(checkpoint_interval=0.3, max_wait=0.05))
    with open_log(cfg) as log:
        assert log.decision(decision="triage", durability="async") is None
        log.flush()
        assert log.size() == 2
        idx = log.decision(decision="triage", durability="published")
        assert idx is not None
        cp = log.latest_checkpoint()
        assert cp is not None
        assert cp.size > idx
        seq = log.decision(decision="triage")
        assert seq == idx + 1


def test_many_threads_one_writer(config: LogConfig) -> None:
    with open_log(config) as log:
        got: list[int] = []
        lock = threading.Lock()

        def work() -> None:
            for _ in range(50):
                i = log.decision(decision="triage")
                assert i is not None
                with lock:
                    got.append(i)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(got) == list(range(1, 401))
        report = fsck(log.store, log.verifiers())
        assert report.ok, report.findings


def test_receipt_round_trip(config: LogConfig) -> None:
    with open_log(config) as log:
        for _ in range(10):
            log.decision(decision="triage")
        idx = log.decision(decision="triage", outcome={"code": "refer"})
        assert idx is not None
        data = log.receipt(idx)
        by_id = log.receipt(log.entry(idx).id)
        verifiers = log.verifiers()
    assert data.startswith(b"c2sp.org/tlog-proof@v1\n")
    assert by_id.split(b"index ")[1].split(b"\n")[0] == str(idx).encode()
    ok = verify_receipt_bytes(data, verifiers)
    assert ok.index == idx
    assert ok.checkpoint.origin == ORIGIN


def test_checkpoint_is_signed_by_the_log_key(config: LogConfig) -> None:
    with open_log(config) as log:
        log.decision(decision="triage")
        cp = log.checkpoint()
        opened = open_checkpoint(cp.note, log.verifiers(), origin=ORIGIN)
        assert opened.size == cp.size == log.size()


def test_key_that_does_not_match_the_vkey_stops_the_writer(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    other = tmp_path / "other.key"
    generate_key_file(other, ORIGIN)
    with pytest.raises(KeyMismatch, match="not the key of the recorded vkey"):
        open_log(replace(cfg, key=f"file:{other}"))
    with pytest.raises(ConfigError, match=r"audit\.vkey is not set"):
        open_log(replace(cfg, vkey=None))
    assert not (tmp_path / "audit.db").exists()


def test_one_store_one_origin(config: LogConfig) -> None:
    with open_log(config) as log:
        log.decision(decision="triage")
    with pytest.raises(ConfigError, match="holds the log"):
        open_log(replace(config, origin="monday.test/other"), readonly=True)


def test_readonly_log_cannot_write(config: LogConfig) -> None:
    with open_log(config, readonly=True) as log, pytest.raises(ConfigError, match="read-only"):
        log.decision(decision="triage")


def test_full_disk_fail_closed_writes_nothing_half(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    with open_log(cfg) as log:
        log.decision(decision="triage")
        log.checkpoint()
    pages = sqlite3.connect(tmp_path / "audit.db").execute("PRAGMA page_count").fetchone()[0]
    full = replace(cfg, store_url=f"{cfg.store_url}?max_page_count={pages + 2}")
    log = open_log(full)
    big = {"decision": "triage", "outcome": {"note": "x" * 3000}}

    def fill() -> None:
        for _ in range(200):
            log.append_drafts([log.draft("decision", big) for _ in range(20)])

    with pytest.raises(StoreError, match="is full") as info:
        fill()
    assert "nothing of it was written" in str(info.value)
    size_after = log.size()
    log.close()
    with open_log(cfg) as again:
        report = fsck(again.store, again.verifiers())
        assert report.ok, report.findings
        assert again.size() == size_after
        # every committed batch is whole: sizes are 2 + a multiple of 20
        assert (again.size() - 2) % 20 == 0


def test_fail_open_records_the_gap(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, fail_mode="open")
    with open_log(cfg) as log:
        log.decision(decision="triage")
    pages = sqlite3.connect(tmp_path / "audit.db").execute("PRAGMA page_count").fetchone()[0]
    log = open_log(replace(cfg, store_url=f"{cfg.store_url}?max_page_count={pages}"))
    big = {"decision": "triage", "outcome": {"note": "x" * 8000}}
    assert log.decision(big) is None  # fail-open: no exception
    assert log.decision(big) is None
    log.close()
    log = open_log(replace(cfg, store_url=f"{cfg.store_url}?max_page_count={pages}"))
    assert log.decision(big) is None
    log.store.max_pages = None  # type: ignore[attr-defined]  # the disk has room again
    idx = log.decision(decision="triage")
    assert idx is not None
    gap = log.tail(2)
    log.close()
    kinds = [e.kind for e in gap]
    assert "fail_open" in kinds
    fo = next(e for e in gap if e.kind == "fail_open")
    assert fo.payload["lost"] == 1
    assert "full" in fo.payload["reason"]


def test_unsupported_store_urls(config: LogConfig) -> None:
    with pytest.raises(InputError, match="PostgreSQL"):
        open_log(replace(config, store_url="postgresql://localhost/x"))
    with pytest.raises(InputError, match="unsupported store URL"):
        open_log(replace(config, store_url="mysql://x"))
    with pytest.raises(InputError, match="has a host"):
        open_log(replace(config, store_url="sqlite://host/x.db"))


def test_checkpoint_cadence_under_load_and_when_idle(config: LogConfig) -> None:
    import time

    cfg = replace(config, writer=WriterSettings(checkpoint_interval=0.5, republish_interval=0.6))
    with open_log(cfg) as log:
        start = time.monotonic()
        while time.monotonic() - start < 2.0:  # steady load for two seconds
            log.decision(decision="triage")
        under_load = log.store.checkpoints()
        # at most one per interval (plus the first), and every one covers more entries
        assert 2 <= len(under_load) <= 2.0 / 0.5 + 2
        gaps = [b.created_at - a.created_at for a, b in itertools.pairwise(under_load)]
        assert min(gaps) >= 0.45
        size = log.size()
        time.sleep(1.5)  # idle: a fresh checkpoint of the same size proves liveness
        idle = log.store.checkpoints()[len(under_load) :]
        assert idle
        assert all(cp.size == size for cp in idle)
