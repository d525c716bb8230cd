"""SQLite failures are classified from real errors of a real database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mondaytest._util.sqlite_errors import sqlite_failure


def _error(action: object) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as info:
        action()  # type: ignore[operator]
    return info.value


def test_full_locked_readonly_and_other(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE t (x BLOB)")
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    full = _error(lambda: conn.execute("INSERT INTO t VALUES (?)", (b"x" * 100_000,)))
    assert sqlite_failure(full) == "full"

    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(db, isolation_level=None, timeout=0)
    locked = _error(lambda: other.execute("BEGIN IMMEDIATE"))
    assert sqlite_failure(locked) == "locked"
    holder.execute("ROLLBACK")

    missing = _error(lambda: sqlite3.connect(tmp_path / "no" / "such" / "dir.db"))
    assert sqlite_failure(missing) == "readonly"
    ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    assert sqlite_failure(_error(lambda: ro.execute("DELETE FROM t"))) == "readonly"

    assert sqlite_failure(_error(lambda: conn.execute("SELEC nonsense"))) == "other"
    for c in (conn, holder, other, ro):
        c.close()
