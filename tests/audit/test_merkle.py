"""Merkle math: reference vectors, known answers, property tests, compact ranges, speed."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mondaytest.audit import merkle as m
from mondaytest.errors import CheckFailed, InputError

DATA = Path(__file__).parent / "data" / "merkle-testdata" / "testdata"


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def _proof(values: list[str] | None) -> list[bytes]:
    return [_b64(v) for v in values or []]


def _vectors(kind: str) -> list[Any]:
    files = sorted((DATA / kind).rglob("*.json"))
    assert files, f"no {kind} vectors found"
    return [pytest.param(json.loads(f.read_text()), id=str(f.relative_to(DATA))) for f in files]


# --- transparency-dev/merkle vectors ------------------------------------------------------


@pytest.mark.parametrize("vec", _vectors("inclusion"))
def test_inclusion_vectors(vec: dict[str, Any]) -> None:
    args = (
        _b64(vec["leafHash"]),
        vec["leafIdx"],
        vec["treeSize"],
        _proof(vec["proof"]),
        _b64(vec["root"]),
    )
    if vec["wantErr"]:
        with pytest.raises(m.ProofError):
            m.verify_inclusion(*args)
        assert not m.inclusion_ok(*args)
    else:
        m.verify_inclusion(*args)
        assert m.inclusion_ok(*args)


@pytest.mark.parametrize("vec", _vectors("consistency"))
def test_consistency_vectors(vec: dict[str, Any]) -> None:
    args = (
        vec["size1"],
        vec["size2"],
        _proof(vec["proof"]),
        _b64(vec["root1"]),
        _b64(vec["root2"]),
    )
    if vec["wantErr"]:
        with pytest.raises(m.ProofError):
            m.verify_consistency(*args)
        assert not m.consistency_ok(*args)
    else:
        m.verify_consistency(*args)
        assert m.consistency_ok(*args)


def test_vector_counts() -> None:
    assert len(list((DATA / "inclusion").rglob("*.json"))) > 90
    assert len(list((DATA / "consistency").rglob("*.json"))) > 90
    here = DATA.parent
    assert (here / "LICENSE").is_file()
    assert "transparency-dev/merkle" in (here / "NOTICE").read_text()


def test_happy_path_vectors_match_our_proof_generation() -> None:
    """Our generated proofs equal the reference proofs for the standard 8-leaf tree."""
    # The reference tree: leaves are the RFC 6962 test inputs.
    leaves = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ]
    tree = m.MemoryHashes.from_entries(leaves)
    checked = 0
    for f in sorted((DATA / "inclusion").glob("[0-9]/happy-path.json")):
        vec = json.loads(f.read_text())
        size, index = vec["treeSize"], vec["leafIdx"]
        if size > len(leaves) or tree.subtree_hash(0, index) != _b64(vec["leafHash"]):
            continue
        assert m.inclusion_proof(index, size, tree) == _proof(vec["proof"])
        assert m.root_at(size, tree) == _b64(vec["root"])
        checked += 1
    for f in sorted((DATA / "consistency").glob("[0-9]/happy-path.json")):
        vec = json.loads(f.read_text())
        s1, s2 = vec["size1"], vec["size2"]
        if s2 > len(leaves) or m.root_at(s1, tree) != _b64(vec["root1"]):
            continue
        assert m.consistency_proof(s1, s2, tree) == _proof(vec["proof"])
        checked += 1
    assert checked >= 6


# --- known answers ------------------------------------------------------------------------


def test_basic_hashes() -> None:
    assert hashlib.sha256(b"").digest() == m.EMPTY_ROOT
    assert base64.b64encode(m.EMPTY_ROOT) == b"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    assert m.leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    a, b = b"a" * 32, b"b" * 32
    assert m.node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()


AUDIT_MD_LEAVES = [
    ("0OCwuDrpUioNOh762P3A4KEQG/9kRAdRg1gZkjQxQ4c=", 0),
    ("STgzTc7Iv7bV6gIUdjawWusor0+C1qiHm0SpfL5yuas=", 1),
    ("fqey8eMqj1XA8nxzG7Nl9M83KRA71FNmtNlaDn06S7E=", 2),
]
AUDIT_MD_ROOT = "mlDIn62y2F9NCOwZabRt3+xVyF1o4Ujicxzg45FIhN0="


def test_audit_md_worked_example() -> None:
    """audit.md §4.8: three decision leaves, their hashes, the root and a proof."""
    entries = [
        json.dumps(
            {"i": i, "type": "decision", "v": "monday.audit/v1"},
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        for i in range(3)
    ]
    tree = m.MemoryHashes.from_entries(entries)
    for expected, i in AUDIT_MD_LEAVES:
        assert base64.b64encode(tree.subtree_hash(0, i)).decode() == expected
    root = m.root_at(3, tree)
    assert base64.b64encode(root).decode() == AUDIT_MD_ROOT
    proof = m.inclusion_proof(1, 3, tree)
    assert proof == [
        base64.b64decode(AUDIT_MD_LEAVES[0][0]),
        base64.b64decode(AUDIT_MD_LEAVES[2][0]),
    ]
    m.verify_inclusion(tree.subtree_hash(0, 1), 1, 3, proof, root)


def _mth(leaves: list[bytes]) -> bytes:
    """Merkle Tree Hash straight from the RFC 6962 recursive definition (leaf hashes given)."""
    if not leaves:
        return m.EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return m.node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


def _path(i: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if i < k:
        return [*_path(i, leaves[:k]), _mth(leaves[k:])]
    return [*_path(i - k, leaves[k:]), _mth(leaves[:k])]


def _subproof(mm: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if mm == n:
        return [] if whole else [_mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if mm <= k:
        return [*_subproof(mm, leaves[:k], whole), _mth(leaves[k:])]
    return [*_subproof(mm - k, leaves[k:], False), _mth(leaves[:k])]


N = 64
LEAVES = [m.leaf_hash(i.to_bytes(2, "big")) for i in range(2 * N)]
TREE = m.MemoryHashes(LEAVES[:N])
BIG = m.MemoryHashes(LEAVES)  # the same log grown to 128 leaves, for roots at other sizes


def _size_change_is_caught(implied: bytes | None, original_root: bytes, bad_n: int) -> bool:
    """A changed tree size is caught when the proof cannot be checked at that size at all, or
    when the root it implies is not the log's root at that size (what a signed checkpoint of
    that size carries). RFC 9162 proofs bind the size only through the root: a proof may be
    well-formed for several sizes, but it always implies the same root, which is the root of
    exactly one size."""
    if implied is None:
        return True
    assert implied == original_root  # never a new root
    return bad_n >= BIG.size or implied != m.root_at(bad_n, BIG)


def _implied_root(leaf: bytes, i: int, n: int, proof: list[bytes]) -> bytes | None:
    try:
        return m.root_from_inclusion(leaf, i, n, proof)
    except m.ProofError:
        return None


def test_proofs_match_rfc_definitions_exhaustively() -> None:
    """Every proof for every size ≤ 64 equals the RFC 6962 recursive definition and verifies."""
    for n in range(1, N + 1):
        root = m.root_at(n, TREE)
        assert root == _mth(LEAVES[:n])
        for i in range(n):
            proof = m.inclusion_proof(i, n, TREE)
            assert proof == _path(i, LEAVES[:n])
            m.verify_inclusion(LEAVES[i], i, n, proof, root)
        for old in range(1, n + 1):
            proof = m.consistency_proof(old, n, TREE)
            assert proof == (_subproof(old, LEAVES[:n], True) if old < n else [])
            m.verify_consistency(old, n, proof, m.root_at(old, TREE), root)


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@st.composite
def _inclusion_case(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(1, N))
    return draw(st.integers(0, n - 1)), n


@st.composite
def _consistency_case(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(2, N))
    return draw(st.integers(1, n - 1)), n


@settings(max_examples=300, deadline=None)
@given(case=_inclusion_case(), data=st.data())
def test_inclusion_single_bit_changes_fail(case: tuple[int, int], data: st.DataObject) -> None:
    i, n = case
    root = m.root_at(n, TREE)
    proof = m.inclusion_proof(i, n, TREE)
    m.verify_inclusion(LEAVES[i], i, n, proof, root)
    target = data.draw(st.sampled_from(["proof", "root", "leaf", "size", "index"]))
    if target == "proof" and proof:
        k = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[k] = _flip(bad[k], data.draw(st.integers(0, 255)))
        assert not m.inclusion_ok(LEAVES[i], i, n, bad, root)
    elif target == "root":
        bad_root = _flip(root, data.draw(st.integers(0, 255)))
        assert not m.inclusion_ok(LEAVES[i], i, n, proof, bad_root)
    elif target == "leaf":
        bad_leaf = _flip(LEAVES[i], data.draw(st.integers(0, 255)))
        assert not m.inclusion_ok(bad_leaf, i, n, proof, root)
    elif target == "size":
        bad_n = n ^ (1 << data.draw(st.integers(0, 63)))
        implied = _implied_root(LEAVES[i], i, bad_n, proof)
        assert _size_change_is_caught(implied, root, bad_n)
        if bad_n < BIG.size:
            assert not m.inclusion_ok(LEAVES[i], i, bad_n, proof, m.root_at(bad_n, BIG))
    else:
        bad_i = i ^ (1 << data.draw(st.integers(0, 63)))
        assert not m.inclusion_ok(LEAVES[i], bad_i, n, proof, root)


@settings(max_examples=300, deadline=None)
@given(case=_consistency_case(), data=st.data())
def test_consistency_single_bit_changes_fail(case: tuple[int, int], data: st.DataObject) -> None:
    old, n = case
    r1, r2 = m.root_at(old, TREE), m.root_at(n, TREE)
    proof = m.consistency_proof(old, n, TREE)
    m.verify_consistency(old, n, proof, r1, r2)
    target = data.draw(st.sampled_from(["proof", "old_root", "new_root", "old", "new"]))
    bit = data.draw(st.integers(0, 255))
    if target == "proof":
        k = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[k] = _flip(bad[k], bit)
        assert not m.consistency_ok(old, n, bad, r1, r2)
    elif target == "old_root":
        assert not m.consistency_ok(old, n, proof, _flip(r1, bit), r2)
    elif target == "new_root":
        assert not m.consistency_ok(old, n, proof, r1, _flip(r2, bit))
    elif target == "old":
        bad_old = old ^ (1 << (bit % 64))
        assert not m.consistency_ok(bad_old, n, proof, r1, r2)
    else:
        bad_n = n ^ (1 << (bit % 64))
        if bad_n < BIG.size:  # against the log's root at that size: always rejected
            assert not m.consistency_ok(old, bad_n, proof, r1, m.root_at(bad_n, BIG))
        # against the original root it may be well-formed, but only for the same root
        assert not m.consistency_ok(old, bad_n, proof, r1, _flip(r2, bit))


def test_every_single_bit_change_fails_exhaustively_small() -> None:
    """Exhaustive over sizes ≤ 16: each bit of each proof hash, root, size and index.

    Index and old-size changes always fail. A new-size change fails against the log's root at
    that size; see :func:`_size_change_is_caught` for why that is the right check.
    """
    for n in range(1, 17):
        root = m.root_at(n, TREE)
        for i in range(n):
            proof = m.inclusion_proof(i, n, TREE)
            for k in range(len(proof)):
                for bit in range(256):
                    bad = list(proof)
                    bad[k] = _flip(bad[k], bit)
                    assert not m.inclusion_ok(LEAVES[i], i, n, bad, root)
            for bit in range(256):
                assert not m.inclusion_ok(LEAVES[i], i, n, proof, _flip(root, bit))
            for bit in range(64):
                bad_n = n ^ (1 << bit)
                implied = _implied_root(LEAVES[i], i, bad_n, proof)
                assert _size_change_is_caught(implied, root, bad_n)
                assert not m.inclusion_ok(LEAVES[i], i ^ (1 << bit), n, proof, root)
        for old in range(1, n):
            r1 = m.root_at(old, TREE)
            proof = m.consistency_proof(old, n, TREE)
            for bit in range(64):
                assert not m.consistency_ok(old ^ (1 << bit), n, proof, r1, root)
                bad_n = n ^ (1 << bit)
                if bad_n < BIG.size:
                    assert not m.consistency_ok(old, bad_n, proof, r1, m.root_at(bad_n, BIG))


def test_proof_shape_changes_fail() -> None:
    n, i = 37, 21
    root = m.root_at(n, TREE)
    proof = m.inclusion_proof(i, n, TREE)
    assert not m.inclusion_ok(LEAVES[i], i, n, proof[:-1], root)
    assert not m.inclusion_ok(LEAVES[i], i, n, [*proof, proof[0]], root)
    assert not m.inclusion_ok(LEAVES[i], i, n, [proof[0], *proof], root)
    assert not m.inclusion_ok(LEAVES[i], i, n, [*proof[:1], b"x", *proof[1:]], root)
    cproof = m.consistency_proof(13, n, TREE)
    r1 = m.root_at(13, TREE)
    assert not m.consistency_ok(13, n, cproof[:-1], r1, root)
    assert not m.consistency_ok(13, n, [*cproof, cproof[0]], r1, root)
    assert not m.consistency_ok(13, n, [], r1, root)


# --- edge cases ---------------------------------------------------------------------------


def test_verify_edge_cases() -> None:
    leaf = LEAVES[0]
    with pytest.raises(m.ProofError, match="not below"):
        m.verify_inclusion(leaf, 0, 0, [], m.EMPTY_ROOT)
    with pytest.raises(m.ProofError, match="not below"):
        m.verify_inclusion(leaf, 5, 5, [], leaf)
    with pytest.raises(m.ProofError):
        m.verify_inclusion(leaf, -1, 5, [], leaf)
    with pytest.raises(m.ProofError, match="32-byte"):
        m.verify_inclusion(leaf[:31], 0, 1, [], leaf[:31])
    m.verify_inclusion(leaf, 0, 1, [], leaf)
    with pytest.raises(m.ProofError, match="empty tree"):
        m.verify_consistency(0, 5, [], m.EMPTY_ROOT, leaf)
    with pytest.raises(m.ProofError, match="larger"):
        m.verify_consistency(5, 4, [], leaf, leaf)
    m.verify_consistency(5, 5, [], leaf, leaf)
    with pytest.raises(m.ProofError, match="different roots"):
        m.verify_consistency(5, 5, [], leaf, LEAVES[1])
    with pytest.raises(m.ProofError, match="not empty"):
        m.verify_consistency(5, 5, [leaf], leaf, leaf)
    assert issubclass(m.ProofError, CheckFailed)
    assert m.ProofError("x").exit_code == 1


def test_generation_edge_cases() -> None:
    assert m.root_at(0, TREE) == m.EMPTY_ROOT
    assert m.inclusion_proof(0, 1, TREE) == []
    assert m.consistency_proof(7, 7, TREE) == []
    with pytest.raises(m.TreeError):
        m.inclusion_proof(3, 3, TREE)
    with pytest.raises(m.TreeError):
        m.inclusion_proof(-1, 3, TREE)
    with pytest.raises(m.TreeError):
        m.consistency_proof(0, 3, TREE)
    with pytest.raises(m.TreeError):
        m.consistency_proof(4, 3, TREE)
    with pytest.raises(m.TreeError, match="not complete"):
        m.root_at(N + 1, TREE)
    with pytest.raises(m.TreeError, match="not complete"):
        m.inclusion_proof(0, N + 1, TREE)
    assert issubclass(m.TreeError, InputError)
    with pytest.raises(m.TreeError, match="32 bytes"):
        m.MemoryHashes([b"short"])


# --- compact range ------------------------------------------------------------------------


def test_compact_range_matches_tree_and_reports_nodes() -> None:
    cr = m.CompactRange()
    assert cr.root() == m.EMPTY_ROOT
    seen: dict[tuple[int, int], bytes] = {}
    for i, leaf in enumerate(LEAVES[:N]):
        created = cr.append(leaf)
        assert created[0] == (0, i, leaf)
        for level, index, h in created:
            assert (level, index) not in seen
            seen[(level, index)] = h
            assert TREE.subtree_hash(level, index) == h
        assert cr.size == i + 1
        assert cr.root() == m.root_at(i + 1, TREE)
        assert len(cr.peaks) == (i + 1).bit_count()
    # every complete node was reported exactly once
    assert len(seen) == sum(len(level) for level in TREE.levels)
    assert cr.size == N


def test_compact_range_restore_and_extend() -> None:
    for size in range(N + 1):
        restored = m.CompactRange.from_reader(size, TREE)
        assert restored.root() == m.root_at(size, TREE)
        again = m.CompactRange(restored.size, restored.peaks)
        nodes = again.extend(LEAVES[size:N])
        assert again.root() == m.root_at(N, TREE)
        assert all(TREE.subtree_hash(lv, ix) == h for lv, ix, h in nodes)
        assert [(lv, ix) for lv, ix, _ in restored.peak_nodes()] == m.peak_positions(size)
    copy = m.CompactRange.from_reader(5, TREE).copy()
    copy.append(LEAVES[5])
    assert copy.root() == m.root_at(6, TREE)
    assert "CompactRange(size=6" in repr(copy)


@settings(max_examples=200, deadline=None)
@given(start=st.integers(0, 64), count=st.integers(0, 64))
def test_batched_appends_equal_one_by_one(start: int, count: int) -> None:
    """``extend_interior`` and ``absorb`` (the sequencer's and verify-before-sign's batch
    paths) give the nodes and roots that ``append`` gives leaf by leaf."""
    end = min(start + count, N)
    one = m.CompactRange.from_reader(start, TREE)
    expected = [node for leaf in LEAVES[start:end] for node in one.append(leaf)[1:]]
    batch = m.CompactRange.from_reader(start, TREE)
    assert batch.extend_interior(LEAVES[start:end]) == expected
    assert (batch.size, batch.peaks, batch.root()) == (one.size, one.peaks, one.root())
    quiet = m.CompactRange.from_reader(start, TREE)
    quiet.absorb(LEAVES[start:end])
    assert (quiet.size, quiet.peaks, quiet.root()) == (one.size, one.peaks, one.root())


def test_batched_appends_refuse_bad_leaves_and_change_nothing() -> None:
    for bad in (b"x", "a" * 32, bytearray(32)):
        for method in ("extend_interior", "absorb"):
            cr = m.CompactRange.from_reader(3, TREE)
            with pytest.raises(m.TreeError):
                getattr(cr, method)([LEAVES[3], bad])
            assert cr.size == 3
            assert cr.root() == m.root_at(3, TREE)


def test_compact_range_rejects_bad_state() -> None:
    with pytest.raises(m.TreeError, match="peaks"):
        m.CompactRange(3, [LEAVES[0]])
    with pytest.raises(m.TreeError, match="32 bytes"):
        m.CompactRange(1, [b"x"])
    with pytest.raises(m.TreeError):
        m.CompactRange(-1, [])
    with pytest.raises(m.TreeError, match="32 bytes"):
        m.CompactRange().append(b"x")


def test_peak_positions() -> None:
    assert m.peak_positions(0) == []
    assert m.peak_positions(1) == [(0, 0)]
    assert m.peak_positions(6) == [(2, 0), (1, 2)]
    assert m.peak_positions(13) == [(3, 0), (2, 2), (0, 12)]


# --- speed --------------------------------------------------------------------------------


class _CountingReader:
    def __init__(self, inner: m.HashReader) -> None:
        self.inner = inner
        self.calls = 0

    def subtree_hash(self, level: int, index: int) -> bytes:
        self.calls += 1
        return self.inner.subtree_hash(level, index)


def test_proofs_read_logarithmic_nodes_and_are_fast() -> None:
    size = 100_000
    tree = m.MemoryHashes(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(size))
    counter = _CountingReader(tree)
    root = m.root_at(size, tree)
    worst = 0
    for index in (0, 1, 4242, 65_535, 65_536, 99_998, 99_999):
        counter.calls = 0
        proof = m.inclusion_proof(index, size, counter)
        worst = max(worst, counter.calls)
        m.verify_inclusion(tree.subtree_hash(0, index), index, size, proof, root)
    for old in (1, 3, 65_536, 70_001, 99_999):
        counter.calls = 0
        proof = m.consistency_proof(old, size, counter)
        worst = max(worst, counter.calls)
        m.verify_consistency(old, size, proof, m.root_at(old, tree), root)
    assert worst <= 2 * size.bit_length()
    start = time.perf_counter()
    for index in range(0, size, 100):
        m.inclusion_proof(index, size, tree)
    per_proof = (time.perf_counter() - start) / (size // 100)
    assert per_proof < 200e-6, f"{per_proof * 1e6:.1f} µs per proof"
