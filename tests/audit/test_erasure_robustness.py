"""Erasure and retention that cannot leave personal data behind: nothing destroyed when the
erasure entry cannot be written, an owed entry written by trying again, a write-ahead log kept
busy reported (exit 3) and scrubbed later, refused decisions that leave nothing in the vault,
retention without the vault key, and backups under awkward names."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.audit.conftest import make_config

from mondaytest.audit import LogConfig, open_log
from mondaytest.audit.log import ErasureNotScrubbed
from mondaytest.audit.retention import enforce_retention
from mondaytest.audit.vault import UnknownSubject, write_master_key
from mondaytest.cli.app import main
from mondaytest.errors import ConfigError, InputError, StoreError

RAW = "Claim by Jane Q. Public, IBAN DE44500105175407324931"


@pytest.fixture
def vconfig(tmp_path: Path) -> LogConfig:
    write_master_key(tmp_path / "vault.key")
    return make_config(tmp_path, vault_key=f"file:{tmp_path / 'vault.key'}")


def _db(config: LogConfig) -> Path:
    return Path(config.store_url.removeprefix("sqlite:///").split("?")[0])


def _vault_rows(config: LogConfig) -> int:
    conn = sqlite3.connect(_db(config))
    try:
        return int(conn.execute("SELECT COUNT(*) FROM vault_values").fetchone()[0])
    finally:
        conn.close()


def _files(config: LogConfig) -> bytes:
    db = _db(config)
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())


def test_a_refused_decision_leaves_nothing_in_the_vault(vconfig: LogConfig) -> None:
    with open_log(vconfig) as log:
        log.decision(decision="t", subject_id="s-0", raw={"input": "kept"})
        before = _vault_rows(vconfig)
        for bad in ({"outcome": {"score": 0.5}}, {"latency_ms": "slow"}, {"extra": 1}):
            with pytest.raises(InputError):
                log.decision(decision="t", subject_id="s-1", raw={"input": RAW}, **bad)
        assert _vault_rows(vconfig) == before
        with pytest.raises(UnknownSubject):
            log.vault().erase("s-1")


def test_a_legal_basis_that_is_not_a_ticket_id_destroys_nothing(vconfig: LogConfig) -> None:
    with open_log(vconfig) as log:
        log.decision(decision="t", subject_id="s-1", raw={"input": RAW})
        size = log.size()
        with pytest.raises(InputError, match="legal_basis_ref"):
            log.erase("s-1", legal_basis_ref="request by Jane Doe <jane@example.com>")
        assert _vault_rows(vconfig) == 1
        assert log.size() == size
        idx, records = log.erase("s-1", legal_basis_ref="DSAR-2026/114")
        assert records == 1
        assert log.entry(idx).payload["legal_basis_ref"] == "DSAR-2026/114"


def test_a_read_only_log_refuses_before_destroying_anything(vconfig: LogConfig) -> None:
    with open_log(vconfig) as log:
        log.decision(decision="t", subject_id="s-1", raw={"input": RAW})
    with open_log(vconfig, readonly=True) as log, pytest.raises(ConfigError, match="read-only"):
        log.erase("s-1")
    assert _vault_rows(vconfig) == 1


def test_an_erasure_whose_entry_failed_is_recorded_by_trying_again(vconfig: LogConfig) -> None:
    cfg = replace(vconfig, store_url=vconfig.store_url + "?busy_timeout=300")
    with open_log(cfg) as log:
        log.decision(decision="t", subject_id="s-1", raw={"input": RAW, "output": "o"})
        log.flush()
        size = log.size()
        holder = os.open(f"{_db(cfg)}-lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(holder, fcntl.LOCK_EX)  # another writer holds the store
            with pytest.raises(StoreError, match="run the same erase again"):
                log.erase("s-1", legal_basis_ref="T-1")
        finally:
            fcntl.flock(holder, fcntl.LOCK_UN)
            os.close(holder)
        assert _vault_rows(cfg) == 0  # destroyed: the entry is owed
    with open_log(cfg) as log:  # a new process, say: the same command again
        assert log.size() == size
        idx, records = log.erase("s-1", legal_basis_ref="T-1")
        assert records == 2
        assert log.entry(idx).kind == "erasure"
        with pytest.raises(UnknownSubject):  # owed no more
            log.erase("s-1")


def test_an_erasure_a_reader_keeps_from_scrubbing_says_so_and_scrub_finishes_it(
    vconfig: LogConfig,
) -> None:
    with open_log(vconfig) as log:
        log.decision(decision="t", subject_id="s-1", raw={"input": RAW})
        log.checkpoint()
        log.vault().scrub_timeout = 0.2
        reader = sqlite3.connect(_db(vconfig))
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM entries").fetchone()  # holds a snapshot
        try:
            with pytest.raises(ErasureNotScrubbed, match="write-ahead log still holds") as err:
                log.erase("s-1", legal_basis_ref="T-1")
            assert err.value.exit_code == 3
            assert log.tail(1)[0].kind == "erasure"  # the entry is written all the same
        finally:
            reader.rollback()
            reader.close()
    with open_log(vconfig) as log:
        assert log.scrub(5)
    assert RAW.encode() not in _files(vconfig)


def test_retention_expires_vault_values_without_the_vault_key(vconfig: LogConfig) -> None:
    with open_log(vconfig) as log:
        log.decision(decision="t", subject_id="s-1", raw={"input": RAW})
    key = Path(str(vconfig.vault_key).removeprefix("file:"))
    key.unlink()  # this host holds no vault key
    later = datetime.now(UTC) + timedelta(days=7 * 366 + 2)
    with open_log(vconfig) as log:
        result = enforce_retention(log, now=later)
    assert result.expired_records == 1
    assert _vault_rows(vconfig) == 0


def test_a_retention_period_out_of_range_is_a_config_error(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, retention="P99999Y")
    with open_log(cfg) as log, pytest.raises(ConfigError, match="not a usable ISO 8601"):
        enforce_retention(log)


def test_a_backup_under_a_name_with_url_characters_is_the_file_checked(
    vconfig: LogConfig, tmp_path: Path
) -> None:
    with open_log(vconfig) as log:
        log.append_many("decision", [{"decision": "t"}] * 20)
        for name in ("copy#1.db", "copy?x=1.db"):
            report = log.backup(tmp_path / name)
            assert report.size == log.size()
            assert not (tmp_path / "copy").exists()


def test_erase_and_retention_refuse_a_store_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"sqlite:///{tmp_path / 'typo' / 'audit.db'}"
    assert main(["audit", "erase", "someone", "--store", missing]) == 2
    assert main(["audit", "retention", "--store", missing]) == 2
    assert not (tmp_path / "typo").exists()


def test_a_dry_run_says_what_retention_would_expire_and_changes_nothing(
    vconfig: LogConfig,
) -> None:
    with open_log(vconfig) as log:
        log.decision(decision="t", subject_id="s-1", raw={"input": RAW, "output": "o"})
        log.decision(decision="t", subject_id="s-2", raw={"input": RAW})
        size = log.size()
    later = datetime.now(UTC) + timedelta(days=7 * 366 + 2)
    with open_log(vconfig) as log:
        preview = enforce_retention(log, now=later, dry_run=True)
        assert (preview.expired_records, preview.expired_subjects) == (3, 2)
        assert preview.min_index > preview.previous_min_index
        assert preview.entry is None
        assert log.size() == size
        assert _vault_rows(vconfig) == 3
        done = enforce_retention(log, now=later)
    assert (done.expired_records, done.expired_subjects) == (3, 2)
    assert done.min_index == preview.min_index
