"""C2SP tlog-tiles: path encoding, tile and bundle bytes, export and read-back verification."""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mondaytest.audit import checkpoint as c
from mondaytest.audit import merkle as m
from mondaytest.audit import note as n
from mondaytest.audit import tiles as t
from mondaytest.errors import MondayError

ORIGIN = "monday.example/audit/tiles"
LOG = n.Ed25519Signer.from_seed(ORIGIN, hashlib.sha256(b"tiles test key").digest())


def _entries(count: int) -> list[bytes]:
    return [b'{"i":%d,"type":"decision"}' % i for i in range(count)]


# --- paths --------------------------------------------------------------------------------


def test_index_encoding_spec_examples() -> None:
    assert t.format_index(1234067) == "x001/x234/067"
    assert t.format_index(0) == "000"
    assert t.format_index(999) == "999"
    assert t.format_index(1000) == "x001/000"
    assert t.format_index(2**64 - 1) == "x018/x446/x744/x073/x709/x551/615"
    assert t.tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert t.tile_path(2, 0, 1) == "tile/2/000.p/1"
    assert t.entries_path(3, 112) == "tile/entries/003.p/112"


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/000",
        "tile/0/x001/x234/067",
        "tile/1/000.p/17",
        "tile/63/005",
        "tile/entries/x001/x234/067.p/255",
        "tile/entries/000.p/1",
    ],
)
def test_tile_path_roundtrip(path: str) -> None:
    ref = t.parse_tile_path(path)
    assert ref.path == path
    assert t.parse_tile_path("/" + path) == ref


def test_parsed_fields() -> None:
    ref = t.parse_tile_path("tile/entries/x001/x234/067.p/12")
    assert (ref.entries, ref.index, ref.width, ref.partial) == (True, 1234067, 12, True)
    assert t.parse_tile_path("tile/3/042") == t.TileRef(3, 42)


@pytest.mark.parametrize(
    "path",
    [
        "",
        "tile",
        "tile/0",
        "tiles/0/000",
        "tile/00/000",
        "tile/64/000",
        "tile/-1/000",
        "tile/a/000",
        "tile/0/00",
        "tile/0/0000",
        "tile/0/1",
        "tile/0/001/002",
        "tile/0/x001",
        "tile/0/x000/001",
        "tile/0/y001/002",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/01",
        "tile/0/000.p",
        "tile/0/000.p/",
        "tile/0/000/",
        "tile/0/x018/x446/x744/x073/x709/x551/616",
        "tile/entries",
        "tile/entries/0",
        "tile/0/٠٠٠",
    ],
)
def test_malformed_tile_paths(path: str) -> None:
    with pytest.raises(t.TileFormatError) as err:
        t.parse_tile_path(path)
    assert err.value.exit_code == 2


def test_bad_path_arguments() -> None:
    for bad in (-1, 2**64, True):
        with pytest.raises(t.TileFormatError):
            t.format_index(bad)
    with pytest.raises(t.TileFormatError):
        t.tile_path(64, 0)
    with pytest.raises(t.TileFormatError):
        t.tile_path(0, 0, 0)
    with pytest.raises(t.TileFormatError):
        t.entries_path(0, 257)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(0, 63), st.integers(1, 256), st.booleans())
def test_fuzz_path_roundtrip(index: int, level: int, width: int, entries: bool) -> None:
    ref = t.TileRef(0 if entries else level, index, width, entries)
    assert t.parse_tile_path(ref.path) == ref


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="tile/entrsxp.0123456789", max_size=40))
def test_fuzz_parse_tile_path(text: str) -> None:
    with contextlib.suppress(MondayError):
        ref = t.parse_tile_path(text)
        assert ref.path == text.lstrip("/")


# --- which tiles --------------------------------------------------------------------------


def test_spec_example_size_70000() -> None:
    tiles = list(t.tiles_for_size(70_000))
    level0 = [x for x in tiles if x.level == 0]
    assert sum(1 for x in level0 if not x.partial) == 273
    assert [x.width for x in level0 if x.partial] == [112]
    assert [(x.level, x.width) for x in tiles if x.level > 0] == [(1, 256), (1, 17), (2, 1)]
    assert [(x.level, x.width) for x in t.tiles_for_size(256)] == [(0, 256), (1, 1)]
    assert list(t.tiles_for_size(0)) == []
    assert [b.width for b in t.bundles_for_size(300)] == [256, 44]
    assert t.tile_width(0, 5, 100) == 0


# --- bundles ------------------------------------------------------------------------------


def test_bundle_roundtrip_and_errors() -> None:
    entries = [b"", b"a", b"x" * 65_535]
    data = t.encode_bundle(entries)
    assert data[:2] == b"\x00\x00"
    assert data[2:5] == b"\x00\x01a"
    assert t.decode_bundle(data, 3) == entries
    with pytest.raises(t.TileFormatError, match="65535"):
        t.encode_bundle([b"x" * 65_536])
    with pytest.raises(t.TileFormatError, match="truncated"):
        t.decode_bundle(data[:-1])
    with pytest.raises(t.TileFormatError, match="truncated"):
        t.decode_bundle(b"\x00")
    with pytest.raises(t.TileFormatError, match="expected 2"):
        t.decode_bundle(data, 2)
    assert t.decode_bundle(b"") == []


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_decode_bundle(data: bytes) -> None:
    with contextlib.suppress(MondayError):
        assert t.encode_bundle(t.decode_bundle(data)) == data


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=20))
def test_bundle_property(entries: list[bytes]) -> None:
    assert t.decode_bundle(t.encode_bundle(entries), len(entries)) == entries


# --- tiles as a HashReader ----------------------------------------------------------------


def _tiles_in_memory(size: int) -> tuple[m.MemoryHashes, dict[str, bytes]]:
    tree = m.MemoryHashes.from_entries(_entries(size))
    files = {
        ref.path: t.tile_bytes(ref.level, ref.index, ref.width, tree)
        for ref in t.tiles_for_size(size)
    }
    return tree, files


@pytest.mark.parametrize("size", [1, 2, 255, 256, 257, 511, 513, 65_536, 70_000])
def test_tile_reader_matches_the_tree(size: int) -> None:
    tree, files = _tiles_in_memory(size)
    reader = t.TileReader(size, files.__getitem__)
    assert m.root_at(size, reader) == tree.root()
    for index in {0, size // 3, size - 1}:
        assert m.inclusion_proof(index, size, reader) == m.inclusion_proof(index, size, tree)
    for old in {1, size // 2, size - 1} - {0}:
        assert m.consistency_proof(old, size, reader) == m.consistency_proof(old, size, tree)
    for level in range(size.bit_length()):
        count = size >> level
        for index in {0, count - 1} if count else set():
            assert reader.subtree_hash(level, index) == tree.subtree_hash(level, index)
    with pytest.raises(m.TreeError):
        reader.subtree_hash(0, size)


def test_tile_reader_falls_back_to_the_full_tile() -> None:
    tree, files = _tiles_in_memory(300)
    _, later = _tiles_in_memory(600)
    later = {**files, **later}  # the directory was exported at 300, then at 600
    del later["tile/0/001.p/44"]  # the partial tile was pruned once tile 1 became full

    def fetch_or_missing(path: str) -> bytes:
        if path not in later:
            raise t.TileMissingError(f"{path} is missing")
        return later[path]

    reader = t.TileReader(300, fetch_or_missing)
    assert m.root_at(300, reader) == tree.root()


def test_tile_reader_rejects_bad_tiles() -> None:
    _, files = _tiles_in_memory(300)
    files["tile/0/000"] = files["tile/0/000"][:-1]
    with pytest.raises(t.TileError, match="8192 bytes"):
        t.TileReader(300, files.__getitem__).subtree_hash(0, 0)
    with pytest.raises(m.TreeError):
        t.TileReader(-1, files.__getitem__)
    with pytest.raises(m.TreeError):
        t.TileReader(300, files.__getitem__).tile(0, 5)
    with pytest.raises(t.TileFormatError):
        t.tile_hashes(b"x" * 32, 0)


def test_tile_reader_speed_is_logarithmic() -> None:
    size = 70_000
    tree, files = _tiles_in_memory(size)
    fetched: list[str] = []

    def fetch(path: str) -> bytes:
        fetched.append(path)
        return files[path]

    reader = t.TileReader(size, fetch)
    proof = m.inclusion_proof(12_345, size, reader)
    m.verify_inclusion(tree.subtree_hash(0, 12_345), 12_345, size, proof, tree.root())
    assert len(fetched) <= 8


# --- export and verify --------------------------------------------------------------------


def _export(tmp_path: Path, size: int) -> Path:
    entries = _entries(size)
    tree = m.MemoryHashes.from_entries(entries)
    note = c.sign_checkpoint(c.Checkpoint(ORIGIN, size, tree.root()), [LOG])
    out = tmp_path / "tiles"
    written = t.export_tiles(
        out,
        size,
        tree,
        checkpoint_note=note,
        entries=lambda start, count: entries[start : start + count],
    )
    assert written == len(list(t.tiles_for_size(size))) + len(list(t.bundles_for_size(size))) + 1
    return out


@pytest.mark.parametrize("size", [0, 1, 256, 1000])
def test_export_and_verify_roundtrip(tmp_path: Path, size: int) -> None:
    out = _export(tmp_path, size)
    cp = t.verify_tiles_dir(out, [LOG.verifier()], origin=ORIGIN)
    assert cp.size == size
    if size:
        assert (out / "tile/0/000").is_file() or (out / f"tile/0/000.p/{size}").is_file()
        assert not list(out.rglob("*.tmp"))


def test_export_detects_tampering(tmp_path: Path) -> None:
    out = _export(tmp_path, 1000)
    verifiers = [LOG.verifier()]

    def expect(match: str) -> None:
        with pytest.raises(t.TileError, match=match) as err:
            t.verify_tiles_dir(out, verifiers)
        assert err.value.exit_code == 1

    bundle = out / "tile/entries/001"
    original = bundle.read_bytes()
    bundle.write_bytes(original.replace(b'"i":300', b'"i":301'))
    expect("entry 300 in tile/entries/001")
    bundle.write_bytes(original[:-1])
    expect("truncated")
    bundle.write_bytes(original)

    leaf_tile = out / "tile/0/002"
    good = leaf_tile.read_bytes()
    leaf_tile.write_bytes(good[:100] + bytes([good[100] ^ 1]) + good[101:])
    expect("does not match")
    with pytest.raises(t.TileError, match="level-1"):
        t.verify_tiles_dir(out, verifiers, check_entries=False)
    leaf_tile.write_bytes(good)

    upper = out / "tile/1/000.p/3"
    good_upper = upper.read_bytes()
    upper.write_bytes(bytes([good_upper[0] ^ 1]) + good_upper[1:])
    expect("level-1")
    upper.write_bytes(good_upper)

    partial = out / "tile/0/003.p/232"
    good_partial = partial.read_bytes()
    partial.write_bytes(bytes([good_partial[0] ^ 1]) + good_partial[1:])
    with pytest.raises(t.TileError, match="root"):
        t.verify_tiles_dir(out, verifiers, check_entries=False)
    partial.unlink()
    expect("missing")
    partial.write_bytes(good_partial)

    t.verify_tiles_dir(out, verifiers)
    (out / "checkpoint").write_bytes(
        c.sign_checkpoint(
            c.Checkpoint(ORIGIN, 1000, m.EMPTY_ROOT), [n.Ed25519Signer.generate(ORIGIN)]
        )
    )
    with pytest.raises(n.SignatureError):
        t.verify_tiles_dir(out, verifiers)
    (out / "checkpoint").unlink()
    expect("checkpoint is missing")


def test_directory_tiles_guards_paths(tmp_path: Path) -> None:
    with pytest.raises(t.TileFormatError):
        t.DirectoryTiles(tmp_path)("../etc/passwd")
    (tmp_path / "tile").mkdir()
    with pytest.raises(t.TileError, match="cannot read"):
        t.DirectoryTiles(tmp_path)("tile")


def test_export_checks_entry_callback(tmp_path: Path) -> None:
    tree = m.MemoryHashes.from_entries(_entries(10))
    with pytest.raises(t.TileFormatError, match="returned 9"):
        t.export_tiles(tmp_path, 10, tree, entries=lambda start, count: _entries(9))
