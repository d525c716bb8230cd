"""RFC 9162 §2.1 Merkle tree math: hashing, compact ranges, proofs and their verification.

The tree is the Certificate Transparency tree (RFC 6962 §2.1, kept by RFC 9162): a leaf hashes
to ``SHA-256(0x00 ‖ data)``, an interior node to ``SHA-256(0x01 ‖ left ‖ right)``, the empty tree
to ``SHA-256("")``. Its shape is fixed by the number of leaves.

Nodes are addressed as ``(level, index)``: the *complete* subtree of ``2**level`` leaves that
starts at leaf ``index * 2**level``. Level 0 holds the leaf hashes. Only complete subtrees are
ever stored or read (through a :class:`HashReader`); the hash of an incomplete right edge is
recomputed from the complete subtrees that cover it, so everything a store persists is
immutable once written.

Proof generation reads O(log n) nodes; verification follows the iterative algorithms of
RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency), with the edge cases pinned by the
transparency-dev/merkle test vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

from mondaytest.errors import CheckFailed, InputError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "HashReader",
    "MemoryHashes",
    "Node",
    "ProofError",
    "TreeError",
    "consistency_ok",
    "consistency_proof",
    "inclusion_ok",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "peak_positions",
    "range_hash",
    "root_at",
    "root_from_inclusion",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Bytes in every hash of the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root hash of the empty tree: ``SHA-256("")``."""

Node = tuple[int, int, bytes]
"""A complete subtree as ``(level, index, hash)``."""

_sha256 = hashlib.sha256


class ProofError(CheckFailed):
    """A Merkle proof does not verify: the log is not what the proof claims (exit 1)."""


class TreeError(InputError):
    """A request the tree cannot answer: an index or size out of range, a malformed hash."""


def leaf_hash(data: bytes) -> bytes:
    """Hash of a leaf: ``SHA-256(0x00 ‖ data)``."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: ``SHA-256(0x01 ‖ left ‖ right)``."""
    return _sha256(b"\x01" + left + right).digest()


class HashReader(Protocol):
    """Read access to the hashes of complete subtrees (what a store persists)."""

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Hash of the complete subtree of ``2**level`` leaves starting at ``index * 2**level``.

        Level 0 is the leaf hashes. Raise a :class:`~mondaytest.errors.MondayError` when the
        subtree is not (yet) complete or not stored.
        """
        ...


# A reader may also carry ``range_memo``: a dict where :func:`range_hash` keeps the hashes of
# leaf ranges it computed. Only for readers of committed, immutable subtrees (a store's cache);
# the verify-before-sign reader has none, so it always recomputes.


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise TreeError(f"{what} must be {HASH_SIZE} bytes, got {size}")


def _check_leaves(leaves: Sequence[bytes]) -> None:
    """Every item of ``leaves`` is a 32-byte ``bytes`` hash (checked before a batch starts, so
    a bad one changes nothing)."""
    for leaf in leaves:
        if type(leaf) is not bytes or len(leaf) != HASH_SIZE:
            _check_hash(leaf, "leaf hash")
            raise TreeError("a leaf hash must be bytes")


def _check_size(size: int, what: str = "tree size") -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise TreeError(f"{what} must be a non-negative integer, got {size!r}")


class MemoryHashes:
    """A :class:`HashReader` over an in-memory tree: one list of complete-node hashes per level.

    Meant for tests, tools and small trees; a store implements :class:`HashReader` from its
    persisted nodes instead.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        self.extend(leaf_hashes)

    @classmethod
    def from_entries(cls, entries: Iterable[bytes]) -> MemoryHashes:
        """Build the tree over raw entries (each is hashed with :func:`leaf_hash`)."""
        return cls(leaf_hash(e) for e in entries)

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash, completing every subtree it closes."""
        _check_hash(leaf, "leaf hash")
        levels = self.levels
        index = len(levels[0])
        levels[0].append(bytes(leaf))
        level = 0
        value = bytes(leaf)
        while index & 1:
            value = _sha256(b"\x01" + levels[level][index - 1] + value).digest()
            level += 1
            index >>= 1
            if level == len(levels):
                levels.append([])
            levels[level].append(value)

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append many leaf hashes."""
        for leaf in leaves:
            self.append(leaf)

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Hash of the complete subtree ``(level, index)``; :class:`TreeError` if not complete."""
        if 0 <= level < len(self.levels) and 0 <= index < len(self.levels[level]):
            return self.levels[level][index]
        raise TreeError(
            f"subtree (level {level}, index {index}) is not complete in a tree of {self.size}"
        )

    def root(self) -> bytes:
        """Root hash of the whole tree."""
        return root_at(self.size, self)


def peak_positions(size: int) -> list[tuple[int, int]]:
    """The complete subtrees ``(level, index)`` that cover the first ``size`` leaves, left first.

    One per set bit of ``size``, largest first; their hashes are a compact range's peaks.
    """
    _check_size(size)
    out: list[tuple[int, int]] = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            out.append((level, start >> level))
            start += 1 << level
    return out


def range_hash(start: int, count: int, reader: HashReader) -> bytes:
    """Merkle Tree Hash of leaves ``[start, start + count)`` from complete subtrees.

    ``start`` must be a multiple of the smallest power of two ``>= count`` (true of every
    subtree in an RFC 6962 tree). Reads one node per set bit of ``count``.
    """
    if count == 0:
        return EMPTY_ROOT
    memo: dict[tuple[int, int], bytes] | None = getattr(reader, "range_memo", None)
    if memo is not None:
        cached = memo.get((start, count))
        if cached is not None:
            return cached
    hashes: list[bytes] = []
    pos = start
    for level in range(count.bit_length() - 1, -1, -1):
        if count >> level & 1:
            hashes.append(reader.subtree_hash(level, pos >> level))
            pos += 1 << level
    value = hashes[-1]
    for left in reversed(hashes[:-1]):
        value = _sha256(b"\x01" + left + value).digest()
    if memo is not None:
        if len(memo) >= 4096:
            memo.clear()
        memo[(start, count)] = value
    return value


def root_at(size: int, reader: HashReader) -> bytes:
    """Root hash of the first ``size`` leaves, read from complete subtrees only."""
    _check_size(size)
    return range_hash(0, size, reader)


class CompactRange:
    """A Merkle accumulator: the peaks (complete subtrees covering ``[0, size)``) of a tree.

    It is enough to append leaves and compute the root without reading anything else.
    ``peaks`` (left first, one per set bit of ``size``) is what a store saves to restore it,
    or it can be rebuilt with :meth:`from_reader`.
    """

    __slots__ = ("_peaks", "_size")

    def __init__(self, size: int = 0, peaks: Sequence[bytes] = ()) -> None:
        _check_size(size)
        if len(peaks) != size.bit_count():
            raise TreeError(
                f"a compact range of size {size} has {size.bit_count()} peaks, got {len(peaks)}"
            )
        for peak in peaks:
            _check_hash(peak, "peak hash")
        self._size = size
        self._peaks = [bytes(p) for p in peaks]

    @classmethod
    def from_reader(cls, size: int, reader: HashReader) -> CompactRange:
        """Restore the range for the first ``size`` leaves from stored complete subtrees."""
        return cls(size, [reader.subtree_hash(lv, ix) for lv, ix in peak_positions(size)])

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def peaks(self) -> list[bytes]:
        """Copy of the peak hashes, left (largest subtree) first."""
        return list(self._peaks)

    def peak_nodes(self) -> list[Node]:
        """The peaks with their positions, as ``(level, index, hash)``."""
        return [
            (lv, ix, h) for (lv, ix), h in zip(peak_positions(self._size), self._peaks, strict=True)
        ]

    def append(self, leaf: bytes) -> list[Node]:
        """Append one leaf hash; return the complete nodes it creates, the leaf itself first."""
        if type(leaf) is not bytes or len(leaf) != HASH_SIZE:
            _check_hash(leaf, "leaf hash")
            leaf = bytes(leaf)
        index = self._size
        value = leaf
        created: list[Node] = [(0, index, value)]
        peaks = self._peaks
        level = 0
        while index & 1:
            value = _sha256(b"\x01" + peaks.pop() + value).digest()
            level += 1
            index >>= 1
            created.append((level, index, value))
        peaks.append(value)
        self._size += 1
        return created

    def extend(self, leaves: Iterable[bytes]) -> list[Node]:
        """Append many leaf hashes; return every complete node created, in creation order."""
        created: list[Node] = []
        for leaf in leaves:
            created.extend(self.append(leaf))
        return created

    def extend_interior(self, leaves: Sequence[bytes]) -> list[Node]:
        """Append many leaf hashes; return the interior nodes (level ≥ 1) they complete, in
        creation order. The same nodes as :meth:`extend` without the leaves, in one loop."""
        _check_leaves(leaves)
        peaks = self._peaks
        size = self._size
        sha = _sha256
        created: list[Node] = []
        add = created.append
        for value in leaves:
            index = size
            level = 0
            while index & 1:
                value = sha(b"\x01" + peaks.pop() + value).digest()
                level += 1
                index >>= 1
                add((level, index, value))
            peaks.append(value)
            size += 1
        self._size = size
        return created

    def absorb(self, leaves: Sequence[bytes]) -> None:
        """Append many leaf hashes without recording the nodes they complete (to recompute a
        root, as verify-before-sign does)."""
        _check_leaves(leaves)
        peaks = self._peaks
        size = self._size
        sha = _sha256
        for value in leaves:
            index = size
            while index & 1:
                value = sha(b"\x01" + peaks.pop() + value).digest()
                index >>= 1
            peaks.append(value)
            size += 1
        self._size = size

    def root(self) -> bytes:
        """Root hash of the leaves appended so far."""
        peaks = self._peaks
        if not peaks:
            return EMPTY_ROOT
        value = peaks[-1]
        for left in reversed(peaks[:-1]):
            value = _sha256(b"\x01" + left + value).digest()
        return value

    def copy(self) -> CompactRange:
        """An independent copy."""
        return CompactRange(self._size, self._peaks)

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()[:16]}…)"


# --- proof generation ---------------------------------------------------------------------


def _largest_power_below(n: int) -> int:
    """Largest power of two strictly less than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof(index: int, size: int, reader: HashReader) -> list[bytes]:
    """Audit path of leaf ``index`` in the tree of the first ``size`` leaves (RFC 6962 §2.1.1).

    Ordered from the leaf's sibling up to the root's child.
    """
    _check_size(size)
    _check_size(index, "leaf index")
    if index >= size:
        raise TreeError(f"leaf index {index} is not below tree size {size}")
    upper: list[bytes] = []  # root side first
    offset, n = 0, size
    while n > 1:
        if n & (n - 1) == 0:  # a complete subtree: the rest are plain siblings
            height = n.bit_length() - 1
            lower = [reader.subtree_hash(lv, (index >> lv) ^ 1) for lv in range(height)]
            upper.reverse()
            return lower + upper
        k = _largest_power_below(n)
        if index - offset < k:
            upper.append(range_hash(offset + k, n - k, reader))
            n = k
        else:
            upper.append(reader.subtree_hash(k.bit_length() - 1, offset >> (k.bit_length() - 1)))
            offset += k
            n -= k
    upper.reverse()
    return upper


def consistency_proof(old: int, new: int, reader: HashReader) -> list[bytes]:
    """Proof that the tree of size ``old`` is a prefix of the tree of size ``new`` (§2.1.2).

    Empty when ``old == new``; ``0 < old <= new`` is required otherwise.
    """
    _check_size(old, "old size")
    _check_size(new, "new size")
    if old > new:
        raise TreeError(f"old size {old} is larger than new size {new}")
    if old == new:
        return []
    if old == 0:
        raise TreeError("there is no consistency proof from the empty tree (it is implied)")
    upper: list[bytes] = []  # root side first
    offset, m, n, whole = 0, old, new, True
    while m != n:
        k = _largest_power_below(n)
        if m <= k:
            upper.append(range_hash(offset + k, n - k, reader))
            n = k
        else:
            upper.append(reader.subtree_hash(k.bit_length() - 1, offset >> (k.bit_length() - 1)))
            offset += k
            m -= k
            n -= k
            whole = False
    if not whole:
        upper.append(range_hash(offset, m, reader))
    upper.reverse()
    return upper


# --- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) -----------------------------------------


def _check_proof_hashes(proof: Sequence[bytes]) -> None:
    for i, p in enumerate(proof):
        if not isinstance(p, bytes | bytearray) or len(p) != HASH_SIZE:
            raise ProofError(f"proof hash {i} is not {HASH_SIZE} bytes")


def _check_verify_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise ProofError(f"{what} is not a {HASH_SIZE}-byte hash")


def _is_count(value: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def root_from_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` implies for ``leaf_hash`` at ``index`` in a tree of ``size``.

    Raises :class:`ProofError` when the proof is malformed for that index and size.
    """
    if not (_is_count(index) and _is_count(size)):
        raise ProofError(f"leaf index {index!r} and tree size {size!r} must be non-negative")
    if index >= size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    _check_verify_hash(leaf_hash, "leaf hash")
    _check_proof_hashes(proof)
    fn, sn, r = index, size - 1, bytes(leaf_hash)
    for p in proof:
        if sn == 0:
            raise ProofError(
                f"inclusion proof has {len(proof)} hashes, too many for index {index} "
                f"in a tree of {size}"
            )
        if fn & 1 or fn == sn:
            r = _sha256(b"\x01" + p + r).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(
            f"inclusion proof has {len(proof)} hashes, too few for index {index} "
            f"in a tree of {size}"
        )
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is at ``index`` in the tree of ``size`` with ``root``.

    Raises :class:`ProofError` saying what does not hold. As in every RFC 9162 verifier, the
    proof binds the leaf, the index and the root; the tree size is bound only through the
    root (a proof can be well-formed for several sizes, always implying the same root). So
    take ``size`` and ``root`` together from one verified checkpoint.
    """
    _check_verify_hash(root, "root hash")
    computed = root_from_inclusion(leaf_hash, index, size, proof)
    if computed != root:
        raise ProofError(
            f"inclusion proof for index {index} does not lead to the root of the tree of {size}"
        )


def inclusion_ok(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """:func:`verify_inclusion` as a boolean."""
    try:
        verify_inclusion(leaf_hash, index, size, proof, root)
    except ProofError:
        return False
    return True


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Check that the tree ``(old_size, old_root)`` is a prefix of ``(new_size, new_root)``.

    Edge cases (as the reference verifier and its vectors): ``old_size == 0`` is rejected (the
    empty tree is a prefix of everything, so a proof "from" it proves nothing); equal sizes
    need an empty proof and byte-equal roots; otherwise the proof must be non-empty.
    Raises :class:`ProofError`.
    """
    if not (_is_count(old_size) and _is_count(new_size)):
        raise ProofError(f"tree sizes {old_size!r} and {new_size!r} must be non-negative")
    if old_size > new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == 0:
        raise ProofError("consistency from the empty tree proves nothing and is not accepted")
    if old_size == new_size:
        if proof:
            raise ProofError(f"sizes are equal ({old_size}) but the proof is not empty")
        if old_root != new_root:
            raise ProofError(f"two different roots for the same tree size {old_size}")
        return
    if not proof:
        raise ProofError(f"empty consistency proof from size {old_size} to {new_size}")
    _check_verify_hash(old_root, "old root hash")
    _check_verify_hash(new_root, "new root hash")
    _check_proof_hashes(proof)

    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the path
        path.insert(0, bytes(old_root))
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"consistency proof from {old_size} to {new_size} has too many hashes")
        if fn & 1 or fn == sn:
            fr = _sha256(b"\x01" + c + fr).digest()
            sr = _sha256(b"\x01" + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _sha256(b"\x01" + sr + c).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"consistency proof from {old_size} to {new_size} has too few hashes")
    if fr != old_root:
        raise ProofError(
            f"consistency proof does not lead to the old root (size {old_size}): "
            "the old tree is not a prefix of the new one"
        )
    if sr != new_root:
        raise ProofError(
            f"consistency proof does not lead to the new root (size {new_size}): "
            "the new tree does not extend the old one"
        )


def consistency_ok(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> bool:
    """:func:`verify_consistency` as a boolean."""
    try:
        verify_consistency(old_size, new_size, proof, old_root, new_root)
    except ProofError:
        return False
    return True
