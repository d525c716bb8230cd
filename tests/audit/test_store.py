"""The SQLite store: schema and migrations, URLs, atomic batches, sequencing under a lock."""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
from pathlib import Path

import pytest

from mondaytest.audit.entries import draft_decision, draft_state_change
from mondaytest.audit.merkle import MemoryHashes, inclusion_proof, leaf_hash, root_at
from mondaytest.audit.sequencer import Sequencer
from mondaytest.audit.store import open_store, resolve_store_url
from mondaytest.audit.store.sqlite import SCHEMA_VERSION, sqlite_path_from_url
from mondaytest.errors import ConfigError, InputError, StoreError

ORIGIN = "monday.test/store"


def test_schema_version_and_migrations_table(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    assert store.schema_version() == SCHEMA_VERSION
    store.close()
    conn = sqlite3.connect(tmp_path / "a.db")
    rows = conn.execute("SELECT version, name FROM migrations").fetchall()
    assert [r[0] for r in rows] == list(range(1, SCHEMA_VERSION + 1))
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute("INSERT INTO migrations VALUES (99, 'future', 0)")
    conn.commit()
    conn.close()
    newer = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    with pytest.raises(StoreError, match="schema v99, newer than this Monday"):
        newer.size()


def test_a_version_1_store_is_upgraded_in_place(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'v1.db'}"
    store = open_store(url)
    store.size()
    store.close()
    conn = sqlite3.connect(tmp_path / "v1.db")  # as version 1 left it: no checkpoints index
    conn.execute("DROP INDEX checkpoints_size")
    conn.execute("DELETE FROM migrations WHERE version > 1")
    conn.commit()
    conn.close()
    again = open_store(url)
    assert again.schema_version() == SCHEMA_VERSION
    again.close()
    conn = sqlite3.connect(tmp_path / "v1.db")
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    conn.close()
    assert "checkpoints_size" in names


def test_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sqlite_path_from_url("sqlite:///rel/a.db", tmp_path) == (tmp_path / "rel/a.db", {})
    assert sqlite_path_from_url("sqlite:////abs/a.db?synchronous=normal", tmp_path) == (
        Path("/abs/a.db"),
        {"synchronous": "normal"},
    )
    with pytest.raises(InputError, match="names no file"):
        sqlite_path_from_url("sqlite:///", tmp_path)
    with pytest.raises(InputError, match="synchronous=off"):
        open_store("sqlite:///x.db?synchronous=off", base_dir=tmp_path)
    with pytest.raises(InputError, match="integers"):
        open_store("sqlite:///x.db?max_page_count=lots", base_dir=tmp_path)
    monkeypatch.setenv("MONDAY_DATABASE_URL", "sqlite:///env.db")
    assert resolve_store_url("sqlite:///spec.db") == "sqlite:///env.db"
    assert resolve_store_url("sqlite:///spec.db", "sqlite:///flag.db") == "sqlite:///flag.db"
    monkeypatch.delenv("MONDAY_DATABASE_URL")
    assert resolve_store_url("sqlite:///spec.db") == "sqlite:///spec.db"


def test_unwritable_location_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    store = open_store(f"sqlite:///{tmp_path / 'file' / 'a.db'}")
    with pytest.raises(StoreError):
        store.size()


def test_sequencer_tree_matches_memory_tree(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    seq = Sequencer(store, ORIGIN)
    bodies: list[bytes] = []
    for n in (1, 2, 3, 64, 7, 100):
        drafts = [draft_decision({"decision": "d"}, origin=ORIGIN) for _ in range(n)]
        first = len(bodies)
        assert seq.append(drafts) == list(range(first, first + n))
        bodies.extend(row.body for row in store.entries(first))
    mem = MemoryHashes(leaf_hash(b) for b in bodies)
    for size in (1, 2, 3, 70, 77, len(bodies)):
        assert root_at(size, store) == root_at(size, mem)
    # a second sequencer (another process) picks up where the first left off
    other = Sequencer(store, ORIGIN)
    assert other.append([draft_decision({"decision": "d"}, origin=ORIGIN)]) == [len(bodies)]
    assert seq.append([draft_decision({"decision": "d"}, origin=ORIGIN)]) == [len(bodies) + 1]
    store.close()


def test_config_idx_is_assigned_inside_the_transaction(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    a, b = Sequencer(store, ORIGIN), Sequencer(store, ORIGIN)
    a.append([draft_decision({"decision": "d"}, origin=ORIGIN)])
    mv = {"model": "m", "version": "2"}
    b.append([draft_state_change("model_version", mv, origin=ORIGIN)])
    (idx,) = a.append([draft_decision({"decision": "d"}, origin=ORIGIN)])
    row = store.entry(idx)
    assert row is not None
    assert b'"config_idx":1' in row.body
    first = store.entry(0)
    assert first is not None
    assert b'"config_idx":null' in first.body
    store.close()


def test_a_failed_batch_leaves_nothing(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    seq = Sequencer(store, ORIGIN)
    seq.append([draft_decision({"decision": "d"}, origin=ORIGIN)])
    dup = draft_decision({"decision": "d"}, origin=ORIGIN)
    conn = sqlite3.connect(tmp_path / "a.db")
    with conn:  # a trigger makes the third insert of the next batch fail
        conn.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON entries WHEN NEW.idx = 3 "
            "BEGIN SELECT RAISE(ABORT, 'boom'); END"
        )
    conn.close()
    with pytest.raises(StoreError, match="boom"):
        seq.append([dup, dup, dup])
    assert store.size() == 1
    assert list(store.nodes(1)) == []
    store.close()


def test_other_origin_is_refused(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    Sequencer(store, ORIGIN).append([draft_decision({"decision": "d"}, origin=ORIGIN)])
    with pytest.raises(ConfigError, match="holds the log"):
        Sequencer(store, "monday.test/other").append([])
    store.close()


def test_search_and_lookup(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    seq = Sequencer(store, ORIGIN)
    d = draft_decision({"decision": "needle"}, origin=ORIGIN, entry_id="dec-1")
    seq.append([draft_decision({"decision": "hay"}, origin=ORIGIN), d])
    assert store.find_entry_ids("dec-1") == [1]
    assert store.find_entry_ids("nope") == []
    assert [r.idx for r in store.search(text="needle")] == [1]
    assert [r.idx for r in store.search(kind="decision", limit=1)] == [1]
    assert store.entry(5) is None
    with pytest.raises(StoreError, match="no hash for subtree"):
        store.subtree_hash(3, 0)
    store.close()


def test_node_tiles_match_the_tree_for_any_batching(tmp_path: Path) -> None:
    """Batches of every shape fill the node tiles exactly like the in-memory tree: every
    stored node, the per-level streams fsck reads, proofs, and a reopened store."""
    rng = random.Random(5)
    url = f"sqlite:///{tmp_path / 'a.db'}"
    store = open_store(url)
    seq = Sequencer(store, ORIGIN)
    total = 0
    while total < 3000:
        n = rng.choice([1, 2, 3, 7, 64, 255, 256, 257, 700])
        seq.append([draft_decision({"decision": "d"}, origin=ORIGIN) for _ in range(n)])
        total += n
    tree = MemoryHashes(leaf_hash(r.body) for r in store.entries())
    again = open_store(url)
    for reader in (store, again):
        for level in range(1, len(tree.levels)):
            assert list(reader.nodes(level)) == list(enumerate(tree.levels[level]))
            assert list(reader.nodes(level, 3)) == list(enumerate(tree.levels[level]))[3:]
            for index, value in enumerate(tree.levels[level]):
                assert reader.subtree_hash(level, index) == value
                assert reader.read_node(level, index) == value
        for index in (0, 1, 255, 256, 1000, tree.size - 1):
            assert inclusion_proof(index, tree.size, reader) == inclusion_proof(
                index, tree.size, tree
            )
    with pytest.raises(StoreError, match="no hash for subtree"):
        store.subtree_hash(2, tree.size // 4)
    store.close()
    again.close()


def test_interleaved_writers_keep_the_node_tiles_exact(tmp_path: Path) -> None:
    """Two store objects (two processes' worth of caches) append in turns, with batches that
    straddle tile boundaries: each must notice the other's appends instead of extending the
    right-edge tiles it wrote last."""
    rng = random.Random(11)
    url = f"sqlite:///{tmp_path / 'a.db'}"
    stores = [open_store(url), open_store(url)]
    seqs = [Sequencer(s, ORIGIN) for s in stores]
    total = 0
    while total < 2500:
        who = rng.randrange(2)
        n = rng.choice([1, 5, 200, 256, 300])
        seqs[who].append([draft_decision({"decision": "d"}, origin=ORIGIN) for _ in range(n)])
        total += n
    tree = MemoryHashes(leaf_hash(r.body) for r in stores[0].entries())
    assert tree.size == total
    fresh = open_store(url)
    for level in range(1, len(tree.levels)):
        assert list(fresh.nodes(level)) == list(enumerate(tree.levels[level]))
    for s in (*stores, fresh):
        s.close()


def _open_lock_files(db: Path) -> int:
    fds = Path("/proc/self/fd")
    lock = str(db) + "-lock"
    count = 0
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):
            count += os.readlink(fd) == lock
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_a_write_after_close_leaves_no_lock_file_descriptor_open(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    store = open_store(f"sqlite:///{db}")
    Sequencer(store, ORIGIN).append([draft_decision({"decision": "d"}, origin=ORIGIN)])
    assert _open_lock_files(db) == 1
    store.close()
    assert _open_lock_files(db) == 0
    for _ in range(3):  # e.g. a writer thread that outlived AuditLog.close()'s join timeout
        with pytest.raises(StoreError, match="closed"):
            Sequencer(store, ORIGIN).append([draft_decision({"decision": "d"}, origin=ORIGIN)])
    assert _open_lock_files(db) == 0
