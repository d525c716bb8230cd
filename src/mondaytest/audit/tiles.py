"""C2SP tiled transparency logs (c2sp.org/tlog-tiles): paths, tiles, entry bundles, read-back.

A tile is 256 consecutive hashes at one tile level (8 tree levels each): level-0 tiles hold leaf
hashes, a level-``l`` tile holds the roots of full level-``l-1`` tiles. Tiles live at
``tile/<L>/<N>[.p/<W>]`` where ``<N>`` is written in 3-digit groups (``1234067`` →
``x001/x234/067``) and ``.p/<W>`` marks a partial tile of width ``W`` (1–255). Entries are in
bundles at ``tile/entries/<N>[.p/<W>]``: big-endian uint16 length-prefixed entries, so an entry
is at most 65,535 bytes.

This module encodes and decodes all of that, builds tile bytes from any
:class:`~mondaytest.audit.merkle.HashReader`, writes a static export directory, and reads one
back as a :class:`TileReader` (a ``HashReader``) so proofs and roots can be checked offline.

Pruning (tlog-tiles "Pruning"): a log keeps a *minimum index*; it may stop serving an entry
bundle whose end index is at or below it. :func:`export_tiles` leaves out exactly those bundles
when given ``min_index`` (a bundle that straddles the minimum index holds served entries, so it
is written whole), and always writes every hash tile, so every root and proof stays computable.
:func:`verify_tiles` accepts an absent bundle only when the minimum index that the verified
entries themselves declare lies at or above its end index.
"""

from __future__ import annotations

import hashlib
import shutil
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from mondaytest._util.files import read_at_most, write_atomic
from mondaytest.audit.checkpoint import Checkpoint, open_checkpoint
from mondaytest.audit.merkle import HASH_SIZE, HashReader, TreeError, leaf_hash, root_at
from mondaytest.audit.note import NoteVerifier
from mondaytest.errors import CheckFailed, InputError

__all__ = [
    "MAX_ENTRY_BYTES",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "DirectoryTiles",
    "TileError",
    "TileFormatError",
    "TileMissingError",
    "TileReader",
    "TileRef",
    "TilesReport",
    "bundles_for_size",
    "decode_bundle",
    "encode_bundle",
    "entries_path",
    "export_directory",
    "export_tiles",
    "format_index",
    "parse_tile_path",
    "tile_bytes",
    "tile_hashes",
    "tile_path",
    "tile_width",
    "tiles_for_size",
    "verify_tiles",
    "verify_tiles_dir",
]

TILE_HEIGHT = 8
"""Tree levels per tile level."""
TILE_WIDTH = 256
"""Hashes (or entries) in a full tile (or bundle)."""
MAX_ENTRY_BYTES = 0xFFFF
"""Largest entry an entry bundle can carry."""
_MAX_LEVEL = 63
_MAX_INDEX = 2**64 - 1

_sha256 = hashlib.sha256


class TileFormatError(InputError):
    """A tile path, tile or entry bundle is malformed (exit 2)."""


class TileError(CheckFailed):
    """A tiles export does not verify: a tile or bundle is missing, damaged or inconsistent."""


class TileMissingError(TileError):
    """A tile, bundle or the checkpoint is absent from an export directory."""


# --- paths --------------------------------------------------------------------------------


def format_index(n: int) -> str:
    """``n`` as zero-padded 3-digit path elements, all but the last prefixed ``x``."""
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= _MAX_INDEX:
        raise TileFormatError(f"tile index {n!r} is not a uint64")
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def _check_width(width: int) -> None:
    if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= TILE_WIDTH:
        raise TileFormatError(f"tile width {width!r} is not between 1 and {TILE_WIDTH}")


def _suffix(width: int) -> str:
    _check_width(width)
    return "" if width == TILE_WIDTH else f".p/{width}"


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """Path of hash tile ``index`` at tile ``level`` (``tile/<L>/<N>[.p/<W>]``)."""
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= _MAX_LEVEL:
        raise TileFormatError(f"tile level {level!r} is not between 0 and {_MAX_LEVEL}")
    return f"tile/{level}/{format_index(index)}{_suffix(width)}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """Path of entry bundle ``index`` (``tile/entries/<N>[.p/<W>]``)."""
    return f"tile/entries/{format_index(index)}{_suffix(width)}"


@dataclass(frozen=True)
class TileRef:
    """A tile (``entries=False``) or an entry bundle (``entries=True``), with its width."""

    level: int
    index: int
    width: int = TILE_WIDTH
    entries: bool = False

    @property
    def path(self) -> str:
        """The tile's path under the log prefix."""
        if self.entries:
            return entries_path(self.index, self.width)
        return tile_path(self.level, self.index, self.width)

    @property
    def partial(self) -> bool:
        """Whether the tile holds fewer than 256 hashes."""
        return self.width != TILE_WIDTH


def _parse_decimal(text: str, what: str) -> int:
    if not text or not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise TileFormatError(f"{what} {text!r} is not a decimal number without leading zeros")
    if len(text) > 20:
        raise TileFormatError(f"{what} {text[:24]!r}… is too large")
    return int(text)


def parse_tile_path(path: str) -> TileRef:
    """Parse ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` (canonical form only).

    A leading ``/`` is ignored. Raises :class:`TileFormatError`.
    """
    if not isinstance(path, str):
        raise TileFormatError("tile path must be a string")
    parts = path.lstrip("/").split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise TileFormatError(f"{path!r} is not a tile path (tile/<L>/<N>[.p/<W>])")
    entries = parts[1] == "entries"
    level = 0 if entries else _parse_decimal(parts[1], "tile level")
    if level > _MAX_LEVEL:
        raise TileFormatError(f"tile level {level} is above {_MAX_LEVEL}")
    rest = parts[2:]
    width = TILE_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        width = _parse_decimal(rest[-1], "partial tile width")
        if not 1 <= width < TILE_WIDTH:
            raise TileFormatError(f"partial tile width {width} is not between 1 and 255")
        rest = [*rest[:-2], rest[-2][:-2]]
    index = 0
    for i, group in enumerate(rest):
        digits = group[1:] if i < len(rest) - 1 and group.startswith("x") else group
        if len(digits) != 3 or not digits.isascii() or not digits.isdigit():
            raise TileFormatError(f"{path!r}: tile index element {group!r} is malformed")
        if i < len(rest) - 1 and not group.startswith("x"):
            raise TileFormatError(f"{path!r}: tile index element {group!r} must start with x")
        index = index * 1000 + int(digits)
    if index > _MAX_INDEX:
        raise TileFormatError(f"{path!r}: tile index does not fit in 64 bits")
    ref = TileRef(level, index, width, entries)
    if ref.path != path.lstrip("/"):
        raise TileFormatError(f"{path!r} is not in canonical form (expected {ref.path!r})")
    return ref


# --- which tiles a tree has ---------------------------------------------------------------


def tile_width(level: int, index: int, size: int) -> int:
    """How many hashes tile ``(level, index)`` holds in a tree of ``size`` (0 = none yet)."""
    count = size >> (TILE_HEIGHT * level)
    return max(0, min(TILE_WIDTH, count - index * TILE_WIDTH))


def tiles_for_size(size: int) -> Iterator[TileRef]:
    """Every hash tile of a tree of ``size``, level by level, full ones then the partial one."""
    level = 0
    while count := size >> (TILE_HEIGHT * level):
        for index in range((count + TILE_WIDTH - 1) // TILE_WIDTH):
            yield TileRef(level, index, tile_width(level, index, size))
        level += 1


def bundles_for_size(size: int) -> Iterator[TileRef]:
    """Every entry bundle of a tree of ``size``."""
    for index in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
        yield TileRef(0, index, tile_width(0, index, size), entries=True)


# --- tile and bundle bytes ----------------------------------------------------------------


def tile_bytes(level: int, index: int, width: int, reader: HashReader) -> bytes:
    """The bytes of hash tile ``(level, index)`` of ``width`` hashes, read from ``reader``."""
    _check_width(width)
    tree_level = TILE_HEIGHT * level
    start = index * TILE_WIDTH
    return b"".join(reader.subtree_hash(tree_level, start + i) for i in range(width))


def tile_hashes(data: bytes, width: int = TILE_WIDTH) -> list[bytes]:
    """Split tile bytes into its hashes; :class:`TileFormatError` unless exactly ``width``."""
    _check_width(width)
    if len(data) != width * HASH_SIZE:
        raise TileFormatError(
            f"a tile of width {width} is {width * HASH_SIZE} bytes, got {len(data)}"
        )
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def encode_bundle(entries: Iterable[bytes]) -> bytes:
    """Entry bundle bytes: each entry as a big-endian uint16 length and its bytes."""
    out = bytearray()
    for i, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_BYTES:
            raise TileFormatError(f"entry {i} is {len(entry)} bytes; bundles hold ≤ 65535")
        out += len(entry).to_bytes(2, "big")
        out += entry
    return bytes(out)


def decode_bundle(data: bytes, width: int | None = None) -> list[bytes]:
    """Split an entry bundle; with ``width``, insist on exactly that many entries."""
    out: list[bytes] = []
    pos, end = 0, len(data)
    while pos < end:
        if pos + 2 > end:
            raise TileFormatError(f"entry bundle is truncated in the length of entry {len(out)}")
        length = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if pos + length > end:
            raise TileFormatError(f"entry bundle is truncated in entry {len(out)}")
        out.append(bytes(data[pos : pos + length]))
        pos += length
    if width is not None and len(out) != width:
        raise TileFormatError(f"entry bundle holds {len(out)} entries, expected {width}")
    return out


# --- reading a tiled log back -------------------------------------------------------------


_MAX_FILE_BYTES = 256 * (MAX_ENTRY_BYTES + 2)
"""The largest file an export holds (a full entry bundle); more is read as a malformed file."""


class DirectoryTiles:
    """Fetches tiles from an export directory; a missing file is a :class:`TileError`."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def __call__(self, path: str) -> bytes:
        """The bytes at ``path`` (relative, as produced by :func:`tile_path`)."""
        if ".." in path.split("/") or path.startswith("/") or "\x00" in path:
            raise TileFormatError(f"tile path {path!r} leaves the directory")
        try:
            return read_at_most(self.directory / path, _MAX_FILE_BYTES)
        except FileNotFoundError:
            raise TileMissingError(f"{path} is missing from {self.directory}") from None
        except OSError as exc:
            raise TileError(f"cannot read {path} in {self.directory}: {exc.strerror}") from None


def export_directory(directory: Path | str) -> DirectoryTiles:
    """A :class:`DirectoryTiles` over an export; :class:`InputError` if it is no directory."""
    if not Path(directory).is_dir():
        raise InputError(
            f"{directory} is not a directory",
            hint="pass --tiles the directory `monday audit export --tiles` wrote",
        )
    return DirectoryTiles(directory)


class TileReader:
    """A :class:`~mondaytest.audit.merkle.HashReader` over the tiles of a tree of ``size``.

    ``fetch(path)`` returns a tile's bytes and raises :class:`TileMissingError` for a tile that
    is not there. A partial tile that is missing is read from the full tile that replaced it;
    any other error reading it is reported as it is. Tiles are cached (``cache_tiles`` of them).
    """

    def __init__(
        self, size: int, fetch: Callable[[str], bytes], *, cache_tiles: int = 1024
    ) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise TreeError(f"tree size {size!r} must be a non-negative integer")
        self.size = size
        self._fetch = fetch
        self._cache: OrderedDict[tuple[int, int], list[bytes]] = OrderedDict()
        self._cache_tiles = cache_tiles

    def tile(self, level: int, index: int) -> list[bytes]:
        """The hashes of tile ``(level, index)`` as far as the tree of ``size`` has them."""
        key = (level, index)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        width = tile_width(level, index, self.size)
        if width == 0:
            raise TreeError(f"tile {level}/{index} is beyond the tree of size {self.size}")
        try:
            data = self._fetch(tile_path(level, index, width))
        except TileMissingError as missing:
            if width == TILE_WIDTH:
                raise
            full_path = tile_path(level, index)
            try:
                full = self._fetch(full_path)  # the partial tile may be superseded
            except TileMissingError:
                # name the tile this size needs, not only the fallback that was tried last
                raise TileMissingError(
                    f"{missing.message} (and so is {full_path}, the full tile that would "
                    "supersede it)",
                    hint=missing.hint,
                ) from None
            data = full[: width * HASH_SIZE] if len(full) == TILE_WIDTH * HASH_SIZE else full
        try:
            hashes = tile_hashes(data, width)
        except TileFormatError as exc:
            raise TileError(f"{tile_path(level, index, width)}: {exc.message}") from None
        self._cache[key] = hashes
        if len(self._cache) > self._cache_tiles:
            self._cache.popitem(last=False)
        return hashes

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Hash of the complete subtree ``(level, index)``, from one tile."""
        if level < 0 or index < 0 or (index + 1) << level > self.size:
            raise TreeError(
                f"subtree (level {level}, index {index}) is not complete in a tree of {self.size}"
            )
        tile_level, rest = divmod(level, TILE_HEIGHT)
        first = index << rest
        tile_index, within = divmod(first, TILE_WIDTH)
        group = self.tile(tile_level, tile_index)[within : within + (1 << rest)]
        while len(group) > 1:
            group = [
                _sha256(b"\x01" + group[i] + group[i + 1]).digest() for i in range(0, len(group), 2)
            ]
        return group[0]


def _mth_of_full_tile(hashes: Sequence[bytes]) -> bytes:
    group = list(hashes)
    while len(group) > 1:
        group = [
            _sha256(b"\x01" + group[i] + group[i + 1]).digest() for i in range(0, len(group), 2)
        ]
    return group[0]


# --- export and verification --------------------------------------------------------------


def export_tiles(
    directory: Path | str,
    size: int,
    reader: HashReader,
    *,
    checkpoint_note: bytes | None = None,
    entries: Callable[[int, int], Sequence[bytes]] | None = None,
    min_index: int = 0,
) -> int:
    """Write a static tlog-tiles directory for a tree of ``size``; return the files written.

    Hash tiles come from ``reader``; with ``entries(start, count)`` (returning the entry bytes
    of ``[start, start + count)``) the entry bundles are written too, and with
    ``checkpoint_note`` the ``checkpoint`` file (it should be the signed checkpoint of ``size``).

    ``min_index`` is the log's minimum index (tlog-tiles pruning): bundles whose end index is
    at or below it are not written (and removed when an earlier export left them behind). The
    bundle that straddles it is written whole, since it holds entries that are still served.
    Every hash tile is written whatever the minimum index.
    """
    if isinstance(min_index, bool) or not isinstance(min_index, int) or not 0 <= min_index <= size:
        raise TileFormatError(f"minimum index {min_index!r} is not between 0 and the size {size}")
    root = Path(directory)
    written = 0

    def write(rel: str, data: bytes) -> None:
        nonlocal written
        write_atomic(root / rel, data, hint="pass --tiles a directory you can write to")
        written += 1

    for ref in tiles_for_size(size):
        write(ref.path, tile_bytes(ref.level, ref.index, ref.width, reader))
    if entries is not None:
        for ref in bundles_for_size(size):
            if (ref.index + 1) * TILE_WIDTH <= min_index:
                _remove_pruned(root / ref.path)
                continue
            batch = entries(ref.index * TILE_WIDTH, ref.width)
            if len(batch) != ref.width:
                raise TileFormatError(
                    f"entries({ref.index * TILE_WIDTH}, {ref.width}) returned {len(batch)} entries"
                )
            write(ref.path, encode_bundle(batch))
    if checkpoint_note is not None:
        write("checkpoint", checkpoint_note)
    return written


def _remove_pruned(path: Path) -> None:
    """Delete a bundle (and any partial version of it) an earlier export wrote before its
    entries were pruned."""
    partials = path.with_name(path.name + ".p")
    try:
        path.unlink(missing_ok=True)
        if partials.is_dir():
            shutil.rmtree(partials)
    except OSError as exc:
        raise InputError(
            f"cannot remove the pruned entry bundle {path}: {exc.strerror or exc}",
            hint="pass --tiles a directory you can write to",
        ) from None


@dataclass(frozen=True)
class TilesReport:
    """What :func:`verify_tiles` checked."""

    checkpoint: Checkpoint
    """The verified checkpoint the export was made at."""
    entries_checked: int
    """Entries hashed against their leaf hashes (0 without ``check_entries``)."""
    min_index: int = 0
    """The minimum index the checked entries declare (0: the log is not pruned)."""
    pruned: int = 0
    """Entries whose bundles are absent because they lie below :attr:`min_index`."""


def verify_tiles(
    directory: Path | str,
    verifiers: Iterable[NoteVerifier],
    *,
    origin: str | None = None,
    check_entries: bool = True,
    declared_min_index: Callable[[bytes], int | None] | None = None,
) -> TilesReport:
    """Verify an exported tiles directory against trusted keys; say what was checked.

    Checks the ``checkpoint`` signature, that every entry hashes to its leaf in the level-0
    tiles (with ``check_entries``), that every full tile hashes to its parent hash in the
    level above, and that the tiles give the checkpoint's root. Raises :class:`TileError`
    (exit 1) naming the first thing that does not hold.

    ``declared_min_index(entry)`` returns the minimum index an entry declares (a retention
    record), else None. With it, an absent entry bundle is accepted when the highest minimum
    index declared by the verified entries is at or above the bundle's end index (tlog-tiles
    pruning); any other absent bundle is an error. Without it every bundle must be present.
    """
    fetch = export_directory(directory)
    cp = open_checkpoint(fetch("checkpoint"), verifiers, origin=origin)
    reader = TileReader(cp.size, fetch, cache_tiles=4)
    checked = 0
    min_index = 0
    # Absent bundles are judged once every served entry has declared its minimum index, so
    # only runs of them are kept (first, last, count, entries): an export holds at most one
    # run per bundle it does serve. Each absent bundle's level-0 hash tile is read at once
    # (hash tiles are never pruned), so a checkpoint claiming more entries than the directory
    # holds fails at its first missing file, in time and memory bounded by what is there.
    runs: list[_AbsentRun] = []
    if check_entries:
        for ref in bundles_for_size(cp.size):
            try:
                data = fetch(ref.path)
            except TileMissingError as exc:
                if declared_min_index is None:
                    raise
                _needed_hash_tile(reader, ref)
                if runs and runs[-1].last.index + 1 == ref.index:
                    runs[-1].extend(ref)
                else:
                    runs.append(_AbsentRun(ref, exc))
                continue
            try:
                items = decode_bundle(data, ref.width)
            except TileFormatError as exc:
                raise TileError(f"{ref.path}: {exc.message}") from None
            leaves = reader.tile(0, ref.index)
            for i, (entry, expected) in enumerate(zip(items, leaves, strict=True)):
                if leaf_hash(entry) != expected:
                    raise TileError(
                        f"entry {ref.index * TILE_WIDTH + i} in {ref.path} does not match its "
                        f"leaf hash in {tile_path(0, ref.index, ref.width)}"
                    )
                if declared_min_index is not None:
                    declared = declared_min_index(entry)
                    if declared is not None:
                        here = ref.index * TILE_WIDTH + i
                        if declared > here:
                            # a retention entry is kept, so it sits at or above what it prunes
                            raise TileError(
                                f"entry {here} declares the minimum index {declared}, above "
                                "its own index: a retention entry cannot prune itself or the "
                                "entries after it"
                            )
                        min_index = max(min_index, declared)
            checked += len(items)
        _judge_absent(runs, min_index, directory)
    for ref in tiles_for_size(cp.size):
        if ref.partial:
            continue
        hashes = reader.tile(ref.level, ref.index)  # first the tile, then its parent's
        parent = reader.subtree_hash(TILE_HEIGHT * (ref.level + 1), ref.index)
        if _mth_of_full_tile(hashes) != parent:
            raise TileError(
                f"{ref.path} does not hash to its entry in the level-{ref.level + 1} tile"
            )
    if root_at(cp.size, reader) != cp.root:
        raise TileError(f"the tiles do not hash to the checkpoint's root (size {cp.size})")
    return TilesReport(cp, checked, min_index, sum(run.entries for run in runs))


class _AbsentRun:
    """Consecutive entry bundles absent from an export (only its ends and totals are kept)."""

    __slots__ = ("count", "entries", "first", "first_error", "last")

    def __init__(self, ref: TileRef, error: TileMissingError) -> None:
        self.first = self.last = ref
        self.first_error = error
        self.count = 1
        self.entries = ref.width

    def extend(self, ref: TileRef) -> None:
        self.last = ref
        self.count += 1
        self.entries += ref.width


def _needed_hash_tile(reader: TileReader, ref: TileRef) -> None:
    """Read the level-0 hash tile of an absent bundle: it is never pruned, so it must be there."""
    try:
        reader.tile(0, ref.index)
    except TileMissingError as exc:
        raise TileMissingError(
            f"{ref.path} is missing, and so is its hash tile ({exc.message}); hash tiles are "
            "never pruned, so the entries there cannot be accounted for",
            hint="export the log again with `monday audit export --tiles DIR`, or check that "
            "the checkpoint belongs to this directory",
        ) from None


def _judge_absent(runs: Sequence[_AbsentRun], min_index: int, directory: Path | str) -> None:
    """Raise :class:`TileMissingError` unless every absent bundle ends at or below
    ``min_index`` (the highest minimum index the served entries declare)."""
    unjustified = [
        run for run in runs if (run.last.index + 1) * TILE_WIDTH > min_index
    ]  # bundle ends increase, so only the runs from the first unjustified bundle on
    if not unjustified:
        return
    head = unjustified[0]
    first = head.first
    skipped = 0
    if (first.index + 1) * TILE_WIDTH <= min_index:  # the run starts with justified bundles
        skipped = min_index // TILE_WIDTH - first.index
        index = first.index + skipped  # only the log's last bundle can be partial
        last_of_run = head.last
        first = last_of_run if index == last_of_run.index else TileRef(0, index, entries=True)
    count = sum(run.count for run in unjustified) - skipped
    last = unjustified[-1].last
    many = count > 1
    it = "they hold" if many else "it holds"
    why = (
        f"{it} entries at or above the log's minimum index {min_index}, which must be served"
        if min_index
        else "no entry in the export declares a minimum index that prunes "
        + ("them" if many else "it")
    )
    if many:
        what = f"{count} entry bundles are missing from {directory} ({first.path} … {last.path})"
    elif skipped == 0:
        what = head.first_error.message
    else:
        what = f"{first.path} is missing from {directory}"
    raise TileMissingError(f"{what} ({why})")


def verify_tiles_dir(
    directory: Path | str,
    verifiers: Iterable[NoteVerifier],
    *,
    origin: str | None = None,
    check_entries: bool = True,
) -> Checkpoint:
    """Verify an exported tiles directory with every bundle present; return its checkpoint.

    :func:`verify_tiles` without pruning; see there.
    """
    return verify_tiles(directory, verifiers, origin=origin, check_entries=check_entries).checkpoint
