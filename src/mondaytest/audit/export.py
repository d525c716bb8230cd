"""Export the log as a static C2SP tlog-tiles directory, at its latest checkpoint.

Entries below the log's minimum index (raised by retention, :mod:`.retention`) are pruned as
C2SP tlog-tiles describes: entry bundles whose end index is at or below the minimum index are
not written; the bundle that straddles it is written whole (it holds served entries, and a
bundle is immutable); every hash tile is written, so roots and proofs stay computable. The
``retention`` entry that raised the minimum index lies at or above it, so it is always in the
export, where ``verify --tiles`` reads it to tell pruned bundles from missing ones.
"""

from __future__ import annotations

from pathlib import Path

from mondaytest.audit.store.interface import AuditStore, StoredCheckpoint
from mondaytest.audit.tiles import export_tiles
from mondaytest.audit.verify import retention_min_index
from mondaytest.errors import InputError

__all__ = ["export_min_index", "export_store"]


def export_min_index(store: AuditStore, size: int) -> int:
    """The minimum index an export at ``size`` prunes to: the store's ``min_index``.

    Raises :class:`~mondaytest.errors.InputError` when the minimum index was raised by a
    ``retention`` entry the checkpoint at ``size`` does not cover yet (the export could not
    prove why the bundles are gone).
    """
    value = store.get_meta("min_index")
    floor = int(value) if value else 0
    if floor == 0:
        return 0
    declared = 0
    for row in store.search(kind="retention", before=size, limit=1):
        declared = retention_min_index(row.body) or 0
    if declared < floor:
        raise InputError(
            f"the log's minimum index is {floor}, but the latest checkpoint (size {size}) "
            "does not cover the retention entry that raised it",
            hint="run `monday audit checkpoint`, then export again",
        )
    return floor


def export_store(log: object, directory: Path | str) -> tuple[StoredCheckpoint, int]:
    """Write tiles, entry bundles and the checkpoint file of the newest checkpoint.

    ``log`` is an :class:`~mondaytest.audit.log.AuditLog` (or anything with a ``store``).
    Bundles wholly below the minimum index are left out (see the module docstring).
    Returns the checkpoint exported and the number of files written.
    """
    store: AuditStore = log.store  # type: ignore[attr-defined]
    cp = store.latest_checkpoint()
    if cp is None:
        raise InputError(
            "the log has no checkpoint to export", hint="run `monday audit checkpoint` first"
        )

    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise InputError(
            f"cannot write {root}: it is a file, not a directory",
            hint="pass --tiles a new or empty directory (or an earlier export to update)",
        )
    if root.is_dir() and not (root / "checkpoint").is_file() and any(root.iterdir()):
        raise InputError(
            f"{root} is not empty and holds no earlier export (no checkpoint file)",
            hint="pass --tiles a new or empty directory (or an earlier export to update)",
        )

    def entries(start: int, count: int) -> list[bytes]:
        return [row.body for row in store.entries(start, start + count)]

    files = export_tiles(
        directory,
        cp.size,
        store,
        checkpoint_note=cp.note,
        entries=entries,
        min_index=export_min_index(store, cp.size),
    )
    return cp, files
