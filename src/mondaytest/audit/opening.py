"""Opening a store that must already exist: every command that reads (or verifies) a log.

Opening a SQLite store creates the file and its tables, which is right for a writer and wrong
for a reader: ``monday audit verify --store missing.db`` would create an empty database and
report a verified log of 0 entries. The readers (``verify``, ``fsck``, ``log``, ``receipt``,
``consistency``, ``export``, ``backup``, ``witness``, ``cosign``) open the store through
:func:`open_existing_store` / :func:`open_existing_log`, which refuse a store path that does
not exist or a file that is not an audit store (exit 2), and open it read-only: nothing is
created, migrated or written.
"""

from __future__ import annotations

import os
from pathlib import Path

from mondaytest.audit.log import AuditLog, LogConfig, open_log
from mondaytest.audit.store import DATABASE_URL_ENV, AuditStore, open_store
from mondaytest.errors import InputError

__all__ = ["open_existing_log", "open_existing_store", "require_store", "store_source"]


def store_source(override: str | None) -> str:
    """Where the store URL in force came from, for messages (see ``resolve_store_url``)."""
    if override:
        return "--store"
    if os.environ.get(DATABASE_URL_ENV):
        return DATABASE_URL_ENV
    return "audit.store in monday.yaml"


def require_store(url: str, *, base_dir: Path | None = None, source: str | None = None) -> None:
    """Raise :class:`~mondaytest.errors.InputError` (exit 2) unless the store at ``url`` exists.

    Only local SQLite files can be missing; any other URL is left to :func:`open_store` (which
    reports unsupported ones). ``source`` says where the URL came from (``--store`` …).
    """
    if url.startswith(("postgresql:", "postgres:")) or (
        "://" in url and not url.startswith("sqlite:")
    ):
        return
    from mondaytest.audit.store.sqlite import sqlite_path_from_url

    path, _options = sqlite_path_from_url(url, base_dir)
    where = f" (from {source})" if source else ""
    hint = (
        "pass the database `monday audit` writes (audit.store), e.g. --store "
        "sqlite:///.monday/audit.db; a relative path is resolved against "
        + (str(base_dir) if base_dir is not None else "the current directory")
    )
    if path.is_dir():
        raise InputError(f"{path}{where} is a directory, not an audit store", hint=hint)
    if not path.is_file():
        raise InputError(f"there is no store at {path}{where}; nothing was created", hint=hint)


def open_existing_store(
    url: str,
    *,
    base_dir: Path | None = None,
    source: str | None = None,
    readonly: bool = True,
) -> AuditStore:
    """:func:`~mondaytest.audit.store.open_store`, refusing a store that does not exist or a
    file that is not an audit store. ``readonly`` (the default, for readers) opens it so that
    nothing is created, migrated or written; a command that writes (``cosign``) passes False
    once the file is known to be a store."""
    require_store(url, base_dir=base_dir, source=source)
    store = open_store(url, base_dir=base_dir, readonly=True)
    if readonly:
        return store
    store.close()
    return open_store(url, base_dir=base_dir)


def open_existing_log(
    config: LogConfig, *, readonly: bool = True, source: str | None = None
) -> AuditLog:
    """:func:`~mondaytest.audit.open_log` on ``config``, refusing a store that does not exist
    or a file that is not an audit store.

    ``readonly`` skips the signing key and opens the store read-only (a receipt may need the
    key to publish a checkpoint first: it passes False).
    """
    require_store(config.store_url, base_dir=config.base_dir, source=source)
    if not readonly:
        open_store(config.store_url, base_dir=config.base_dir, readonly=True).close()
    return open_log(config, readonly=readonly, store_readonly=readonly)
