"""Sequencing: append a batch of entries to a store inside one exclusive write transaction.

The transaction re-reads the tree size, assigns consecutive indexes, fills each decision's
``config_idx`` with the last configuration entry in force, writes the entries and every complete
subtree they close, and commits — all or nothing. Because the size is read under the store's
write lock, any number of processes can append to one store and the tree never forks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence

from mondaytest._util.gcpause import gc_paused
from mondaytest.audit.entries import EntryDraft
from mondaytest.audit.merkle import CompactRange
from mondaytest.audit.store.interface import AuditStore, WriteTransaction
from mondaytest.errors import ConfigError

__all__ = ["Sequencer"]

_META_ORIGIN = "origin"
_META_LAST_CONFIG = "last_config_idx"


class Sequencer:
    """Appends batches to one store; keeps the compact range of the last size it wrote.

    ``genesis`` builds entry 0 when the store is empty (it records the origin, the vkey and the
    contract). Not thread-safe: one sequencer per writer thread.
    """

    def __init__(
        self,
        store: AuditStore,
        origin: str,
        genesis: Callable[[], EntryDraft] | None = None,
    ) -> None:
        self.store = store
        self.origin = origin
        self._genesis = genesis
        self._range: CompactRange | None = None

    def _range_for(self, tx: WriteTransaction, size: int) -> CompactRange:
        cached = self._range
        if cached is not None and cached.size == size:
            return cached.copy()
        return CompactRange.from_reader(size, tx)

    def append(
        self, drafts: Sequence[EntryDraft], *, meta: Mapping[str, str] | None = None
    ) -> list[int]:
        """Sequence ``drafts`` atomically; return their indexes (consecutive).

        ``meta`` values are set in the same transaction (e.g. a retention's ``min_index``).
        """
        self._range = None  # only trusted again after a commit
        with gc_paused(len(drafts)), self.store.write() as tx:
            size, meta_now = tx.head((_META_ORIGIN, _META_LAST_CONFIG))
            stored_origin = meta_now.get(_META_ORIGIN)
            if stored_origin is None:
                tx.set_meta(_META_ORIGIN, self.origin)
            elif stored_origin != self.origin:
                raise ConfigError(
                    f"the store holds the log {stored_origin!r}, not {self.origin!r}",
                    hint="one store holds one log: fix audit.origin or audit.store",
                    field="audit.origin",
                )
            batch = list(drafts)
            if size == 0 and self._genesis is not None:
                batch.insert(0, self._genesis())
            tree = self._range_for(tx, size)
            last = meta_now.get(_META_LAST_CONFIG)
            config_idx = int(last) if last is not None else None
            rows: list[tuple[int, bytes, bytes, str, str, str, str]] = []
            leaves: list[bytes] = []
            config_changed = False
            sha = hashlib.sha256
            for offset, draft in enumerate(batch):
                idx = size + offset
                body = draft.finish(idx, config_idx)
                leaf = sha(b"\x00" + body).digest()  # RFC 9162 leaf hash (merkle.leaf_hash)
                leaves.append(leaf)
                rows.append(
                    (idx, leaf, body, draft.entry_type, draft.kind, draft.entry_id, draft.ts)
                )
                if draft.is_config:
                    config_idx = idx
                    config_changed = True
            nodes = tree.extend_interior(leaves)
            tx.insert_entries(rows)
            if nodes:
                tx.insert_nodes(nodes)
            if config_changed:
                tx.set_meta(_META_LAST_CONFIG, str(config_idx))
            for key, value in (meta or {}).items():
                tx.set_meta(key, value)
        self._range = tree
        first = size + (len(batch) - len(drafts))
        return list(range(first, first + len(drafts)))
