"""Personal data stays out of leaves; erasure, retention and backup keep every proof valid."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.audit.conftest import make_config

from mondaytest.audit import LogConfig, open_log
from mondaytest.audit.retention import enforce_retention
from mondaytest.audit.vault import UnknownSubject, write_master_key
from mondaytest.audit.verify import fsck, verify_receipt_bytes
from mondaytest.errors import InputError

RAW_INPUT = "Claim by Jane Q. Public, IBAN DE44500105175407324931, phone +44 20 7946 0958"
RAW_OUTPUT = "fraud-review because of the 3rd claim this month for jane.q.public@example.org"


@pytest.fixture
def vconfig(tmp_path: Path) -> LogConfig:
    write_master_key(tmp_path / "vault.key")
    return make_config(tmp_path, vault_key=f"file:{tmp_path / 'vault.key'}")


def _files(config: LogConfig) -> bytes:
    db = Path(config.store_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())


def test_raw_values_go_to_the_vault_and_erasure_removes_them(vconfig: LogConfig) -> None:
    with open_log(vconfig) as log:
        idx = log.decision(
            decision="triage",
            outcome={"code": "fraud"},
            subject_id="customer-7781",
            raw={"input": RAW_INPUT, "output": RAW_OUTPUT, "notes": "called twice"},
        )
        assert idx is not None
        other = log.decision(decision="triage", subject_id="customer-1", raw={"input": "x"})
        entry = log.entry(idx)
        assert entry.payload["subject"].startswith("tok:")
        assert entry.payload["input"].startswith("c:")
        assert entry.payload["outcome"]["commitments"]["notes"].startswith("c:")
        assert b"customer-7781" not in entry.raw
        assert RAW_INPUT.encode() not in entry.raw
        opened = log.vault().opening(entry.payload["input"])
        assert opened.value == RAW_INPUT
        receipt = log.receipt(idx)
        for raw in (RAW_INPUT, RAW_OUTPUT, "customer-7781"):
            assert raw.encode() not in _files(vconfig)  # encrypted at rest, even before
        erased_at, records = log.erase("customer-7781", legal_basis_ref="DSAR-2026-114")
        assert records == 3
        erasure = log.entry(erased_at)
        assert erasure.kind == "erasure"
        assert erasure.payload == {
            "subject": entry.payload["subject"],
            "scope": "all",
            "records": 3,
            "legal_basis_ref": "DSAR-2026-114",
        }
        with pytest.raises(InputError):
            log.vault().opening(entry.payload["input"])
        with pytest.raises(UnknownSubject):
            log.erase("customer-7781")  # nothing left: refused, and no second entry
        assert log.size() == erased_at + 1
        assert log.vault().opening(log.entry(other).payload["input"]).value == "x"  # type: ignore[arg-type]
        verifiers = log.verifiers()
        report = fsck(log.store, verifiers)
        assert report.ok, report.findings
    verify_receipt_bytes(receipt, verifiers)  # the old receipt still verifies
    data = _files(vconfig)
    for raw in (RAW_INPUT, RAW_OUTPUT, "customer-7781"):
        assert raw.encode() not in data
    wal = Path(vconfig.store_url.removeprefix("sqlite:///") + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_the_data_key_bytes_are_gone_from_the_file_and_the_wal(vconfig: LogConfig) -> None:
    import sqlite3

    with open_log(vconfig) as log:
        log.decision(decision="triage", subject_id="s-1", raw={"input": "secret one"})
        db = vconfig.store_url.removeprefix("sqlite:///")
        conn = sqlite3.connect(db)
        cells = [
            bytes(c)
            for row in conn.execute("SELECT * FROM vault_subjects")
            for c in row
            if isinstance(c, bytes) and len(c) >= 16
        ]
        values = [
            bytes(c)
            for row in conn.execute("SELECT * FROM vault_values")
            for c in row
            if isinstance(c, bytes) and len(c) >= 16
        ]
        conn.close()
        assert cells
        assert values
        log.erase("s-1")
    data = _files(vconfig)
    for blob in cells + values:
        assert blob not in data


def test_retention_raises_the_minimum_index_and_expires_the_vault(vconfig: LogConfig) -> None:
    config = replace(vconfig, retention="P200D")
    old = (datetime.now(UTC) - timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    with open_log(config) as log:
        for _ in range(5):
            log.append_drafts([log.draft("decision", {"decision": "t"}, ts=old)])
        first_new = log.decision(decision="t", subject_id="p-1", raw={"input": "raw text"})
        assert first_new is not None
        result = enforce_retention(log, now=datetime.now(UTC))
        # entries 1..5 are old, but the genesis entry before them is recent: nothing is pruned
        assert result.min_index == 0
        assert result.entry is None
        later = datetime.now(UTC) + timedelta(days=201)
        result = enforce_retention(log, now=later)
        assert result.previous_min_index == 0
        assert result.min_index == log.size() - 1  # all but the retention entry just written
        assert result.entry == log.size() - 1
        assert result.expired_records == 1  # the vault value is past retention then too
        assert log.entry(result.entry).payload["expired_records"] == 1
        assert not result.below_floor
        with pytest.raises(InputError, match="retention pruned it"):
            log.entry(first_new)
        with pytest.raises(InputError, match="retention pruned it"):
            log.receipt(first_new)
        assert [e.kind for e in log.tail(50)] == ["retention"]
        again = enforce_retention(log)  # today: the retention entry itself is recent
        assert again.entry is None
        assert again.min_index == result.min_index  # the minimum index never goes down
        report = fsck(log.store, log.verifiers())
        assert report.ok, report.findings


def test_backup_is_consistent_and_verified(vconfig: LogConfig, tmp_path: Path) -> None:
    with open_log(vconfig) as log:
        for _ in range(50):
            log.decision(decision="t", durability="async")
        report = log.backup(tmp_path / "copy.db")
        assert report.ok
        assert report.size == log.size()
        with pytest.raises(InputError, match="exists"):
            log.backup(tmp_path / "copy.db")
    restored = replace(vconfig, store_url=f"sqlite:///{tmp_path / 'copy.db'}")
    with open_log(restored) as log:
        assert log.decision(decision="t") == report.size


def test_without_a_vault_key_raw_values_are_refused(tmp_path: Path) -> None:
    with open_log(make_config(tmp_path)) as log, pytest.raises(Exception, match="vault"):
        log.decision(decision="t", subject_id="x", raw={"input": "y"})
