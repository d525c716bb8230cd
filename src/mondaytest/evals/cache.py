"""A content-addressed cache of target outputs under ``.monday/cache``.

The key is ``SHA-256(target fingerprint, input hash, epoch)``: a change to the code, the
``version`` string or the configuration of a target changes its fingerprint and so misses;
epochs are part of the key so repeats are real repeats. Only successful calls are stored.
Modes: ``rw`` reads and writes, ``ro`` only reads (CI), ``off`` does neither. Storage is one
SQLite file, safe for several processes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from mondaytest.errors import HarnessError

__all__ = ["CACHE_FILE", "OutputCache", "cache_key"]

CACHE_FILE = "outputs.sqlite3"
COMMIT_EVERY = 256


def cache_key(target_fingerprint: str, input_hash: str, epoch: int) -> str:
    """The cache key of one call."""
    return hashlib.sha256(f"{target_fingerprint}\0{input_hash}\0{epoch}".encode()).hexdigest()


class OutputCache:
    """Get and put outputs by key; writes are batched into transactions."""

    def __init__(self, directory: Path, mode: str = "rw") -> None:
        self.mode = mode
        self.path = directory / CACHE_FILE
        self.hits = 0
        self.misses = 0
        self._pending = 0
        self._db: sqlite3.Connection | None = None
        if mode == "off":
            return
        try:
            if mode == "ro":
                if not self.path.is_file():
                    return
                self._db = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, timeout=30)
            else:
                directory.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, timeout=30, isolation_level="DEFERRED")
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS outputs (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
                )
                self._db.commit()
        except sqlite3.Error as exc:
            raise HarnessError(
                f"cannot open the output cache {self.path}: {exc}",
                hint="delete the file, or run with --cache off",
            ) from None

    def get(self, key: str) -> tuple[Any, float | None] | None:
        """``(output, cost)`` for a key, or None."""
        if self._db is None:
            return None
        row = self._db.execute("SELECT value FROM outputs WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        data = json.loads(row[0])
        return data["o"], data.get("c")

    def put(self, key: str, output_json: str, cost: float | None) -> None:
        """Store an output given as JSON text (``rw`` only)."""
        if self._db is None or self.mode != "rw":
            return
        cost_part = f',"c":{json.dumps(cost)}' if cost is not None else ""
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO outputs (key, value) VALUES (?, ?)",
                (key, f'{{"o":{output_json}{cost_part}}}'),
            )
            self._pending += 1
            if self._pending >= COMMIT_EVERY:
                self._db.commit()
                self._pending = 0
        except sqlite3.Error as exc:
            raise HarnessError(f"cannot write the output cache: {exc}") from None

    def close(self) -> None:
        """Commit pending writes and close."""
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.commit()
            self._db.close()
            self._db = None
