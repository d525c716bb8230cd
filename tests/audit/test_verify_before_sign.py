"""Verify-before-sign: a checkpoint is never signed over a stored tree that does not match its
own entries or the last signed checkpoint, and the writer stops for good when that happens."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.audit.conftest import make_config

from mondaytest.audit import LogConfig, open_log
from mondaytest.audit.log import _load_signers
from mondaytest.audit.merkle import leaf_hash
from mondaytest.audit.publisher import IntegrityError, publish_checkpoint
from mondaytest.audit.store import open_store

N = 600


def _grown(tmp_path: Path) -> tuple[LogConfig, Path, int]:
    """A store with a checkpoint at its genesis + 300 entries, then 300 more not yet signed."""
    cfg = make_config(tmp_path)
    with open_log(cfg) as log:
        log.append_many("decision", [{"decision": "d", "outcome": {"i": i}} for i in range(300)])
        signed = log.checkpoint().size
        log.append_many("decision", [{"decision": "d", "outcome": {"i": i}} for i in range(300)])
        log.flush()
        # close() would publish: the writer closes without signing
        log._get_writer().signers = []
    return cfg, tmp_path / "audit.db", signed


def _sql(db: Path, sql: str, params: tuple[object, ...] = ()) -> None:
    conn = sqlite3.connect(db)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def _body(db: Path, idx: int) -> bytes:
    conn = sqlite3.connect(db)
    body: bytes = conn.execute("SELECT body FROM entries WHERE idx = ?", (idx,)).fetchone()[0]
    conn.close()
    return body


def _flip(body: bytes) -> bytes:
    return body.replace(b'"i":', b'"j":', 1)


TAMPERS: dict[str, tuple[Callable[[Path], None], str]] = {
    "an unsigned entry's bytes": (
        lambda db: _sql(
            db, "UPDATE entries SET body = ? WHERE idx = 450", (_flip(_body(db, 450)),)
        ),
        "entry 450: stored leaf hash does not match",
    ),
    "an unsigned entry and its leaf hash": (
        lambda db: _sql(
            db,
            "UPDATE entries SET body = ?, leaf = ? WHERE idx = 450",
            (_flip(_body(db, 450)), leaf_hash(_flip(_body(db, 450)))),
        ),
        "stored nodes give a different root",
    ),
    "a deleted unsigned entry": (
        lambda db: _sql(db, "DELETE FROM entries WHERE idx = 400"),
        "entry 400 is missing",
    ),
    "entries cut below the signed size": (
        lambda db: _sql(db, "DELETE FROM entries WHERE idx >= 200"),
        "entries were removed",
    ),
}


@pytest.mark.parametrize("republish", [False, True])
@pytest.mark.parametrize("what", list(TAMPERS))
def test_nothing_is_signed_over_a_tampered_store(
    tmp_path: Path, what: str, republish: bool
) -> None:
    cfg, db, signed = _grown(tmp_path)
    tamper, message = TAMPERS[what]
    tamper(db)
    store = open_store(cfg.store_url, base_dir=cfg.base_dir)
    try:
        before = store.latest_checkpoint()
        assert before is not None
        assert before.size == signed
        with pytest.raises(IntegrityError, match=message):
            publish_checkpoint(store, cfg.origin, _load_signers(cfg), republish=republish)
        after = store.latest_checkpoint()
        assert after is not None
        assert after.seq == before.seq  # nothing new was signed or stored
    finally:
        store.close()


def test_an_intact_store_is_signed(tmp_path: Path) -> None:
    cfg, _, signed = _grown(tmp_path)
    store = open_store(cfg.store_url, base_dir=cfg.base_dir)
    try:
        made = publish_checkpoint(store, cfg.origin, _load_signers(cfg))
        assert made is not None
        assert made.size == signed + 300
    finally:
        store.close()


def test_the_writer_stops_for_good_when_the_tree_does_not_verify(tmp_path: Path) -> None:
    cfg, db, _ = _grown(tmp_path)
    TAMPERS["an unsigned entry's bytes"][0](db)
    log = open_log(cfg)
    try:
        with pytest.raises(IntegrityError, match="entry 450"):
            log.checkpoint()
        # the writer's own checkpoint refuses too; from then on every append fails with it
        assert log.decision(decision="after") is not None  # sequencing re-reads no old rows
        writer = log._get_writer()
        writer.request_checkpoint()
        deadline = time.monotonic() + 10
        while writer.alive and time.monotonic() < deadline:
            time.sleep(0.02)
        with pytest.raises(IntegrityError, match="entry 450"):
            log.decision(decision="refused")
        with pytest.raises(IntegrityError, match="entry 450"):
            log.decision(decision="still refused")
    finally:
        log.close()  # the writer stopped for good: closing only releases the store
