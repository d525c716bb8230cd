"""Export the log as a static C2SP tlog-tiles directory, at its latest checkpoint.

Entries below the log's minimum index (raised by retention, :mod:`.retention`) are pruned as
C2SP tlog-tiles describes: entry bundles whose end index is at or below the minimum index are
not written; the bundle that straddles it is written whole (it holds served entries, and a
bundle is immutable); every hash tile is written, so roots and proofs stay computable. The
``retention`` entry that raised the minimum index lies at or above it, so it is always in the
export, where ``verify --tiles`` reads it to tell pruned bundles from missing ones.

Exporting into a directory that already holds an export updates it (incremental): only when
that export is of this log (same origin) and the log's tree extends the tree of its
``checkpoint`` — a consistency proof from the store, between the old size and the new one,
must lead to the old checkpoint's root and to the new one. Anything else (another log, a
diverged history, a checkpoint newer than the log's) is refused before a file is written, so
one directory never mixes the tiles of two histories.
"""

from __future__ import annotations

from pathlib import Path

from mondaytest._util.files import read_at_most
from mondaytest.audit.checkpoint import Checkpoint, peek_checkpoint
from mondaytest.audit.merkle import (
    ProofError,
    consistency_proof,
    root_at,
    verify_consistency,
)
from mondaytest.audit.note import MAX_NOTE_BYTES, NoteError
from mondaytest.audit.store.interface import AuditStore, StoredCheckpoint
from mondaytest.audit.tiles import export_tiles
from mondaytest.audit.verify import retention_min_index
from mondaytest.errors import CheckFailed, InputError

__all__ = ["check_earlier_export", "export_min_index", "export_store"]

_NEW_DIR_HINT = "pass --tiles a new or empty directory (or an earlier export of this log to update)"


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
            hint=_NEW_DIR_HINT,
        )
    if (root / "checkpoint").is_file():
        check_earlier_export(store, root, peek_checkpoint(cp.note))

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


def _earlier_checkpoint(path: Path) -> Checkpoint:
    """The checkpoint an earlier export left at ``path`` (its signatures are not checked)."""
    try:
        data = read_at_most(path, MAX_NOTE_BYTES)
    except OSError as exc:
        raise InputError(
            f"cannot read the earlier export's checkpoint {path}: {exc.strerror or exc}",
            hint=_NEW_DIR_HINT,
        ) from None
    try:
        return peek_checkpoint(data)
    except NoteError as exc:
        raise InputError(
            f"{path} is not a checkpoint ({exc.message}); refusing to export over it",
            hint=_NEW_DIR_HINT,
        ) from None


def check_earlier_export(store: AuditStore, directory: Path, new: Checkpoint) -> None:
    """Refuse to write the export of ``new`` over ``directory`` unless the export already there
    is of the same log and ``new`` extends it.

    The old ``checkpoint`` must name ``new``'s origin (else :class:`InputError`), and a
    consistency proof read from ``store`` from its size to ``new``'s must lead to both roots
    (else :class:`CheckFailed`: the directory holds another history). An old checkpoint larger
    than ``new`` is refused too: exporting would move the directory back. Its signatures are
    not checked (the export may run without the log's keys): consistency with the tree the
    store proves is what makes overwriting it safe, and ``verify --tiles`` checks the new one.
    """
    where = directory / "checkpoint"
    old = _earlier_checkpoint(where)
    if old.origin != new.origin:
        raise InputError(
            f"{directory} holds an export of the log {old.origin!r}, not of {new.origin!r}; "
            "nothing was written",
            hint=_NEW_DIR_HINT,
        )
    if old.size > new.size:
        stored = store.size()
        same = stored >= old.size and root_at(old.size, store) == old.root
        if same:
            raise InputError(
                f"{directory} holds an export at size {old.size}, newer than the log's latest "
                f"checkpoint (size {new.size}); exporting would move it back, nothing was "
                "written",
                hint="run `monday audit checkpoint`, then export again",
            )
        held = (
            f"holds only {stored} entries: an older copy of the log, or another history"
            if stored < old.size
            else "holds another tree at that size: the two histories differ"
        )
        raise CheckFailed(
            f"{directory} holds an export of {old.origin} at size {old.size}, which this "
            f"store (latest checkpoint at size {new.size}) does not contain; the store "
            f"{held}; nothing was written",
            hint="export to a new directory, and find out which copy of the log is the "
            "right one (`monday audit verify --tiles` on the old export)",
        )
    if old.size == 0:  # parsing made sure its root is the empty tree's: every log extends it
        return
    try:
        proof = consistency_proof(old.size, new.size, store)
        verify_consistency(old.size, new.size, proof, old.root, new.root)
    except ProofError as exc:
        raise CheckFailed(
            f"{directory} holds an export of {old.origin} at size {old.size} that the log's "
            f"tree at size {new.size} does not extend ({exc.message}): the two histories "
            "differ; nothing was written",
            hint="export to a new directory, and find out which copy of the log is the "
            "right one (`monday audit verify --tiles` on the old export)",
        ) from None
