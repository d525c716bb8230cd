"""Opening a store read-only creates, migrates and writes nothing, and refuses a file that is
not a Monday audit store (an empty file, another application's database, not SQLite at all).

Every store here is a real SQLite file; a live writer runs in another process."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from tests.audit.conftest import make_config
from tests.conftest import write_project

from mondaytest.audit import open_log
from mondaytest.audit.log import LogConfig
from mondaytest.audit.store import open_store
from mondaytest.audit.store.sqlite import SCHEMA_VERSION, SQLiteStore
from mondaytest.cli.app import main
from mondaytest.errors import InputError, StoreError


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


def _ro(path: Path) -> SQLiteStore:
    store = open_store(f"sqlite:///{path}", readonly=True)
    assert isinstance(store, SQLiteStore)
    return store


def _refused(path: Path, *match: str) -> InputError:
    with pytest.raises(InputError) as err:
        _ro(path)
    assert err.value.exit_code == 2
    for text in match:
        assert text in str(err.value), str(err.value)
    assert "audit.store in monday.yaml" in (err.value.hint or "")
    return err.value


def test_an_empty_file_is_not_a_store_and_stays_empty(tmp_path: Path) -> None:
    zero = tmp_path / "zero.db"
    zero.touch()
    _refused(zero, "zero.db is not a Monday audit store (an empty file)")
    assert zero.stat().st_size == 0
    assert _files(tmp_path) == {"zero.db"}


def test_another_database_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    other = tmp_path / "app.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users (name) VALUES ('ada')")
    conn.commit()
    conn.close()
    before = _digest(other)
    _refused(other, "is not a Monday audit store", "without the audit tables; it holds users")
    assert _digest(other) == before
    assert _files(tmp_path) == {"app.db"}
    conn = sqlite3.connect(other)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    conn.close()
    assert tables == ["users"]


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_bytes(b"these are not the tables you are looking for\n" * 200)
    before = _digest(junk)
    _refused(junk, "is not a Monday audit store (it is not a SQLite database)")
    assert _digest(junk) == before


def test_a_missing_file_or_a_directory_is_refused_and_nothing_is_created(
    tmp_path: Path,
) -> None:
    _refused(tmp_path / "sub" / "missing.db", "there is no audit store at", "nothing was created")
    assert _files(tmp_path) == set()
    _refused(tmp_path, "is a directory, not a Monday audit store")


def test_an_incomplete_schema_is_refused(tmp_path: Path) -> None:
    half = tmp_path / "half.db"
    conn = sqlite3.connect(half)
    conn.execute(
        "CREATE TABLE migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at REAL)"
    )
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.commit()
    conn.close()
    _refused(half, "its audit schema is incomplete: no table checkpoints, entries, tiles")


def _written_store(tmp_path: Path, count: int = 20) -> LogConfig:
    cfg = make_config(tmp_path)
    with open_log(cfg) as log:
        log.append_many("decision", [{"decision": "t"}] * count)
        log.checkpoint()
    return cfg


def test_a_cleanly_closed_store_is_read_without_writing_it(tmp_path: Path) -> None:
    cfg = _written_store(tmp_path)
    db = tmp_path / "audit.db"
    assert not (tmp_path / "audit.db-wal").exists()  # closed cleanly: one file
    before = _digest(db)
    store = _ro(db)
    try:
        assert store.readonly
        assert store.origin() == cfg.origin
        assert store.size() == 21
        assert [row.idx for row in store.entries()] == list(range(21))
        cp = store.latest_checkpoint()
        assert cp is not None
        assert cp.size == 21
        with store.snapshot():
            assert store.size() == 21
        with (
            pytest.raises(StoreError, match="opened read-only; nothing was written"),
            store.write() as tx,
        ):
            tx.set_meta("origin", "somebody else")
    finally:
        store.close()
    assert _digest(db) == before
    reopened = _ro(db)
    assert reopened.origin() == cfg.origin
    reopened.close()


_WRITER = textwrap.dedent(
    """
    import sys
    from mondaytest.audit.store import open_store

    store = open_store(sys.argv[1])
    with store.write() as tx:
        tx.set_meta("origin", "monday.test/live")
    print("ready", flush=True)
    for line in sys.stdin:  # each line: set meta key "n" to that line, then acknowledge
        with store.write() as tx:
            tx.set_meta("n", line.strip())
        print("done", flush=True)
    store.close()
    """
)


def test_a_store_with_a_live_writer_in_another_process_is_read(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, f"sqlite:///{db}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert writer.stdout is not None
        assert writer.stdin is not None
        assert writer.stdout.readline().strip() == "ready"
        assert (tmp_path / "live.db-shm").exists()  # the writer's connection is open
        store = _ro(db)
        try:
            assert store.origin() == "monday.test/live"
            assert store.get_meta("n") is None
            writer.stdin.write("1\n")
            writer.stdin.flush()
            assert writer.stdout.readline().strip() == "done"
            assert store.get_meta("n") == "1"  # a commit after the reader opened is seen
            assert store.schema_version() == SCHEMA_VERSION
        finally:
            store.close()
        writer.stdin.write("2\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "done"  # the writer was never disturbed
    finally:
        if writer.stdin is not None:
            writer.stdin.close()
        writer.wait(timeout=30)
    assert writer.returncode == 0
    again = _ro(db)
    assert again.get_meta("n") == "2"
    again.close()


def _as_version_1(db: Path) -> None:
    """Turn a store into what schema v1 left: no index from v2 or v3."""
    conn = sqlite3.connect(db)
    conn.execute("DROP INDEX checkpoints_size")
    conn.execute("DROP INDEX entries_state_kind")
    conn.execute("DELETE FROM migrations WHERE version > 1")
    conn.commit()
    conn.close()


def _indexes(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    finally:
        conn.close()


def test_an_older_schema_is_read_as_it_is_and_migrated_by_the_next_writer(
    tmp_path: Path,
) -> None:
    cfg = _written_store(tmp_path, 5)
    db = tmp_path / "audit.db"
    _as_version_1(db)
    before = _digest(db)
    store = _ro(db)
    try:
        assert store.schema_version() == 1
        assert store.size() == 6
        assert [row.idx for row in store.search(kind="log_genesis")] == [0]
        cp = store.checkpoint_of_size(6)
        assert cp is not None
    finally:
        store.close()
    assert _digest(db) == before
    assert "checkpoints_size" not in _indexes(db)
    writer = open_store(cfg.store_url)
    assert writer.schema_version() == SCHEMA_VERSION  # a writable open migrates, as before
    writer.close()
    assert {"checkpoints_size", "entries_state_kind"} <= _indexes(db)


def test_a_newer_schema_is_refused_read_only_too(tmp_path: Path) -> None:
    _written_store(tmp_path, 1)
    db = tmp_path / "audit.db"
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO migrations VALUES (99, 'future', 0)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="schema v99, newer than this Monday"):
        _ro(db)


def test_the_writable_open_still_creates_a_store_in_an_empty_file(tmp_path: Path) -> None:
    zero = tmp_path / "zero.db"
    zero.touch()
    store = open_store(f"sqlite:///{zero}")
    assert store.size() == 0
    assert store.schema_version() == SCHEMA_VERSION
    store.close()
    fresh = open_store(f"sqlite:///{tmp_path / 'new' / 'fresh.db'}")
    assert fresh.size() == 0
    fresh.close()
    assert _ro(zero).schema_version() == SCHEMA_VERSION
    assert _ro(tmp_path / "new" / "fresh.db").size() == 0


# --- the read-only commands ------------------------------------------------------------------


@pytest.fixture
def project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> str:
    """A governed project with a log key, as the current directory; returns its vkey."""
    write_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONDAY_DATABASE_URL", raising=False)
    capsys.readouterr()
    assert main(["audit", "keygen"]) == 0
    return capsys.readouterr().out.strip()


def _not_stores(root: Path) -> list[Path]:
    zero = root / "zero.db"
    zero.touch()
    other = root / "app.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    return [zero, other]


def test_read_only_commands_refuse_a_file_that_is_not_a_store(
    project: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vkey = project
    Path("x.policy").write_text(f"log {vkey}\nquorum none\n", encoding="utf-8")
    for path in _not_stores(tmp_path):
        before = _digest(path)
        files = _files(tmp_path)
        store = ["--store", f"sqlite:///{path}"]
        for args in [
            ["audit", "verify", "--vkey", vkey, *store],
            ["audit", "verify", "--policy", "x.policy", *store],
            ["audit", "fsck", "--vkey", vkey, *store],
            ["audit", "log", *store],
            ["audit", "why", "0", *store],
            ["audit", "monitor", *store],
            ["audit", "receipt", "0", *store],
            ["audit", "export", "--tiles", "tiles", *store],
            ["audit", "backup", "copy.db", *store],
            ["audit", "witness", "--no-git", *store],
        ]:
            capsys.readouterr()
            code = main(args)
            err = " ".join(capsys.readouterr().err.split())
            assert code == 2, (args, err)
            assert f"{path} is not a Monday audit store" in err, (args, err)
            assert "audit.store in monday.yaml" in err, (args, err)
            assert "Traceback" not in err
            assert _digest(path) == before, args
            assert _files(tmp_path) == files, args


@pytest.mark.skipif(
    not (hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("setpriv")),
    reason="needs root and setpriv to read as another user",
)
def test_an_archived_copy_in_a_read_only_folder_is_read_without_its_shm_file(
    tmp_path: Path,
) -> None:
    """A reader that may not create the -shm file (a read-only folder) still reads a store
    with no unfinished WAL: SQLite reads the file alone as immutable."""
    cfg = make_config(tmp_path / "live")
    with open_log(cfg) as log:
        log.append_many("decision", [{"decision": "t"}] * 3)
    outer = Path(tempfile.mkdtemp(prefix="monday-archive-"))  # pytest's folders are 0700
    archive = outer / "archive"
    archive.mkdir()
    shutil.copy(tmp_path / "live" / "audit.db", archive / "audit.db")
    (archive / "audit.db").chmod(0o644)
    archive.chmod(0o555)
    outer.chmod(0o755)
    script = textwrap.dedent(
        f"""
        from mondaytest.audit.store import open_store
        store = open_store("sqlite:///{archive / "audit.db"}", readonly=True)
        print(store.size())
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    done = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    try:
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "4"
        assert not (archive / "audit.db-shm").exists()
    finally:
        archive.chmod(0o755)
        shutil.rmtree(outer)


def test_a_writer_refuses_another_applications_database(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    store = open_store(f"sqlite:///{other}")
    try:
        with pytest.raises(InputError, match=r"not a Monday audit store .*holds t"):
            store.size()
    finally:
        store.close()
    assert other.read_bytes() == before


def test_a_writer_refuses_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    junk = tmp_path / "notes.db"
    junk.write_bytes(b"these are my notes, not a database\n" * 200)
    store = open_store(f"sqlite:///{junk}")
    try:
        with pytest.raises(InputError, match="it is not a SQLite database"):
            store.size()
    finally:
        store.close()
    assert junk.read_bytes() == b"these are my notes, not a database\n" * 200


@pytest.mark.parametrize(
    "schema",
    [
        "CREATE TABLE migrations (id INTEGER, migration TEXT, batch INTEGER);"
        "CREATE TABLE users (x)",
        "CREATE VIEW v AS SELECT 1",
    ],
)
def test_a_writer_refuses_a_database_that_only_looks_like_a_store(
    tmp_path: Path, schema: str
) -> None:
    other = tmp_path / "app.db"
    conn = sqlite3.connect(other)
    conn.executescript(schema)
    conn.close()
    before = other.read_bytes()
    store = open_store(f"sqlite:///{other}")
    try:
        with pytest.raises(InputError, match="not a Monday audit store"):
            store.size()
    finally:
        store.close()
    assert other.read_bytes() == before
