"""Publishing checkpoints: verify the stored tree, then sign and store a C2SP checkpoint.

Verify-before-sign (the DigiCert Yeti 2022 lesson: a leaf hash one bit off its entry froze a
CT log for good). Before a checkpoint for size ``N`` is signed, from a consistent read of the
store:

1. the compact range at the previous checkpoint's size ``M`` is rebuilt from stored nodes and
   must give that checkpoint's signed root;
2. every entry in ``[M, N)`` is re-read, its leaf hash recomputed from the stored bytes and
   compared with the stored leaf hash, and appended to that range;
3. the resulting root must equal the root read from the stored nodes at ``N``;
4. a consistency proof ``M → N`` built from the stored nodes must verify between the signed
   old root and the recomputed new root.

Only then is the checkpoint signed, and it is stored inside a write transaction that checks it
still extends the latest stored checkpoint (another process may have published meanwhile).
A checkpoint re-published at the latest one's size and root keeps the witness cosignatures
stored on it (``monday audit cosign``), so the newest checkpoint does not lose its quorum.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence

from mondaytest.audit.checkpoint import Checkpoint, carry_cosignatures, sign_checkpoint
from mondaytest.audit.merkle import (
    CompactRange,
    ProofError,
    consistency_proof,
    root_at,
    verify_consistency,
)
from mondaytest.audit.note import NoteSigner
from mondaytest.audit.rotation_proof import rotation_entries
from mondaytest.audit.store.interface import AuditStore, StoredCheckpoint
from mondaytest.errors import CheckFailed, ConfigError

__all__ = [
    "IntegrityError",
    "KeyRetired",
    "newest_key_rotation",
    "publish_checkpoint",
    "verify_extension",
]


class IntegrityError(CheckFailed):
    """The stored tree does not match its own entries or its signed checkpoints: nothing is
    signed, and the log must be investigated (``monday audit fsck``)."""


class KeyRetired(ConfigError):  # noqa: N818 - reads as a state
    """The log's key was rotated and this process signs with the retired one: nothing is
    signed; restart the process so it loads the new key."""


def newest_key_rotation(store: AuditStore, origin: str | None = None) -> dict[str, object] | None:
    """The payload of the log's newest ``key_rotation`` entry that both of its keys signed
    (None when there is none). Entries without valid signatures are skipped: anyone who can
    write to the store could append one (``fsck`` reports them)."""
    for rotation in rotation_entries(store, origin, limit=100):
        if rotation.keys is not None:
            return rotation.payload
    return None


def _signers_in_force(
    store: AuditStore, origin: str, signers: Sequence[NoteSigner]
) -> list[NoteSigner]:
    """``signers`` without the keys a signed ``finish`` rotation retired once a checkpoint
    covered it (the one covering it is still signed by both keys). Raises
    :class:`KeyRetired` when that leaves none (a process opened before the rotation, holding
    only the old key). A process opened during the window holds both keys: it goes on with the
    new one alone. A copy of an older, genuine finish entry appended later retires nothing the
    process holds, so it cannot stop the key in force."""
    ours = {getattr(s, "vkey", None): s for s in signers}
    latest = store.latest_checkpoint()
    covered = latest.size if latest is not None else 0
    retired: set[object] = set()
    for rotation in rotation_entries(store, origin, limit=100):
        payload = rotation.payload
        if payload.get("phase") != "finish" or rotation.keys is None:
            continue
        if rotation.idx < covered:  # the checkpoint covering the finish is out: it is retired
            retired.add(payload.get("old_vkey"))
    kept = [s for vkey, s in ours.items() if vkey not in retired]
    if signers and not kept:
        raise KeyRetired(
            "the log's key was rotated and this process signs with the retired key: no "
            "checkpoint is signed with it",
            hint="restart the process so it loads the new key (audit.key)",
        )
    return kept


class _Uncached:
    """The store as a :class:`~mondaytest.audit.merkle.HashReader` that bypasses its cache."""

    def __init__(self, store: AuditStore) -> None:
        self._store = store

    def subtree_hash(self, level: int, index: int) -> bytes:
        return self._store.read_node(level, index)


def verify_extension(store: AuditStore, old: StoredCheckpoint | None, size: int) -> bytes:
    """Check the stored tree from ``old`` (the last signed checkpoint) up to ``size``.

    Returns the recomputed root at ``size``; raises :class:`IntegrityError` naming the first
    thing that does not hold. Call inside a consistent read (``store.snapshot()``).
    """
    reader = _Uncached(store)
    old_size = old.size if old is not None else 0
    if size < old_size:
        raise IntegrityError(
            f"the store has {size} entries but checkpoint #{old.seq if old else 0} "
            f"already covers {old_size}: entries were removed"
        )
    tree = CompactRange.from_reader(old_size, reader)
    if old is not None and tree.root() != old.root:
        raise IntegrityError(
            f"stored nodes give a different root at size {old_size} than checkpoint #{old.seq}"
        )
    expected = old_size
    sha = hashlib.sha256
    leaves: list[bytes] = []
    for row in store.entries(old_size, size):
        if row.idx != expected:
            raise IntegrityError(f"entry {expected} is missing from the store")
        recomputed = sha(b"\x00" + row.body).digest()  # RFC 9162 leaf hash
        if recomputed != row.leaf:
            raise IntegrityError(
                f"entry {row.idx}: stored leaf hash does not match the entry's bytes"
            )
        leaves.append(recomputed)
        expected += 1
        if len(leaves) >= 65536:
            tree.absorb(leaves)
            leaves.clear()
    tree.absorb(leaves)
    if expected != size:
        raise IntegrityError(f"entry {expected} is missing from the store")
    new_root = tree.root()
    if root_at(size, reader) != new_root:
        raise IntegrityError(f"stored nodes give a different root at size {size} than the entries")
    if old is not None and old_size > 0:
        try:
            proof = consistency_proof(old_size, size, reader)
            verify_consistency(old_size, size, proof, old.root, new_root)
        except ProofError as exc:
            raise IntegrityError(
                f"size {size} is not consistent with checkpoint #{old.seq}: {exc.message}"
            ) from None
    return new_root


def publish_checkpoint(
    store: AuditStore,
    origin: str,
    signers: Sequence[NoteSigner],
    *,
    republish: bool = False,
) -> StoredCheckpoint | None:
    """Verify the tree and publish a checkpoint of the current size.

    Returns the new checkpoint, or None when the latest stored one already covers the current
    size and ``republish`` is false. Raises :class:`IntegrityError` instead of signing anything
    that does not verify.
    """
    signers = _signers_in_force(store, origin, signers)
    with store.snapshot():
        old = store.latest_checkpoint()
        size = store.size()
        if old is not None and old.size > size:
            raise IntegrityError(
                f"the store has {size} entries but checkpoint #{old.seq} already covers "
                f"{old.size}: entries were removed"
            )
        if old is not None and old.size >= size and not republish:
            return None
        if old is not None and old.size == size:
            root = old.root
        else:
            root = verify_extension(store, old, size)
    note = sign_checkpoint(Checkpoint(origin=origin, size=size, root=root), signers)
    with store.write() as tx:
        latest = tx.latest_checkpoint()
        if latest is not None and (latest.seq != (old.seq if old else 0)):
            if latest.size > size or (latest.size == size and not republish):
                return None  # someone published a newer one meanwhile
            if latest.size == size and latest.root != root:
                raise IntegrityError(
                    f"checkpoint #{latest.seq} has another root for size {size}: the log forked"
                )
            if 0 < latest.size < size:
                try:
                    proof = consistency_proof(latest.size, size, tx)
                    verify_consistency(latest.size, size, proof, latest.root, root)
                except ProofError as exc:
                    raise IntegrityError(
                        f"size {size} is not consistent with checkpoint #{latest.seq}: "
                        f"{exc.message}"
                    ) from None
        if latest is not None and latest.size == size and latest.root == root:
            # the same checkpoint again (republished): keep the witnesses' cosignatures on it
            note = carry_cosignatures(note, latest.note)
        now = time.time()
        seq = tx.insert_checkpoint(size, root, note, now)
    return StoredCheckpoint(seq=seq, size=size, root=root, note=note, created_at=now)
