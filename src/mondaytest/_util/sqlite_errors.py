"""What kind of failure a ``sqlite3`` error is, for the audit store's and the vault's messages."""

from __future__ import annotations

import sqlite3
from typing import Literal

__all__ = ["SqliteFailure", "sqlite_failure"]

SqliteFailure = Literal["full", "locked", "readonly", "other"]
"""``full``: the disk or ``max_page_count`` is exhausted; ``locked``: another writer held the
lock past the busy timeout; ``readonly``: the file cannot be opened or written; ``other``."""


def sqlite_failure(exc: BaseException) -> SqliteFailure:
    """Classify ``exc`` by SQLite's error name when the module gives one, else by its text."""
    code = getattr(exc, "sqlite_errorname", "") if isinstance(exc, sqlite3.Error) else ""
    text = str(exc)
    if code == "SQLITE_FULL" or "full" in text:
        return "full"
    if code in ("SQLITE_BUSY", "SQLITE_LOCKED") or "locked" in text or "busy" in text:
        return "locked"
    if code in ("SQLITE_READONLY", "SQLITE_CANTOPEN") or "readonly" in text:
        return "readonly"
    if "unable to open" in text:
        return "readonly"
    return "other"
