"""The audit store's extension point: one :class:`AuditStore` Protocol, one module per backend.

A store persists three things (the erasable vault lives beside it, see
:mod:`mondaytest.audit.vault`):

- **entries**: ``idx`` (0, 1, 2, … with no gaps), the leaf hash, the exact leaf bytes, and a few
  columns copied out of the bytes for lookups (type, kind, id, ts);
- **nodes**: the hash of every *complete* interior subtree ``(level ≥ 1, index)``; level 0 is
  the entries' leaf hashes. Complete subtrees never change; a backend may group them (SQLite
  keeps 8 tree levels per row, C2SP-tile style), rewriting only the right edge as it grows;
- **checkpoints**: every signed C2SP checkpoint, in publication order.

Sequencing happens inside :meth:`AuditStore.write`: the transaction it opens is exclusive
(SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``pg_advisory_xact_lock`` on a per-origin key), and the
tree size is re-read inside it, so any number of processes can append to one store and the tree
never forks. The shared append logic lives in :mod:`mondaytest.audit.sequencer`; a backend only
provides the primitives below.

Every method raises :class:`~mondaytest.errors.StoreError` when the backend fails (unreachable,
full, locked too long) and never leaves a half-written batch: a write transaction commits all
of its rows or none.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import NamedTuple, Protocol

__all__ = [
    "AuditStore",
    "EntryRow",
    "StoredCheckpoint",
    "WriteTransaction",
]


class EntryRow(NamedTuple):
    """One stored entry (a named tuple: stores stream millions of them, and a tuple is the
    cheapest immutable record Python builds)."""

    idx: int
    """Position in the tree."""
    leaf: bytes
    """Stored leaf hash (``SHA-256(0x00 ‖ body)`` when intact)."""
    body: bytes
    """Exact leaf bytes."""


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """One signed checkpoint as stored."""

    seq: int
    """Publication order (1, 2, …)."""
    size: int
    """Tree size it covers."""
    root: bytes
    """Root hash it commits to (also inside the note)."""
    note: bytes
    """The signed note, exactly as signed."""
    created_at: float
    """Unix time it was stored."""


class WriteTransaction(Protocol):
    """An exclusive write transaction: reads see every committed write, nobody else writes."""

    def size(self) -> int:
        """Number of entries, read inside the transaction."""
        ...

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Stored hash of a complete subtree (a :class:`~mondaytest.audit.merkle.HashReader`)."""
        ...

    def get_meta(self, key: str) -> str | None:
        """A metadata value (``origin``, ``last_config_idx``, ``min_index`` …)."""
        ...

    def head(self, keys: Sequence[str]) -> tuple[int, dict[str, str]]:
        """The size and the metadata values of ``keys`` that are set, read together."""
        ...

    def set_meta(self, key: str, value: str) -> None:
        """Set a metadata value."""
        ...

    def insert_entries(self, rows: Sequence[tuple[int, bytes, bytes, str, str, str, str]]) -> None:
        """Insert ``(idx, leaf, body, type, kind, id, ts)`` rows."""
        ...

    def insert_nodes(self, rows: Sequence[tuple[int, int, bytes]]) -> None:
        """Insert ``(level, index, hash)`` rows for complete interior subtrees (level ≥ 1)."""
        ...

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The most recently stored checkpoint."""
        ...

    def insert_checkpoint(self, size: int, root: bytes, note: bytes, created_at: float) -> int:
        """Store a signed checkpoint; return its ``seq``."""
        ...

    def checkpoint_of_size(self, size: int) -> StoredCheckpoint | None:
        """The newest stored checkpoint of tree size ``size``, or None."""
        ...

    def replace_checkpoint_note(self, seq: int, old: bytes, new: bytes) -> bool:
        """Replace the note of checkpoint ``seq`` when it is still ``old`` (the same checkpoint
        with more witness cosignatures; the caller verified it). False when it changed."""
        ...


class AuditStore(Protocol):
    """Persistence of one log (one origin). Implementations: ``sqlite`` (``postgres`` planned)."""

    url: str
    """Where the store is (as configured, without secrets)."""

    def schema_version(self) -> int:
        """The schema version of the store's tables."""
        ...

    def origin(self) -> str | None:
        """The origin the store was created for (None before the first write)."""
        ...

    def write(self) -> AbstractContextManager[WriteTransaction]:
        """Open an exclusive write transaction; commit on normal exit, roll back on error."""
        ...

    def snapshot(self) -> AbstractContextManager[object]:
        """A read transaction: reads inside it see one consistent state of the store."""
        ...

    def size(self) -> int:
        """Number of entries (committed)."""
        ...

    def get_meta(self, key: str) -> str | None:
        """A metadata value."""
        ...

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Stored hash of a complete subtree; makes the store a ``HashReader``. May be served
        from a cache (committed subtrees never change)."""
        ...

    def read_node(self, level: int, index: int) -> bytes:
        """Like :meth:`subtree_hash`, but always read from storage (verify-before-sign)."""
        ...

    def entry(self, idx: int) -> EntryRow | None:
        """One entry, or None."""
        ...

    def entries(self, start: int = 0, end: int | None = None) -> Iterator[EntryRow]:
        """Entries ``start <= idx < end`` in index order (streamed)."""
        ...

    def find_entry_ids(self, entry_id: str, limit: int = 2) -> list[int]:
        """Indexes of the entries with this id, ascending, at most ``limit`` (ids given by
        callers need not be unique: more than one means the id is ambiguous)."""
        ...

    def index_columns(self, start: int = 0) -> Iterator[tuple[int, str, str, str, str]]:
        """``(idx, type, kind, id, ts)`` as the store indexes them, in index order: what
        searches and lookups read instead of the entry bytes (``fsck --deep`` compares them)."""
        ...

    def first_index_since(self, ts: str) -> int:
        """Lowest index whose ``ts`` is ``>= ts`` (RFC 3339 UTC); the size when there is none."""
        ...

    def search(
        self,
        *,
        kind: str | None = None,
        text: str | None = None,
        before: int | None = None,
        limit: int = 20,
    ) -> list[EntryRow]:
        """Newest-first entries matching a kind (``decision`` for decisions) and/or a substring."""
        ...

    def nodes(self, level: int, start: int = 0) -> Iterator[tuple[int, bytes]]:
        """Stored ``(index, hash)`` of complete subtrees at ``level ≥ 1``, from ``start`` on."""
        ...

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every stored checkpoint, in publication order."""
        ...

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The most recently stored checkpoint."""
        ...

    def checkpoint_of_size(self, size: int) -> StoredCheckpoint | None:
        """The newest stored checkpoint of tree size ``size``, or None."""
        ...

    def backup(self, path: str) -> None:
        """Write an online, consistent copy of the whole store to ``path``."""
        ...

    def close(self) -> None:
        """Release connections (idempotent)."""
        ...
