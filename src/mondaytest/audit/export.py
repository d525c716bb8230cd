"""Export the log as a static C2SP tlog-tiles directory, at its latest checkpoint."""

from __future__ import annotations

from pathlib import Path

from mondaytest.audit.store.interface import AuditStore, StoredCheckpoint
from mondaytest.audit.tiles import export_tiles
from mondaytest.errors import InputError

__all__ = ["export_store"]


def export_store(log: object, directory: Path | str) -> tuple[StoredCheckpoint, int]:
    """Write tiles, entry bundles and the checkpoint file of the newest checkpoint.

    ``log`` is an :class:`~mondaytest.audit.log.AuditLog` (or anything with a ``store``).
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

    files = export_tiles(directory, cp.size, store, checkpoint_note=cp.note, entries=entries)
    return cp, files
