"""Tampering with a 10,000-entry store: every kind of change makes fsck fail and say what."""

from __future__ import annotations

import random
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from tests.audit.conftest import ORIGIN, make_config

from mondaytest.audit import LogConfig, open_log
from mondaytest.audit.checkpoint import Checkpoint, sign_checkpoint
from mondaytest.audit.merkle import MemoryHashes, leaf_hash
from mondaytest.audit.note import Ed25519Signer
from mondaytest.audit.store import open_store
from mondaytest.audit.store.sqlite import _decode_tile, _encode_tile, _tile_key
from mondaytest.audit.verify import FsckReport, fsck
from mondaytest.cli.app import main
from mondaytest.errors import CheckFailed, InputError

N = 10_000


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LogConfig, bytes, Path]:
    """A 10,000-entry store (plus genesis), its config, its last checkpoint, and a copy of it
    taken at half size (for the roll-back test)."""
    tmp = tmp_path_factory.mktemp("tamper")
    cfg = make_config(tmp)
    half = tmp / "half.db"
    with open_log(cfg) as log:
        drafts = []
        for i in range(N):
            if i % 1000 == 0:
                drafts.append(log.draft("model_version", {"model": "m", "version": str(i)}))
            else:
                drafts.append(log.draft("decision", {"decision": "triage", "outcome": {"n": i}}))
            if i == N // 2:
                log.append_drafts(drafts, "sequenced")
                drafts = []
                log.checkpoint()
                log.store.backup(str(half))  # type: ignore[attr-defined]
        log.append_drafts(drafts, "sequenced")
        last = log.checkpoint()
    return tmp / "audit.db", cfg, last.note, half


def _copy(built: tuple[Path, LogConfig, bytes, Path], tmp_path: Path) -> tuple[Path, LogConfig]:
    db, cfg, _, _ = built
    target = tmp_path / "copy.db"
    shutil.copyfile(db, target)
    return target, replace(cfg, store_url=f"sqlite:///{target}")


def _fsck(cfg: LogConfig, saved: list[tuple[str, bytes]] | None = None) -> FsckReport:
    store = open_store(cfg.store_url)
    try:
        return fsck(store, cfg.verifiers(), origin=ORIGIN, saved=saved or [])
    finally:
        store.close()


def _tamper(path: Path, sql: str, *params: object) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(sql, params)
    conn.close()


def _flip(data: bytes, pos: int) -> bytes:
    return data[:pos] + bytes([data[pos] ^ 0x01]) + data[pos + 1 :]


def _row(path: Path, sql: str, *params: object) -> tuple[object, ...]:
    conn = sqlite3.connect(path)
    row = conn.execute(sql, params).fetchone()
    conn.close()
    return tuple(row)


def _node(path: Path, level: int, index: int) -> bytes:
    """The stored hash of node ``(level, index)``, read from its tile."""
    tl, tile, k, pos = _tile_key(level, index)
    (blob,) = _row(path, "SELECT hashes FROM tiles WHERE level = ? AND idx = ?", tl, tile)
    assert isinstance(blob, bytes)
    levels = _decode_tile(blob)
    assert levels is not None
    return levels[k][pos]


def _set_node(conn: sqlite3.Connection, level: int, index: int, value: bytes) -> None:
    """Overwrite the stored hash of node ``(level, index)`` inside its tile."""
    tl, tile, k, pos = _tile_key(level, index)
    (blob,) = conn.execute(
        "SELECT hashes FROM tiles WHERE level = ? AND idx = ?", (tl, tile)
    ).fetchone()
    levels = _decode_tile(bytes(blob))
    assert levels is not None
    levels[k][pos] = value
    conn.execute(
        "UPDATE tiles SET hashes = ? WHERE level = ? AND idx = ?", (_encode_tile(levels), tl, tile)
    )


def test_intact_store_passes(built: tuple[Path, LogConfig, bytes, Path]) -> None:
    report = _fsck(built[1], [("last", built[2])])
    assert report.ok, report.findings
    assert report.size == N + 1  # the genesis entry, then N entries
    assert report.checkpoints >= 2
    assert report.saved == 1


@pytest.mark.parametrize("idx", [0, 1, 4097, 7777, N])
@pytest.mark.parametrize("byte", [0, 30, -2])
def test_one_byte_of_an_entry(
    built: tuple[Path, LogConfig, bytes, Path], tmp_path: Path, idx: int, byte: int
) -> None:
    db, cfg = _copy(built, tmp_path)
    (body,) = _row(db, "SELECT body FROM entries WHERE idx = ?", idx)
    assert isinstance(body, bytes)
    _tamper(db, "UPDATE entries SET body = ? WHERE idx = ?", _flip(body, byte % len(body)), idx)
    report = _fsck(cfg)
    assert not report.ok
    assert report.first_bad == idx
    assert f"entry {idx}" in report.findings[0].message
    with pytest.raises(CheckFailed, match=f"first bad entry: {idx}"):
        report.raise_for_problems()


def test_one_byte_of_a_stored_leaf_hash(
    built: tuple[Path, LogConfig, bytes, Path], tmp_path: Path
) -> None:
    db, cfg = _copy(built, tmp_path)
    (leaf,) = _row(db, "SELECT leaf FROM entries WHERE idx = 1234")
    assert isinstance(leaf, bytes)
    _tamper(db, "UPDATE entries SET leaf = ? WHERE idx = 1234", _flip(leaf, 7))
    report = _fsck(cfg)
    assert report.first_bad == 1234
    assert "stored leaf hash does not match" in report.findings[0].message


@pytest.mark.parametrize(("level", "index"), [(1, 617), (5, 100), (13, 0)])
def test_one_byte_of_a_stored_node(
    built: tuple[Path, LogConfig, bytes, Path], tmp_path: Path, level: int, index: int
) -> None:
    db, cfg = _copy(built, tmp_path)
    value = _node(db, level, index)
    conn = sqlite3.connect(db)
    with conn:
        _set_node(conn, level, index, _flip(value, 31))
    conn.close()
    report = _fsck(cfg)
    assert not report.ok
    assert f"stored node (level {level}, index {index})" in report.findings[0].message
    assert report.first_bad == index << level


def test_one_byte_of_a_checkpoint(
    built: tuple[Path, LogConfig, bytes, Path], tmp_path: Path
) -> None:
    db, cfg = _copy(built, tmp_path)
    (note,) = _row(db, "SELECT note FROM checkpoints ORDER BY seq DESC LIMIT 1")
    assert isinstance(note, bytes)
    size_line = note.index(b"\n") + 1  # change the size digit
    _tamper(
        db,
        "UPDATE checkpoints SET note = ? WHERE seq = (SELECT MAX(seq) FROM checkpoints)",
        _flip(note, size_line),
    )
    report = _fsck(cfg)
    assert not report.ok
    assert "does not verify" in report.findings[0].message
    assert "checkpoint #" in report.findings[0].message


def test_checkpoint_root_column(built: tuple[Path, LogConfig, bytes, Path], tmp_path: Path) -> None:
    db, cfg = _copy(built, tmp_path)
    _tamper(db, "UPDATE checkpoints SET root = zeroblob(32) WHERE seq = 1")
    report = _fsck(cfg)
    assert "columns differ from its signed note" in report.findings[0].message


def test_checkpoint_signed_by_another_key(
    built: tuple[Path, LogConfig, bytes, Path], tmp_path: Path, other_signer: Ed25519Signer
) -> None:
    db, cfg = _copy(built, tmp_path)
    size, root = _row(db, "SELECT size, root FROM checkpoints ORDER BY seq DESC LIMIT 1")
    assert isinstance(size, int)
    assert isinstance(root, bytes)
    forged = sign_checkpoint(Checkpoint(ORIGIN, size, root), [other_signer])
    _tamper(
        db,
        "UPDATE checkpoints SET note = ? WHERE seq = (SELECT MAX(seq) FROM checkpoints)",
        forged,
    )
    report = _fsck(cfg)
    assert not report.ok
    assert "no signature from a trusted key" in report.findings[0].message


def test_deleted_row(built: tuple[Path, LogConfig, bytes, Path], tmp_path: Path) -> None:
    db, cfg = _copy(built, tmp_path)
    _tamper(db, "DELETE FROM entries WHERE idx = 3333")
    report = _fsck(cfg)
    assert report.first_bad == 3333
    assert "entry 3333 is missing" in report.findings[0].message


def test_swapped_rows(built: tuple[Path, LogConfig, bytes, Path], tmp_path: Path) -> None:
    db, cfg = _copy(built, tmp_path)
    conn = sqlite3.connect(db)
    with conn:
        a = conn.execute("SELECT leaf, body FROM entries WHERE idx = 2000").fetchone()
        b = conn.execute("SELECT leaf, body FROM entries WHERE idx = 2001").fetchone()
        conn.execute("UPDATE entries SET leaf = ?, body = ? WHERE idx = 2000", b)
        conn.execute("UPDATE entries SET leaf = ?, body = ? WHERE idx = 2001", a)
    conn.close()
    report = _fsck(cfg)
    assert report.first_bad == 2000
    assert "its bytes say idx 2001 (rows were moved or swapped)" in report.findings[0].message


def test_truncated(built: tuple[Path, LogConfig, bytes, Path], tmp_path: Path) -> None:
    db, cfg = _copy(built, tmp_path)
    _tamper(db, "DELETE FROM entries WHERE idx >= 9000")
    report = _fsck(cfg)
    assert not report.ok
    assert report.first_bad == 9000
    assert "truncated or rolled back" in report.findings[-1].message


def test_rolled_back_to_an_older_copy(built: tuple[Path, LogConfig, bytes, Path]) -> None:
    _, cfg, newer_note, half = built
    older = replace(cfg, store_url=f"sqlite:///{half}")
    assert _fsck(older).ok  # on its own, an old copy is a valid log …
    report = _fsck(older, [("ci-witness", newer_note)])  # … but not against a newer checkpoint
    assert not report.ok
    msg = report.findings[0].message
    assert "saved checkpoint ci-witness" in msg
    assert "truncated or rolled back" in msg


def test_history_rewritten_consistently(
    built: tuple[Path, LogConfig, bytes, Path], tmp_path: Path
) -> None:
    """Someone changes an entry and recomputes every hash: only the signatures catch it."""
    db, cfg = _copy(built, tmp_path)
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT idx, body FROM entries ORDER BY idx").fetchall()
    bodies = [bytes(b) for _, b in rows]
    bodies[4242] = bodies[4242].replace(b'"n":', b'"m":')
    tree = MemoryHashes(leaf_hash(b) for b in bodies)
    with conn:
        conn.executemany(
            "UPDATE entries SET body = ?, leaf = ? WHERE idx = ?",
            [(b, leaf_hash(b), i) for i, b in enumerate(bodies)],
        )
        for level in range(1, len(tree.levels)):
            for i, h in enumerate(tree.levels[level]):
                _set_node(conn, level, i, h)
    conn.close()
    report = _fsck(cfg)
    assert not report.ok
    assert "rewritten consistently" in report.findings[0].message
    assert report.first_bad is not None
    assert report.first_bad <= 4242


def test_cli_fsck_exits_1_naming_the_first_bad_index(
    built: tuple[Path, LogConfig, bytes, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db, cfg = _copy(built, tmp_path)
    (body,) = _row(db, "SELECT body FROM entries WHERE idx = 555")
    assert isinstance(body, bytes)
    _tamper(db, "UPDATE entries SET body = ? WHERE idx = 555", _flip(body, 40))
    vkey = cfg.vkey
    assert vkey is not None
    assert main(["audit", "fsck", "--vkey", vkey, "--store", cfg.store_url]) == 1
    captured = capsys.readouterr()
    assert "first bad entry: 555" in captured.err
    assert "✗ entry 555" in captured.out
    assert main(["audit", "verify", "--vkey", vkey, "--store", built[1].store_url]) == 0
    assert "✓ verified" in capsys.readouterr().out


def test_random_single_byte_changes(
    built: tuple[Path, LogConfig, bytes, Path], tmp_path: Path
) -> None:
    """Any byte of any table: entries, leaf hashes, nodes, checkpoints."""
    rng = random.Random(7)
    db, cfg = _copy(built, tmp_path)
    pristine = db.read_bytes()
    targets: list[tuple[str, Callable[[sqlite3.Connection], None]]] = []

    def change(table: str, column: str, key: str) -> Callable[[sqlite3.Connection], None]:
        def apply(conn: sqlite3.Connection) -> None:
            *keys, value = conn.execute(
                f"SELECT {key}, {column} FROM {table} ORDER BY random() LIMIT 1"
            ).fetchone()
            value = bytes(value)
            pos = rng.randrange(len(value))
            where = " AND ".join(f"{k} = ?" for k in key.split(", "))
            conn.execute(
                f"UPDATE {table} SET {column} = ? WHERE {where}", (_flip(value, pos), *keys)
            )

        return apply

    targets += [("entry", change("entries", "body", "idx"))] * 4
    targets += [("leaf", change("entries", "leaf", "idx"))] * 2
    targets += [("node tile", change("tiles", "hashes", "level, idx"))] * 2
    targets += [("checkpoint", change("checkpoints", "note", "seq"))] * 2
    for what, apply in targets:
        db.write_bytes(pristine)
        conn = sqlite3.connect(db)
        with conn:
            apply(conn)
        conn.close()
        assert not _fsck(cfg).ok, what


def test_a_store_without_any_signed_checkpoint_does_not_verify(tmp_path: Path) -> None:
    """Nothing vouches for entries no checkpoint signs: a store whose checkpoints were all
    removed (or that another key wrote) fails, even though its hashes agree."""
    cfg = make_config(tmp_path)
    with open_log(cfg) as log:
        log.append_many("decision", [{"decision": "t"}] * 5)
    conn = sqlite3.connect(tmp_path / "audit.db")
    with conn:
        conn.execute("DELETE FROM checkpoints")
    conn.close()
    store = open_store(cfg.store_url)
    try:
        report = fsck(store, cfg.verifiers())
    finally:
        store.close()
    assert not report.ok
    assert "no signed checkpoint" in report.findings[0].message


def test_a_log_created_for_another_key_is_named(
    tmp_path: Path, other_signer: Ed25519Signer
) -> None:
    cfg = make_config(tmp_path)
    with open_log(cfg) as log:
        log.append_many("decision", [{"decision": "t"}] * 3)
    store = open_store(cfg.store_url)
    try:
        report = fsck(store, [other_signer.verifier()])
    finally:
        store.close()
    messages = [f.message for f in report.findings]
    assert any(m.startswith("entry 0: the log was created to be signed by") for m in messages)


@pytest.mark.parametrize(
    ("column", "value"),
    [("kind", "threshold"), ("eid", "other-id"), ("ts", "2020-01-01T00:00:00Z")],
)
def test_deep_fsck_compares_the_index_columns_with_the_bytes(
    tmp_path: Path, column: str, value: str
) -> None:
    cfg = make_config(tmp_path)
    with open_log(cfg) as log:
        log.append_many("decision", [{"decision": "t"}] * 4)
    conn = sqlite3.connect(tmp_path / "audit.db")
    with conn:
        conn.execute(f"UPDATE entries SET {column} = ? WHERE idx = 2", (value,))
    conn.close()
    store = open_store(cfg.store_url)
    try:
        assert fsck(store, cfg.verifiers()).ok  # the hashes are intact: only --deep looks
        report = fsck(store, cfg.verifiers(), deep=True)
    finally:
        store.close()
    assert [f.index for f in report.findings] == [2]
    name = "id" if column == "eid" else column
    assert f"index column {name} differs from the entry's bytes" in report.findings[0].message


def test_an_id_two_entries_share_is_refused_as_ambiguous(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    with open_log(cfg) as log:
        first = log.append_drafts([log.draft("decision", {"decision": "t"}, entry_id="dup-1")])
        log.append_drafts([log.draft("decision", {"decision": "t"}, entry_id="dup-1")])
        with pytest.raises(InputError, match=f"more than one entry has the id 'dup-1'.*{first[0]}"):
            log.find("dup-1")


def test_a_saved_checkpoint_of_a_fork_is_named_a_fork_not_store_damage(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    with open_log(cfg) as log:
        log.append_many("decision", [{"decision": "t"}] * 4)
        cp = log.checkpoint()
        signer = log.signers[0]
    other = MemoryHashes.from_entries([f"fork {i}".encode() for i in range(cp.size)])
    fork = sign_checkpoint(Checkpoint(ORIGIN, cp.size, other.root()), [signer])
    store = open_store(cfg.store_url)
    try:
        report = fsck(store, cfg.verifiers(), origin=ORIGIN, saved=[("fork.note", fork)])
    finally:
        store.close()
    assert len(report.findings) == 1
    assert "two histories under one key (a fork)" in report.findings[0].message
    with pytest.raises(CheckFailed) as caught:
        report.raise_for_problems()
    assert not caught.value.message.startswith("audit log is damaged")
    assert "first bad entry" not in caught.value.message


def test_a_backup_of_a_damaged_store_is_removed_not_kept(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    with open_log(cfg) as log:
        log.append_many("decision", [{"decision": "t"}] * 4)
        log.checkpoint()
    conn = sqlite3.connect(tmp_path / "audit.db")
    with conn:
        body = conn.execute("SELECT body FROM entries WHERE idx = 2").fetchone()[0]
        conn.execute("UPDATE entries SET body = ? WHERE idx = 2", (body.replace(b"t", b"x"),))
    conn.close()
    target = tmp_path / "copy.db"
    with open_log(cfg) as log, pytest.raises(CheckFailed, match="did not verify and was removed"):
        log.backup(target)
    assert not target.exists()
