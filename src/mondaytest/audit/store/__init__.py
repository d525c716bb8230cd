"""Audit stores: the :class:`AuditStore` Protocol, and :func:`open_store` to pick one by URL."""

from __future__ import annotations

import os
from pathlib import Path

from mondaytest.audit.store.interface import (
    AuditStore,
    EntryRow,
    StoredCheckpoint,
    WriteTransaction,
)
from mondaytest.errors import InputError

__all__ = [
    "DATABASE_URL_ENV",
    "AuditStore",
    "EntryRow",
    "StoredCheckpoint",
    "WriteTransaction",
    "open_store",
    "resolve_store_url",
]

DATABASE_URL_ENV = "MONDAY_DATABASE_URL"
"""Environment variable that overrides ``audit.store``."""


def resolve_store_url(configured: str | None, override: str | None = None) -> str:
    """The store URL in force: ``override`` (``--store``), then ``MONDAY_DATABASE_URL``, then
    the configured one."""
    url = override or os.environ.get(DATABASE_URL_ENV) or configured
    if not url:
        raise InputError(
            "no audit store is configured",
            hint=f"set audit.store in monday.yaml, pass --store or set {DATABASE_URL_ENV}",
        )
    return url


def open_store(url: str, *, base_dir: Path | None = None, readonly: bool = False) -> AuditStore:
    """Open the store at ``url`` (``sqlite:///…`` or a file path; ``postgresql://`` later).

    A writable open (the default, for appends) creates the store and its schema when they do
    not exist yet, and migrates an older schema. ``readonly=True`` is for commands that only
    read: it creates, migrates and writes nothing, and raises
    :class:`~mondaytest.errors.InputError` (exit 2) when there is no store at ``url`` or the
    file there is not a Monday audit store (an empty file, another application's database).
    """
    if url.startswith(("postgresql:", "postgres:")):
        raise InputError(
            "PostgreSQL audit stores are not available yet",
            hint="use sqlite:///.monday/audit.db for now",
            field="audit.store",
        )
    if "://" in url and not url.startswith("sqlite:"):
        raise InputError(
            f"unsupported store URL {url!r}",
            hint="use sqlite:///path.db (PostgreSQL comes with the server)",
            field="audit.store",
        )
    from mondaytest.audit.store.sqlite import SQLiteStore, sqlite_path_from_url

    path, options = sqlite_path_from_url(url, base_dir)
    return SQLiteStore(path, options, url=url, readonly=readonly)
