"""The default audit store: one SQLite file in WAL mode, written through the stdlib ``sqlite3``.

Why stdlib ``sqlite3`` and not SQLAlchemy here: the append path needs exact control of the
transaction (``BEGIN IMMEDIATE`` to take the write lock *before* the tree size is read, so two
processes can never sequence the same index) and of the connection's pragmas (WAL,
``synchronous``, ``busy_timeout``, ``secure_delete``, ``max_page_count``), and it is the hot
path of every decision: an ORM or a connection pool adds per-statement overhead and hides the
transaction boundaries we depend on. ``executemany`` over plain tuples is as fast as SQLite goes.

Layout (schema version :data:`SCHEMA_VERSION`; every step is a row in ``migrations``)::

    meta(key PRIMARY KEY, value)                origin, last_config_idx, min_index, …
    migrations(version PRIMARY KEY, name, applied_at)
    entries(idx INTEGER PRIMARY KEY, leaf, body, type, kind, eid, ts)
    tiles(level, idx, hashes, PRIMARY KEY(level, idx)) WITHOUT ROWID   interior nodes, 255 per row
    checkpoints(seq INTEGER PRIMARY KEY, size, root, note, created_at)

**Node tiles.** Interior nodes (tree level ≥ 1) are stored 8 tree levels to a row, like C2SP
``tlog-tiles`` but with the levels inside the tile kept: the row ``(L, N)`` holds every
complete node of tree levels ``8L+1 … 8L+8`` under the level-``8L+8`` node ``N`` — up to 128 +
64 + … + 1 = 255 hashes, after an 8-byte header of the count per level. A batch appends to the
right-edge rows it touches (rewriting them in its transaction); full rows never change again.
A proof then reads one row per 8 levels, and readers keep decoded full tiles in an LRU.
Leaf hashes stay in ``entries.leaf`` (level 0).

**Durability.** ``synchronous=FULL`` by default: an append that returned ``sequenced`` is in
the WAL *and* fsynced, so it survives a power loss, not only a crash of the process.
``synchronous=normal`` (URL option) skips that fsync (a power loss may lose the last commits;
the tree stays consistent) — an operator's choice, never a silent default. Measured on the
project's machine, FULL costs the pipeline little: it is CPU-bound, not fsync-bound.

URL: ``sqlite:///relative/path.db`` (relative to the contract's directory),
``sqlite:////absolute/path.db``, with optional query parameters ``synchronous`` (``full`` by
default, or ``normal``), ``busy_timeout`` (ms, default 30000) and ``max_page_count`` (cap the
file size; used to rehearse a full disk).

**Read-only opening.** ``SQLiteStore(path, readonly=True)`` (``open_store(url, readonly=True)``)
is what every command that only reads a store uses (verify, fsck, log, why, monitor, receipt,
consistency, witness, export): the file is opened with SQLite's ``mode=ro``, so nothing in it is
created, migrated or written (not even the journal mode), and a file that is not a Monday audit
store (an empty file, another application's database, not SQLite at all) is refused with an
:class:`~mondaytest.errors.InputError` at open. Older schemas are read as they are: every
migration after v1 only adds an index, so a v1 or v2 store reads correctly without one (a writer
adds them the next time it opens the store). A WAL store opened read-only needs its ``-shm``
file: SQLite uses the one a live writer keeps, or creates it (and an empty ``-wal``) in the
store's folder, as any reader of a WAL database does; the database itself is never written.

Each thread gets its own connection; connections run in autocommit mode and every write is an
explicit ``BEGIN IMMEDIATE … COMMIT``. ``secure_delete`` is off on these connections: they
never delete anything but public data (node tiles they rewrite), and zeroing every freed page
cost ~20 % of the append path. The erasable vault, which shares the file, writes and erases
through its own connections with ``secure_delete`` on (:mod:`mondaytest.audit.vault`), so the
pages it frees are zeros before anything here can reuse them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from mondaytest._util.sqlite_errors import sqlite_failure
from mondaytest.audit.store.interface import EntryRow, StoredCheckpoint
from mondaytest.errors import InputError, StoreError

__all__ = ["SCHEMA_VERSION", "SQLiteStore", "SQLiteWrite", "sqlite_path_from_url"]

SCHEMA_VERSION = 3
"""The newest schema this code writes."""

_OLDEST_READABLE = 1
"""The oldest schema a read-only open reads without migrating it (v2 and v3 only add indexes)."""

_STORE_TABLES = frozenset({"meta", "migrations", "entries", "tiles", "checkpoints"})
"""The tables every Monday audit store has (schema v1 and later)."""

_STORE_HINT = (
    "check --store, MONDAY_DATABASE_URL or audit.store in monday.yaml: it must name the "
    "database `monday audit` writes, e.g. sqlite:///.monday/audit.db"
)

_NODE_CACHE = 1 << 16
"""Committed subtree hashes kept in memory per store object (about 6 MB at most)."""

_MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "entries, node tiles, checkpoints",
        [
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE entries (idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL, "
            "body BLOB NOT NULL, type TEXT NOT NULL, kind TEXT NOT NULL, eid TEXT NOT NULL, "
            "ts TEXT NOT NULL)",
            "CREATE INDEX entries_eid ON entries (eid)",
            "CREATE TABLE tiles (level INTEGER NOT NULL, idx INTEGER NOT NULL, "
            "hashes BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID",
            "CREATE TABLE checkpoints (seq INTEGER PRIMARY KEY, size INTEGER NOT NULL, "
            "root BLOB NOT NULL, note BLOB NOT NULL, created_at REAL NOT NULL)",
        ],
    ),
    (
        2,
        "checkpoints by size (cosigning an older checkpoint)",
        ["CREATE INDEX IF NOT EXISTS checkpoints_size ON checkpoints (size, seq)"],
    ),
    (
        3,
        "state changes by kind (decisions are not indexed: nothing added to their writes)",
        [
            "CREATE INDEX IF NOT EXISTS entries_state_kind ON entries (kind, idx) "
            "WHERE type = 'state_change'"
        ],
    ),
]


def sqlite_path_from_url(url: str, base_dir: Path | None = None) -> tuple[Path, dict[str, str]]:
    """The database path and query options of a ``sqlite:///…`` URL (or a bare path)."""
    if url.startswith("sqlite:"):
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise InputError(
                f"store URL {url!r} has a host; SQLite files are local",
                hint="write sqlite:///relative/path.db or sqlite:////absolute/path.db",
                field="audit.store",
            )
        raw = parts.path
        if raw.startswith("/"):
            raw = raw[1:]  # sqlite:///rel → "rel"; sqlite:////abs → "/abs"
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    else:
        raw, options = url, {}
    if not raw:
        raise InputError(
            f"store URL {url!r} names no file",
            hint="write sqlite:///.monday/audit.db",
            field="audit.store",
        )
    path = Path(raw)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path, options


def _store_error(exc: sqlite3.Error, what: str, path: Path) -> StoreError:
    text = str(exc)
    failure = sqlite_failure(exc)
    if failure == "full":
        return StoreError(
            f"audit store {path} is full: {what} was refused and nothing of it was written",
            hint="free disk space (or raise max_page_count); writes resume where they stopped",
        )
    if failure == "locked":
        return StoreError(
            f"audit store {path} stayed locked by another writer: {what} failed ({text})",
            hint="another process holds the write lock too long; raise busy_timeout",
        )
    if failure == "readonly":
        return StoreError(
            f"cannot write the audit store {path}: {text}",
            hint="check the path and its permissions",
        )
    return StoreError(f"audit store {path}: {what} failed: {text}")


class _Edge:
    """The right-edge node tiles this store object wrote last, and the tree size they are for.

    A write transaction that finds the tree at exactly that size (nobody appended since) extends
    these bytes instead of reading the rows back: two or three statements fewer per commit.
    Verify-before-sign never uses it (it reads every node from the file)."""

    __slots__ = ("size", "tiles")

    def __init__(self, size: int, tiles: dict[int, tuple[int, bytes]]) -> None:
        self.size = size
        self.tiles = tiles
        """Tile level → (tile index, stored bytes) of the last tile written at that level."""


class SQLiteWrite:
    """The :class:`~mondaytest.audit.store.interface.WriteTransaction` of :class:`SQLiteStore`."""

    def __init__(self, conn: sqlite3.Connection, edge: _Edge | None = None) -> None:
        self._conn = conn
        self._edge = edge
        self.start: int | None = None
        """The tree size read in this transaction (None until read)."""
        self.added = 0
        """Entries inserted by this transaction."""
        self.written: dict[int, tuple[int, bytes]] = {}
        """Node tiles written by this transaction, per tile level."""

    def size(self) -> int:
        """Number of entries."""
        row = self._conn.execute("SELECT MAX(idx) FROM entries").fetchone()
        self.start = 0 if row[0] is None else int(row[0]) + 1
        return self.start

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Stored hash of a complete subtree."""
        return _subtree_hash(self._conn, level, index)

    def get_meta(self, key: str) -> str | None:
        """A metadata value."""
        return _get_meta(self._conn, key)

    def set_meta(self, key: str, value: str) -> None:
        """Set a metadata value."""
        self._conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def head(self, keys: Sequence[str]) -> tuple[int, dict[str, str]]:
        """The size and some metadata values, in one statement."""
        subqueries = "".join(", (SELECT value FROM meta WHERE key = ?)" for _ in keys)
        sql = f"SELECT (SELECT MAX(idx) FROM entries){subqueries}"  # noqa: S608 - placeholders
        row = self._conn.execute(sql, list(keys))
        values = row.fetchone()
        size = 0 if values[0] is None else int(values[0]) + 1
        self.start = size
        return size, {k: str(v) for k, v in zip(keys, values[1:], strict=True) if v is not None}

    def insert_entries(self, rows: Sequence[tuple[int, bytes, bytes, str, str, str, str]]) -> None:
        """Insert entry rows (a few multi-row statements: one GIL release each)."""
        _insert_many(self._conn, "entries (idx, leaf, body, type, kind, eid, ts)", 7, rows)
        self.added += len(rows)

    def _old_tile(self, tl: int, tile: int) -> _TileView | None:
        edge = self._edge
        if edge is not None and self.start is not None and edge.size == self.start:
            cached = edge.tiles.get(tl)
            if cached is not None and cached[0] == tile:
                return _view_tile(cached[1])
        return _read_view(self._conn, tl, tile)

    def insert_nodes(self, rows: Sequence[tuple[int, int, bytes]]) -> None:
        """Add complete interior subtrees (in creation order) to their node tiles.

        A right-edge tile is extended in place: its stored bytes are spliced with the new
        hashes of each level, never decoded."""
        touched: dict[tuple[int, int], tuple[_TileView | None, list[list[bytes]]]] = {}
        for level, index, value in rows:
            tl, tile, k, pos = _tile_key(level, index)
            entry = touched.get((tl, tile))
            if entry is None:
                # the tile's first node (level 1, position 0): the row cannot exist yet
                old = None if k == 1 and pos == 0 else self._old_tile(tl, tile)
                entry = touched[(tl, tile)] = (old, _empty_tile())
            old, new = entry
            if (old.counts[k - 1] if old is not None else 0) + len(new[k]) != pos:
                raise StoreError(
                    f"node (level {level}, index {index}) does not follow the stored tile",
                    hint="the store is damaged; run `monday audit fsck`",
                )
            new[k].append(value)
        if touched:
            items = [
                (tl, tile, _extend_tile(old, new)) for (tl, tile), (old, new) in touched.items()
            ]
            _insert_many(self._conn, "tiles (level, idx, hashes)", 3, items, replace=True)
            for tl, tile, blob in items:
                if tl not in self.written or self.written[tl][0] < tile:
                    self.written[tl] = (tile, blob)

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The most recently stored checkpoint."""
        return _latest_checkpoint(self._conn)

    def insert_checkpoint(self, size: int, root: bytes, note: bytes, created_at: float) -> int:
        """Store a checkpoint; return its seq."""
        cur = self._conn.execute(
            "INSERT INTO checkpoints (size, root, note, created_at) VALUES (?,?,?,?)",
            (size, root, note, created_at),
        )
        return int(cur.lastrowid or 0)

    def checkpoint_of_size(self, size: int) -> StoredCheckpoint | None:
        """The newest stored checkpoint of tree size ``size``."""
        return _checkpoint_of_size(self._conn, size)

    def replace_checkpoint_note(self, seq: int, old: bytes, new: bytes) -> bool:
        """Swap the note of checkpoint ``seq`` from ``old`` to ``new``; False if not ``old``."""
        cur = self._conn.execute(
            "UPDATE checkpoints SET note = ? WHERE seq = ? AND note = ?", (new, seq, old)
        )
        return cur.rowcount == 1


_ROWS_PER_STATEMENT = 1024


def _insert_many(
    conn: sqlite3.Connection,
    target: str,
    width: int,
    rows: Sequence[Sequence[Any]],
    *,
    replace: bool = False,
) -> None:
    """Insert ``rows`` with multi-row ``INSERT … VALUES (…),(…)`` statements.

    ``executemany`` steps once per row and the ``sqlite3`` module releases the GIL around every
    step; with application threads busy, each release can cost a whole GIL switch interval.
    One statement per 1,024 rows keeps the append path from starving.
    """
    one = "(" + ",".join("?" * width) + ")"
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        # ``target`` is one of two constants of this module; values go through placeholders
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        sql = f"{verb} INTO {target} VALUES " + ",".join([one] * len(chunk))
        conn.execute(sql, list(chain.from_iterable(chunk)))


def _get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


_TILE_HEIGHT = 8
"""Tree levels per node tile."""
_TILE_CACHE = 4096
"""Decoded full node tiles an open store keeps (about 8 KB each: 32 MB at most)."""
_LEAF_CACHE = 1 << 16
"""Leaf hashes (and nodes of partial tiles) an open store keeps."""


def _tile_key(level: int, index: int) -> tuple[int, int, int, int]:
    """Where node ``(level ≥ 1, index)`` lives: (tile level, tile index, level in tile 1–8,
    position in that level)."""
    tl = (level - 1) // _TILE_HEIGHT
    k = level - tl * _TILE_HEIGHT
    shift = _TILE_HEIGHT - k
    tile = index >> shift
    return tl, tile, k, index - (tile << shift)


def _empty_tile() -> list[list[bytes]]:
    return [[] for _ in range(_TILE_HEIGHT + 1)]


def _encode_tile(levels: list[list[bytes]]) -> bytes:
    """Header (count per level 1–8), then each level's hashes."""
    header = bytes(len(levels[k]) for k in range(1, _TILE_HEIGHT + 1))
    return header + b"".join(h for k in range(1, _TILE_HEIGHT + 1) for h in levels[k])


def _extend_tile(old: _TileView | None, new: list[list[bytes]]) -> bytes:
    """The bytes of tile ``old`` (None: an empty one) with ``new`` hashes added per level."""
    if old is None:
        return _encode_tile(new)
    blob, offsets = old.blob, old.offsets
    header = bytes(old.counts[k - 1] + len(new[k]) for k in range(1, _TILE_HEIGHT + 1))
    parts = [header]
    for k in range(1, _TILE_HEIGHT + 1):
        parts.append(blob[offsets[k] : offsets[k + 1]])
        parts.extend(new[k])
    return b"".join(parts)


def _decode_tile(blob: bytes) -> list[list[bytes]] | None:
    """A tile's levels (index 0 unused), or None when the bytes are not a well-formed tile."""
    if len(blob) < _TILE_HEIGHT:
        return None
    counts = blob[:_TILE_HEIGHT]
    if any(c > (256 >> k) for k, c in enumerate(counts, 1)):
        return None
    if len(blob) != _TILE_HEIGHT + 32 * sum(counts):
        return None
    levels: list[list[bytes]] = [[]]
    off = _TILE_HEIGHT
    for c in counts:
        levels.append([blob[off + 32 * i : off + 32 * i + 32] for i in range(c)])
        off += 32 * c
    return levels


class _TileView:
    """A stored tile read in place: a hash is sliced out only when asked for."""

    __slots__ = ("blob", "counts", "offsets")

    def __init__(self, blob: bytes, counts: bytes, offsets: list[int]) -> None:
        self.blob = blob
        self.counts = counts
        self.offsets = offsets

    def get(self, k: int, pos: int) -> bytes | None:
        """The hash at position ``pos`` of level ``k`` (1–8) of the tile, if stored."""
        if pos >= self.counts[k - 1]:
            return None
        start = self.offsets[k] + 32 * pos
        return self.blob[start : start + 32]

    @property
    def full(self) -> bool:
        """True when the tile is complete (it never changes again)."""
        return self.counts[_TILE_HEIGHT - 1] == 1


def _view_tile(blob: bytes) -> _TileView | None:
    """A view of a tile's bytes, or None when they are not a well-formed tile."""
    if len(blob) < _TILE_HEIGHT:
        return None
    counts = blob[:_TILE_HEIGHT]
    offsets = [0, _TILE_HEIGHT]
    for k, c in enumerate(counts, 1):
        if c > (256 >> k):
            return None
        offsets.append(offsets[-1] + 32 * c)
    if len(blob) != offsets[-1]:
        return None
    return _TileView(blob, counts, offsets)


def _read_view(conn: sqlite3.Connection, tl: int, tile: int) -> _TileView | None:
    row = conn.execute(
        "SELECT hashes FROM tiles WHERE level = ? AND idx = ?", (tl, tile)
    ).fetchone()
    if row is None:
        return None
    view = _view_tile(_blob(row[0]))
    if view is None:
        raise StoreError(
            f"node tile ({tl}, {tile}) is malformed",
            hint="the store is damaged; run `monday audit fsck`",
        )
    return view


def _no_hash(level: int, index: int) -> StoreError:
    return StoreError(
        f"the store has no hash for subtree (level {level}, index {index})",
        hint="the store is damaged or truncated; run `monday audit fsck`",
    )


def _subtree_hash(conn: sqlite3.Connection, level: int, index: int) -> bytes:
    if level == 0:
        row = conn.execute("SELECT leaf FROM entries WHERE idx = ?", (index,)).fetchone()
        if row is None:
            raise _no_hash(level, index)
        return _blob(row[0])
    tl, tile, k, pos = _tile_key(level, index)
    view = _read_view(conn, tl, tile)
    value = None if view is None else view.get(k, pos)
    if value is None:
        raise _no_hash(level, index)
    return value


def _latest_checkpoint(conn: sqlite3.Connection) -> StoredCheckpoint | None:
    row = conn.execute(
        "SELECT seq, size, root, note, created_at FROM checkpoints ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return None if row is None else _checkpoint(row)


def _checkpoint_of_size(conn: sqlite3.Connection, size: int) -> StoredCheckpoint | None:
    row = conn.execute(
        "SELECT seq, size, root, note, created_at FROM checkpoints WHERE size = ? "
        "ORDER BY seq DESC LIMIT 1",
        (size,),
    ).fetchone()
    return None if row is None else _checkpoint(row)


def _checkpoint(row: Any) -> StoredCheckpoint:
    return StoredCheckpoint(
        seq=int(row[0]),
        size=int(row[1]),
        root=_blob(row[2]),
        note=_blob(row[3]),
        created_at=float(row[4]),
    )


class SQLiteStore:
    """An :class:`~mondaytest.audit.store.interface.AuditStore` in one SQLite file."""

    def __init__(
        self,
        path: Path,
        options: dict[str, str] | None = None,
        *,
        url: str = "",
        readonly: bool = False,
    ) -> None:
        self.path = Path(path)
        self.readonly = readonly
        """Opened for reading only: nothing is created, migrated or written (see the module
        docstring); :meth:`write` is refused."""
        self.url = url or f"sqlite:///{self.path}"
        self._options = dict(options or {})
        sync = self._options.get("synchronous", "full").upper()
        if sync not in ("FULL", "NORMAL", "EXTRA"):
            raise InputError(
                f"synchronous={sync.lower()} is not allowed for the audit store",
                hint="use full (default) or normal",
                field="audit.store",
            )
        self._synchronous = sync
        try:
            self._busy_ms = int(self._options.get("busy_timeout", "30000"))
            self._max_pages = (
                int(self._options["max_page_count"]) if "max_page_count" in self._options else None
            )
        except ValueError:
            raise InputError(
                "busy_timeout and max_page_count must be integers", field="audit.store"
            ) from None
        self._capped = self._max_pages is not None
        self._nodes_cache: dict[tuple[int, int], bytes] = {}
        self._tiles: OrderedDict[tuple[int, int], _TileView] = OrderedDict()
        self.range_memo: dict[tuple[int, int], bytes] = {}
        """Hashes of leaf ranges computed from cached subtrees (see ``merkle.range_hash``)."""
        self._local = threading.local()
        self._write_mutex = threading.Lock()
        self._lock_fd: int | None = None
        self._edge: _Edge | None = None
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        if readonly:
            self._conn()  # a file that is not an audit store is refused now, not at first read

    # -- connections -----------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(self.path),
                isolation_level=None,
                check_same_thread=False,
                timeout=self._busy_ms / 1000,
            )
            conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            self._refuse_foreign(conn)  # before anything is set or written in the file
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"audit store {self.path} cannot use WAL mode (got {mode})")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            conn.execute("PRAGMA secure_delete = OFF")  # see the module docstring
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB":
                raise InputError(
                    f"{self.path} is not a Monday audit store (it is not a SQLite database); "
                    "nothing was written",
                    hint=_STORE_HINT,
                ) from None
            raise _store_error(exc, "opening", self.path) from None
        except OSError as exc:
            raise StoreError(
                f"cannot create the audit store directory {self.path.parent}: {exc}"
            ) from None
        return conn

    def _connect_readonly(self) -> sqlite3.Connection:
        """A ``mode=ro`` connection to an existing audit store whose schema this code reads.

        Raises :class:`~mondaytest.errors.InputError` when there is no file, or when it is not
        a Monday audit store; nothing is created or written either way."""
        path = self.path
        if path.is_dir():
            raise InputError(f"{path} is a directory, not a Monday audit store", hint=_STORE_HINT)
        if not path.exists():
            raise InputError(
                f"there is no audit store at {path}; nothing was created", hint=_STORE_HINT
            )
        if not path.is_file():
            raise InputError(
                f"{path} is not a regular file, not a Monday audit store", hint=_STORE_HINT
            )
        uri = f"file:{quote(str(path.absolute()), safe='/')}?mode=ro"
        try:
            return self._open_checked(uri)
        except sqlite3.Error as exc:
            wal = Path(f"{path}-wal")
            unfinished = wal.exists() and wal.stat().st_size > 0
            if sqlite_failure(exc) != "readonly" or unfinished:
                raise self._readonly_error(exc) from None
        # A store in WAL mode whose reader may not create the -shm file (a read-only folder,
        # an archived copy) and that has no unfinished WAL: the file alone is the whole
        # store, and SQLite may read it as immutable.
        try:
            return self._open_checked(uri + "&immutable=1")
        except sqlite3.Error as exc:
            raise self._readonly_error(exc) from None

    def _open_checked(self, uri: str) -> sqlite3.Connection:
        """A connection to ``uri`` whose schema passed :meth:`_check_schema`."""
        conn = sqlite3.connect(
            uri,
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            timeout=self._busy_ms / 1000,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            self._check_schema(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _readonly_error(self, exc: sqlite3.Error) -> InputError | StoreError:
        if getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB" or "not a database" in str(exc):
            return InputError(
                f"{self.path} is not a Monday audit store (it is not a SQLite database); "
                "nothing was read or written",
                hint=_STORE_HINT,
            )
        if sqlite_failure(exc) == "readonly":
            return StoreError(
                f"cannot open the audit store {self.path} for reading: {exc}",
                hint="check the file's permissions; a store in WAL mode also needs its -shm "
                "file, or a folder its reader may create it in",
            )
        return _store_error(exc, "opening it for reading", self.path)

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        """Refuse a file that is not a Monday audit store, or one of a newer schema."""
        tables = {
            str(row[0])
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        version = 0
        if "migrations" in tables:
            version = conn.execute("SELECT MAX(version) FROM migrations").fetchone()[0] or 0
        if version > SCHEMA_VERSION:
            raise self._newer_schema(version)
        missing = _STORE_TABLES - tables
        if version >= _OLDEST_READABLE and not missing:
            return
        if not tables:
            what = "an empty file" if self.path.stat().st_size == 0 else "an empty database"
        elif _STORE_TABLES.isdisjoint(tables):
            shown = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
            what = f"a SQLite database without the audit tables; it holds {shown}"
        else:
            what = "its audit schema is incomplete: " + (
                f"no table {', '.join(sorted(missing))}" if missing else "no migration recorded"
            )
        raise InputError(
            f"{self.path} is not a Monday audit store ({what}); nothing was read or written",
            hint=_STORE_HINT,
        )

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"audit store {self.path} is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self.readonly:
                conn = self._connect_readonly()
            else:
                conn = self._connect()
                self._migrate(conn)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _newer_schema(self, version: int) -> StoreError:
        """The error for a store written by a newer Monday."""
        return StoreError(
            f"audit store {self.path} has schema v{version}, newer than this Monday "
            f"(v{SCHEMA_VERSION})",
            hint="upgrade Monday to read it",
        )

    def _refuse_foreign(self, conn: sqlite3.Connection) -> None:
        """Refuse a SQLite database that holds other tables and no Monday schema: a writer
        adds its tables only to a new or empty file, or to a Monday audit store."""
        objects = {
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite_%'"
            )
        }
        if not objects:
            return  # a new or empty file: the writer creates the store in it
        columns = {str(r[1]) for r in conn.execute("PRAGMA table_info(migrations)")}
        ours = {"version", "name", "applied_at"} <= columns and (
            objects == {"migrations"} or "meta" in objects  # a creation cut short, or a store
        )
        if not ours:
            conn.close()
            shown = ", ".join(sorted(objects)[:5]) + (", …" if len(objects) > 5 else "")
            raise InputError(
                f"{self.path} is not a Monday audit store (a SQLite database that holds "
                f"{shown}); nothing was written",
                hint=_STORE_HINT,
            )

    def _migrate(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at REAL NOT NULL)"
            )
            current = conn.execute("SELECT MAX(version) FROM migrations").fetchone()[0] or 0
            if current > SCHEMA_VERSION:
                raise self._newer_schema(current)
            if current == SCHEMA_VERSION:
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                current = conn.execute("SELECT MAX(version) FROM migrations").fetchone()[0] or 0
                for version, name, statements in _MIGRATIONS:
                    if version <= current:
                        continue
                    for sql in statements:
                        conn.execute(sql)
                    conn.execute(
                        "INSERT INTO migrations (version, name, applied_at) VALUES (?,?,?)",
                        (version, name, time.time()),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise _store_error(exc, "creating the schema", self.path) from None

    def _read(self, what: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _store_error(exc, what, self.path) from None

    # -- AuditStore ------------------------------------------------------------------------

    def schema_version(self) -> int:
        """Schema version of the file."""
        rows = self._read("reading the schema version", "SELECT MAX(version) FROM migrations")
        return int(rows[0][0] or 0)

    def origin(self) -> str | None:
        """The origin recorded at creation."""
        return self.get_meta("origin")

    @property
    def max_pages(self) -> int | None:
        """The file-size cap in pages (``max_page_count``), None when uncapped."""
        return self._max_pages

    @max_pages.setter
    def max_pages(self, pages: int | None) -> None:
        self._max_pages = pages
        self._capped = self._capped or pages is not None

    def _writers_lock(self) -> int:
        """The descriptor of the writers' lock file beside the store (opened once)."""
        fd = self._lock_fd
        if fd is None:
            if self._closed:  # close() ran: opening it again would leak the descriptor
                raise StoreError(f"audit store {self.path} is closed")
            try:
                fd = os.open(f"{self.path}-lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                raise StoreError(
                    f"cannot open the writers' lock file {self.path}-lock: {exc.strerror}",
                    hint="the store's folder must be writable by every process that appends",
                ) from None
            self._lock_fd = fd
        return fd

    def _take_writers_lock(self, fd: int) -> None:
        """``flock`` the writers' lock, waiting at most ``busy_timeout`` like SQLite's own lock.

        A blocking ``flock`` cannot time out, and a holder stopped mid-transaction (SIGSTOP, a
        debugger, a frozen container) is not dead, so the kernel keeps its lock: waiting for it
        without a bound would hang every writer instead of failing them after ``busy_timeout``.
        A busy lock is retried every millisecond at most."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        deadline = time.monotonic() + self._busy_ms / 1000
        pause = 0.00005
        while True:
            time.sleep(pause)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"audit store {self.path} stayed locked by another writer: taking the "
                        f"writers' lock {self.path}-lock failed after {self._busy_ms} ms",
                        hint="another process holds the write lock too long; raise busy_timeout",
                    ) from None
                pause = min(pause * 2, 0.001)

    @contextlib.contextmanager
    def write(self) -> Iterator[SQLiteWrite]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``; everything rolls back on any error.

        Writers first queue on an advisory lock (``flock``) of the file ``<store>-lock``: a
        waiting process retries it every millisecond at most, where SQLite's own busy handler
        would poll with growing sleeps (up to 100 ms) and let one process starve the others;
        it gives up after ``busy_timeout``, as SQLite would. ``BEGIN IMMEDIATE`` still guards
        the store by itself (a writer that does not take the file lock, such as a backup, is
        waited for as before); the kernel drops the lock of a process that dies.
        """
        if self.readonly:
            raise StoreError(
                f"audit store {self.path} was opened read-only; nothing was written",
                hint="a command that changes the log opens its store for writing",
            )
        with self._write_mutex:
            fd = self._writers_lock()
            self._take_writers_lock(fd)
            try:
                with self._write_tx() as tx:
                    yield tx
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _write_tx(self) -> Iterator[SQLiteWrite]:
        conn = self._conn()
        try:
            if self._capped:  # applied per transaction, so the cap can change at run time
                limit = self._max_pages if self._max_pages is not None else 1073741823
                conn.execute(f"PRAGMA max_page_count = {limit}")
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _store_error(exc, "taking the write lock", self.path) from None
        edge, self._edge = self._edge, None  # trusted again only after a commit
        tx = SQLiteWrite(conn, edge)
        try:
            yield tx
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            raise _store_error(exc, "the write", self.path) from None
        except BaseException:
            _rollback(conn)
            raise
        if tx.start is not None:
            tiles = dict(edge.tiles) if edge is not None and edge.size == tx.start else {}
            tiles.update(tx.written)
            self._edge = _Edge(tx.start + tx.added, tiles)
        elif not tx.added and not tx.written:
            self._edge = edge  # a transaction that did not touch the tree (a checkpoint)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[object]:
        """A read transaction: every read inside sees one consistent state of the store."""
        conn = self._conn()
        try:
            conn.execute("BEGIN")
            conn.execute("SELECT 1 FROM meta LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise _store_error(exc, "starting a read", self.path) from None
        try:
            yield self
        finally:
            _rollback(conn)

    def size(self) -> int:
        """Number of committed entries."""
        rows = self._read("reading the size", "SELECT MAX(idx) FROM entries")
        return 0 if rows[0][0] is None else int(rows[0][0]) + 1

    def get_meta(self, key: str) -> str | None:
        """A metadata value."""
        rows = self._read("reading meta", "SELECT value FROM meta WHERE key = ?", (key,))
        return None if not rows else str(rows[0][0])

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Stored hash of a complete subtree.

        Committed subtrees never change, so what is read here is kept: node tiles (their
        bytes, sliced on demand) in an LRU, leaf hashes in a bounded map. A right-edge tile is
        re-read only when asked for a node it did not hold yet. A cold proof reads one leaf
        hash and one tile per 8 levels; a warm one reads nothing.
        """
        key = (level, index)
        cache = self._nodes_cache
        cached = cache.get(key)
        if cached is not None:
            return cached
        try:
            conn = self._conn()
            if level == 0:
                value = self._leaf_and_tile(conn, index)
            else:
                tl, tile, k, pos = _tile_key(level, index)
                tiles = self._tiles
                view = tiles.get((tl, tile))
                found = None if view is None else view.get(k, pos)
                if found is not None:
                    tiles.move_to_end((tl, tile))
                    if len(cache) >= _LEAF_CACHE:
                        cache.clear()
                    cache[key] = found  # the next ask is one dict lookup
                    return found
                # not read yet, or a right-edge tile read before it grew: (re)read it
                view = _read_view(conn, tl, tile)
                found = None if view is None else view.get(k, pos)
                if view is None or found is None:
                    raise _no_hash(level, index)
                tiles[(tl, tile)] = view
                tiles.move_to_end((tl, tile))
                if len(tiles) > _TILE_CACHE:
                    tiles.popitem(last=False)
                return found
        except sqlite3.Error as exc:
            raise _store_error(exc, "reading a node", self.path) from None
        if len(cache) >= _LEAF_CACHE:
            cache.clear()
        cache[key] = value
        return value

    def _leaf_and_tile(self, conn: sqlite3.Connection, index: int) -> bytes:
        """Leaf hash ``index``, and in the same query the tile of its ancestors (levels 1–8)
        when it is not cached: what an inclusion proof asks for next."""
        key = (0, index >> _TILE_HEIGHT)
        if key in self._tiles:
            return _subtree_hash(conn, 0, index)
        rows = conn.execute(
            "SELECT 0, leaf FROM entries WHERE idx = ? "
            "UNION ALL SELECT 1, hashes FROM tiles WHERE level = 0 AND idx = ?",
            (index, index >> _TILE_HEIGHT),
        ).fetchall()
        leaf = None
        for what, value in rows:
            if what == 0:
                leaf = _blob(value)
            else:
                view = _view_tile(_blob(value))
                if view is not None:
                    self._tiles[key] = view
                    if len(self._tiles) > _TILE_CACHE:
                        self._tiles.popitem(last=False)
        if leaf is None:
            raise _no_hash(0, index)
        return leaf

    def read_node(self, level: int, index: int) -> bytes:
        """Stored hash of a complete subtree, read from the file now (never from a cache)."""
        try:
            return _subtree_hash(self._conn(), level, index)
        except sqlite3.Error as exc:
            raise _store_error(exc, "reading a node", self.path) from None

    def entry(self, idx: int) -> EntryRow | None:
        """One entry."""
        rows = self._read(
            "reading an entry", "SELECT idx, leaf, body FROM entries WHERE idx = ?", (idx,)
        )
        return None if not rows else EntryRow(int(rows[0][0]), _blob(rows[0][1]), _blob(rows[0][2]))

    def _stream(self, what: str, sql: str, params: Sequence[Any]) -> Iterator[Any]:
        """Rows of a query, fetched in chunks (memory stays flat on any store size)."""
        try:
            cur = self._conn().execute(sql, params)
            while chunk := cur.fetchmany(4096):
                yield from chunk
        except sqlite3.Error as exc:
            raise _store_error(exc, what, self.path) from None

    def entries(self, start: int = 0, end: int | None = None) -> Iterator[EntryRow]:
        """Entries in index order, streamed in chunks."""
        stop = end if end is not None else (1 << 62)
        make = EntryRow._make
        for row in self._stream(
            "reading entries",
            "SELECT idx, leaf, body FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx",
            (start, stop),
        ):
            if type(row[1]) is bytes and type(row[2]) is bytes:  # intact rows: as read
                yield make(row)
            else:  # a tampered row may hold TEXT, a number or NULL
                yield EntryRow(int(row[0]), _blob(row[1]), _blob(row[2]))

    def find_entry_ids(self, entry_id: str, limit: int = 2) -> list[int]:
        """Indexes of the entries with this id, ascending, at most ``limit``."""
        rows = self._read(
            "looking up an id",
            "SELECT idx FROM entries WHERE eid = ? ORDER BY idx LIMIT ?",
            (entry_id, limit),
        )
        return [int(r[0]) for r in rows]

    def index_columns(self, start: int = 0) -> Iterator[tuple[int, str, str, str, str]]:
        """``(idx, type, kind, id, ts)`` as stored, in index order (a tampered column may hold
        another type: it is shown as text)."""
        for row in self._stream(
            "reading the index columns",
            "SELECT idx, type, kind, eid, ts FROM entries WHERE idx >= ? ORDER BY idx",
            (start,),
        ):
            yield (int(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]))

    def first_index_since(self, ts: str) -> int:
        """Lowest index recorded at or after ``ts``; the size when every entry is older."""
        rows = self._read("reading timestamps", "SELECT MIN(idx) FROM entries WHERE ts >= ?", (ts,))
        return int(rows[0][0]) if rows[0][0] is not None else self.size()

    def search(
        self,
        *,
        kind: str | None = None,
        text: str | None = None,
        before: int | None = None,
        limit: int = 20,
    ) -> list[EntryRow]:
        """Newest-first entries by kind and/or substring of the leaf bytes."""
        where: list[str] = []
        params: list[Any] = []
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
            if kind != "decision":  # lets SQLite use the state changes' partial index
                where.append("type = 'state_change'")
        if text is not None:
            where.append("instr(body, ?) > 0")
            params.append(text.encode("utf-8"))
        if before is not None:
            where.append("idx < ?")
            params.append(before)
        sql = "SELECT idx, leaf, body FROM entries"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY idx DESC LIMIT ?"
        params.append(limit)
        rows = self._read("searching entries", sql, params)
        return [EntryRow(int(i), _blob(leaf), _blob(body)) for i, leaf, body in rows]

    def nodes(self, level: int, start: int = 0) -> Iterator[tuple[int, bytes]]:
        """Stored complete subtrees at one level (≥ 1), in index order, from their tiles.

        A malformed tile yields nothing (its nodes show as missing to ``fsck``)."""
        tl, first_tile, k, _ = _tile_key(level, start)
        shift = _TILE_HEIGHT - k
        for tile, blob in self._stream(
            "reading node tiles",
            "SELECT idx, hashes FROM tiles WHERE level = ? AND idx >= ? ORDER BY idx",
            (tl, first_tile),
        ):
            levels = _decode_tile(_blob(blob))
            if levels is None:
                continue
            base = int(tile) << shift
            for i, value in enumerate(levels[k]):
                if base + i >= start:
                    yield base + i, value

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every stored checkpoint, in order."""
        rows = self._read(
            "reading checkpoints",
            "SELECT seq, size, root, note, created_at FROM checkpoints ORDER BY seq",
        )
        return [_checkpoint(r) for r in rows]

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The most recent checkpoint."""
        try:
            return _latest_checkpoint(self._conn())
        except sqlite3.Error as exc:
            raise _store_error(exc, "reading checkpoints", self.path) from None

    def checkpoint_of_size(self, size: int) -> StoredCheckpoint | None:
        """The newest stored checkpoint of tree size ``size``."""
        try:
            return _checkpoint_of_size(self._conn(), size)
        except sqlite3.Error as exc:
            raise _store_error(exc, "reading checkpoints", self.path) from None

    def backup(self, path: str) -> None:
        """Online, consistent copy through SQLite's backup API (nothing is left at ``path``
        when it fails)."""
        target_path = Path(path)
        if target_path.exists():
            raise InputError(f"{target_path} exists; refusing to overwrite it")
        try:
            target = sqlite3.connect(str(target_path))
            try:
                self._conn().backup(target)
            finally:
                target.close()
        except sqlite3.Error as exc:
            for leftover in (target_path, Path(f"{target_path}-journal")):
                with contextlib.suppress(OSError):
                    leftover.unlink()
            raise StoreError(
                f"the backup to {target_path} failed: {exc}; nothing was left there",
                hint="check the disk space and permissions of the backup's directory",
            ) from None

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._lock:
            conns, self._all = self._all, []
            self._closed = True
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()
        with self._write_mutex:
            fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)


def _blob(value: Any) -> bytes:
    """A BLOB column's value as bytes (a tampered row may hold TEXT instead)."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if value is None:
        return b""
    if isinstance(value, int | float):
        return str(value).encode()
    return bytes(value)


def _rollback(conn: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        if conn.in_transaction:
            conn.execute("ROLLBACK")
