"""``verify --tiles`` fails fast and names the file it needed: a checkpoint claiming a huge log
over a directory that holds nothing, a gap of absent bundles, a missing partial tile."""

from __future__ import annotations

import hashlib
import time
import tracemalloc
from pathlib import Path

import pytest

from mondaytest.audit import checkpoint as c
from mondaytest.audit import merkle as m
from mondaytest.audit import note as n
from mondaytest.audit import tiles as t
from mondaytest.audit.verify import retention_min_index
from mondaytest.cli.app import main

ORIGIN = "monday.example/audit/tiles-fixes"
LOG = n.Ed25519Signer.from_seed(ORIGIN, hashlib.sha256(b"tiles fixes key").digest())
HUGE = 2**40


def _checkpoint_only(directory: Path, size: int) -> Path:
    """A directory holding only a validly signed ``checkpoint`` for a tree of ``size``."""
    directory.mkdir(parents=True, exist_ok=True)
    root = hashlib.sha256(b"any root").digest()
    (directory / "checkpoint").write_bytes(
        c.sign_checkpoint(c.Checkpoint(ORIGIN, size, root), [LOG])
    )
    return directory


def _export(directory: Path, entries: list[bytes]) -> m.MemoryHashes:
    tree = m.MemoryHashes.from_entries(entries)
    note = c.sign_checkpoint(c.Checkpoint(ORIGIN, len(entries), tree.root()), [LOG])
    t.export_tiles(
        directory,
        len(entries),
        tree,
        checkpoint_note=note,
        entries=lambda start, count: entries[start : start + count],
    )
    return tree


def test_a_huge_checkpoint_over_an_empty_export_fails_at_the_first_missing_file(
    tmp_path: Path,
) -> None:
    out = _checkpoint_only(tmp_path / "tiles", HUGE)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(t.TileMissingError) as err:
            t.verify_tiles(out, [LOG.verifier()], declared_min_index=retention_min_index)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 2, elapsed
    # one file read reserves the largest bundle (16 MB) for a moment; the defect grew >1 GB
    assert peak < 48 * 2**20, peak
    assert err.value.exit_code == 1
    message = str(err.value)
    assert "tile/entries/000 is missing" in message
    assert "tile/0/000 is missing from" in message
    assert "never pruned" in message


def test_a_huge_checkpoint_without_entry_checks_names_the_first_tile(tmp_path: Path) -> None:
    out = _checkpoint_only(tmp_path / "tiles", HUGE)
    started = time.monotonic()
    with pytest.raises(t.TileMissingError, match=r"^tile/0/000 is missing from"):
        t.verify_tiles(out, [LOG.verifier()], check_entries=False)
    assert time.monotonic() - started < 2


def test_the_cli_fails_fast_on_a_huge_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _checkpoint_only(tmp_path / "tiles", HUGE)
    started = time.monotonic()
    code = main(["audit", "verify", "--tiles", str(out), "--vkey", LOG.vkey])
    assert time.monotonic() - started < 5
    assert code == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "tile/entries/000 is missing" in err
    assert "tile/0/000" in err


def test_absent_bundles_are_bounded_by_the_hash_tiles_that_are_there(tmp_path: Path) -> None:
    """Hash tiles present for the first bundles only: the first bundle without one fails."""
    out = _checkpoint_only(tmp_path / "tiles", HUGE)
    for index in range(3):
        tile = out / t.tile_path(0, index)
        tile.parent.mkdir(parents=True, exist_ok=True)
        tile.write_bytes(bytes(32 * 256))
    started = time.monotonic()
    with pytest.raises(t.TileMissingError) as err:
        t.verify_tiles(out, [LOG.verifier()], declared_min_index=retention_min_index)
    assert time.monotonic() - started < 2
    assert "tile/entries/003 is missing" in str(err.value)
    assert "tile/0/003 is missing" in str(err.value)


def test_a_missing_partial_tile_is_named_with_its_full_fallback(tmp_path: Path) -> None:
    out = tmp_path / "tiles"
    _export(out, [b"entry %d" % i for i in range(321)])
    (out / "tile/0/001.p/65").unlink()
    for check_entries in (True, False):
        with pytest.raises(t.TileMissingError) as err:
            t.verify_tiles(out, [LOG.verifier()], check_entries=check_entries)
        message = str(err.value)
        assert message.startswith("tile/0/001.p/65 is missing from"), message
        assert "tile/0/001, the full tile" in message

    reader = t.TileReader(321, t.DirectoryTiles(out))
    with pytest.raises(t.TileMissingError, match=r"tile/0/001\.p/65 is missing.*tile/0/001,"):
        reader.tile(0, 1)


def test_the_full_tile_still_stands_in_for_a_missing_partial_one(tmp_path: Path) -> None:
    """An export updated from 321 to 600 entries still proves the tree of 321."""
    entries = [b"entry %d" % i for i in range(600)]
    out = tmp_path / "tiles"
    small = _export(out, entries[:321])
    _export(out, entries)
    (out / "tile/0/001.p/65").unlink()  # superseded by tile/0/001
    reader = t.TileReader(321, t.DirectoryTiles(out))
    assert m.root_at(321, reader) == small.root()


def _declares(entry: bytes) -> int | None:
    """Entries ``min=N`` declare the minimum index N (a stand-in for retention entries)."""
    return int(entry[4:]) if entry.startswith(b"min=") else None


def test_pruned_bundles_are_still_judged_against_the_final_minimum_index(
    tmp_path: Path,
) -> None:
    entries = [b"entry %d" % i for i in range(1000)]
    entries[900] = b"min=512"  # declares that entries 0..511 may be pruned
    out = tmp_path / "tiles"
    _export(out, entries)
    for index in (0, 1):
        (out / t.entries_path(index)).unlink()
    report = t.verify_tiles(out, [LOG.verifier()], declared_min_index=_declares)
    assert (report.min_index, report.pruned, report.entries_checked) == (512, 512, 488)

    # bundle 2 (512..767) holds served entries: its absence is named, not the pruned two
    (out / t.entries_path(2)).unlink()
    with pytest.raises(t.TileMissingError) as err:
        t.verify_tiles(out, [LOG.verifier()], declared_min_index=_declares)
    message = str(err.value)
    assert message.startswith("tile/entries/002 is missing from"), message
    assert "at or above the log's minimum index 512" in message
    assert "tile/entries/000" not in message

    # without the entry that declares it, nothing justifies the gap: all three are named
    (out / t.entries_path(3, 232)).unlink()
    with pytest.raises(t.TileMissingError) as err:
        t.verify_tiles(out, [LOG.verifier()], declared_min_index=_declares)
    message = str(err.value)
    assert "4 entry bundles are missing" in message
    assert "tile/entries/000 … tile/entries/003.p/232" in message
