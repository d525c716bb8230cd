"""The evidence vault: personal data stays out of the log's leaves and can be erased.

A leaf is immutable and may be handed to witnesses and auditors, so it never holds raw personal
data. It holds instead:

- a **subject token** ``tok:<22 base64url chars>`` for the data subject (and for a reviewer):
  128 random bits the vault assigns the first time it sees the subject, found again through a
  keyed lookup (HMAC-SHA-256 of the subject id under a secret lookup key). The same subject
  maps to the same token while the vault knows it; nothing about the subject can be computed
  from the token. Random rather than ``HMAC(subject)`` on purpose: once the subject is erased,
  not even the operator holding every key can link the token in old leaves back to the person.
- a **salted commitment** ``c:<43 base64url chars>`` to each raw value (input, output, notes)::

      c: base64url( SHA-256( "monday.commit/v1" 0x00 ‖ salt (32 random bytes) ‖ value bytes ) )

  The value bytes are the bytes themselves, the UTF-8 of a string, or the canonical JSON of a
  JSON value (Monday's restricted profile: no floats). Without the salt the commitment reveals
  nothing, even about guessable values; with the raw value and the salt anyone can recompute it
  (:func:`verify_commitment`), which is how a value is disclosed to one auditor.

The raw value and its salt are kept only in the vault, encrypted (AES-256-GCM) under a data key
of their own subject; each subject's data key is wrapped (AES-256-GCM) by a key derived from
the vault master key, which is loaded like the audit signing key (``file:PATH`` with mode 0600,
or ``env:VAR``) and never stored in the database. :meth:`Vault.erase` deletes the subject's
wrapped key and every row of the subject (crypto-shredding *and* deletion), with SQLite's
``secure_delete`` on, then checkpoints the WAL with ``TRUNCATE`` so no older page image survives
in the ``-wal`` file. Every proof over the log still verifies afterwards; the commitments in its
leaves can no longer be opened, and the caller appends an ``erasure`` entry
(:meth:`ErasureReceipt.payload`) as evidence that it happened.

Storage is the :class:`VaultStore` Protocol; :class:`SQLiteVaultStore` keeps three tables
(``vault_meta``, ``vault_subjects``, ``vault_values``) in the same SQLite file as the audit
store, through a connection of its own. Nothing personal ever appears in an error message or a
log line: errors name fields, counts and tokens, never subject ids, values or salts.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mondaytest._util.canonical import ProfileError, canonical_json
from mondaytest._util.sqlite_errors import sqlite_failure
from mondaytest.audit.keys import parse_key_ref, read_secret, write_secret_file
from mondaytest.errors import CheckFailed, ConfigError, InputError, StoreError

__all__ = [
    "COMMITMENT_PREFIX",
    "MASTER_KEY_PREFIX",
    "SALT_BYTES",
    "TOKEN_PREFIX",
    "ErasureReceipt",
    "ExpiryReceipt",
    "MasterKey",
    "SQLiteVaultStore",
    "SubjectRow",
    "UnknownRecord",
    "UnknownSubject",
    "ValueRow",
    "Vault",
    "VaultCorrupt",
    "VaultError",
    "VaultKeyError",
    "VaultKeyMismatch",
    "VaultRef",
    "VaultStore",
    "VaultValue",
    "commit",
    "commitment_of",
    "encode_value",
    "expiring_counts",
    "generate_master_key",
    "has_vault_rows",
    "load_master_key",
    "verify_commitment",
    "write_master_key",
]

log = logging.getLogger("mondaytest.audit.vault")

SALT_BYTES = 32
"""Length of a commitment salt."""
COMMITMENT_PREFIX = "c:"
"""Prefix of a commitment in a leaf."""
TOKEN_PREFIX = "tok:"  # noqa: S105 - a prefix, not a secret
"""Prefix of a subject token in a leaf."""
MASTER_KEY_PREFIX = "MONDAY+VAULT+KEY+"
"""First characters of a vault master key (then base64 of 32 random bytes)."""

_COMMIT_DOMAIN = b"monday.commit/v1\x00"
_FORMAT = b"monday.vault/v1"
_RECORD_VERSION = 1
_TAG_BYTES, _TAG_TEXT, _TAG_JSON = 1, 2, 3
_NONCE = 12
_COMMITMENT_RE = re.compile(r"^c:[A-Za-z0-9_-]{43}$")
_TOKEN_RE = re.compile(r"^tok:[A-Za-z0-9_-]{22}$")
_FIELD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$")
_MAX_SUBJECT_CHARS = 4096

Value = bytes | str | int | bool | None | dict[str, Any] | list[Any]
"""What the vault keeps: bytes, text, or a JSON value in Monday's restricted profile."""


# --- errors -------------------------------------------------------------------------------


class VaultError(StoreError):
    """The vault's database failed: unreachable, locked, full (exit 3)."""


class VaultKeyError(InputError):
    """The vault master key cannot be loaded: missing, unreadable, malformed (exit 2)."""


class VaultKeyMismatch(ConfigError):  # noqa: N818 - reads as a verdict, like KeyMismatch
    """The master key given is not the one this vault was created with (exit 2)."""


class UnknownSubject(InputError):  # noqa: N818
    """The vault holds nothing for this subject: never stored, erased or expired (exit 2)."""


class UnknownRecord(InputError):  # noqa: N818
    """The vault holds no value with this commitment (exit 2)."""


class VaultCorrupt(CheckFailed):
    """A vault row does not decrypt or does not match its commitment: tampered (exit 1)."""


# --- commitments --------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode_value(value: Value) -> tuple[int, bytes]:
    """The bytes a commitment binds, and a tag saying how to decode them.

    ``bytes`` stay as they are, ``str`` becomes UTF-8, anything else must be a JSON value in
    Monday's restricted profile and becomes its canonical JSON. Raises :class:`InputError`
    (which never repeats the value).
    """
    if isinstance(value, bytes | bytearray | memoryview):
        return _TAG_BYTES, bytes(value)
    if isinstance(value, str):
        try:
            return _TAG_TEXT, value.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError("a vault value is not valid Unicode (lone surrogate)") from None
    try:
        return _TAG_JSON, canonical_json(value)
    except ProfileError:  # its message and place would repeat keys of the personal value
        raise InputError(
            "a vault value is outside Monday's JSON profile (floats, integers beyond 2^53, "
            "non-ASCII keys, nesting deeper than 64 or non-JSON types)",
            hint="pass bytes or text, or JSON without floats (decimals as strings); "
            "mondaytest._util.canonical.to_profile converts",
        ) from None


def _decode_value(tag: int, body: bytes) -> Value:
    if tag == _TAG_BYTES:
        return body
    if tag == _TAG_TEXT:
        return body.decode("utf-8")
    if tag == _TAG_JSON:
        decoded: Value = json.loads(body)
        return decoded
    raise VaultCorrupt("a vault record has an unknown value encoding")


def commitment_of(value_bytes: bytes, salt: bytes) -> str:
    """``c:`` + base64url(SHA-256("monday.commit/v1" 0x00 ‖ salt ‖ value bytes))."""
    if len(salt) != SALT_BYTES:
        raise InputError(f"a commitment salt is {SALT_BYTES} bytes, got {len(salt)}")
    digest = hashlib.sha256(_COMMIT_DOMAIN + salt + value_bytes).digest()
    return COMMITMENT_PREFIX + _b64url(digest)


def commit(value: Value, *, salt: bytes | None = None) -> tuple[str, bytes]:
    """A hiding, binding commitment to ``value``: returns ``(commitment, salt)``.

    The salt is 32 fresh random bytes unless given. Keep the salt secret (in the vault); put
    only the commitment in a leaf.
    """
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else bytes(salt)
    _tag, body = encode_value(value)
    return commitment_of(body, salt), salt


def verify_commitment(commitment: str, value: Value, salt: bytes) -> bool:
    """True when ``commitment`` commits to ``value`` with ``salt`` (constant-time compare)."""
    if not isinstance(commitment, str) or not _COMMITMENT_RE.match(commitment):
        return False
    if not isinstance(salt, bytes | bytearray) or len(salt) != SALT_BYTES:
        return False
    try:
        _tag, body = encode_value(value)
    except InputError:
        return False
    expected = commitment_of(body, bytes(salt))
    return hmac.compare_digest(expected.encode("ascii"), commitment.encode("ascii"))


# --- the master key -----------------------------------------------------------------------


class MasterKey:
    """The vault master key (32 bytes). Its ``repr`` shows only the public key id."""

    def __init__(self, raw: bytes) -> None:
        if len(raw) != 32:
            raise VaultKeyError(f"a vault master key is 32 bytes, got {len(raw)}")
        self._raw = bytes(raw)
        self.key_id = hmac.new(self._raw, _FORMAT + b" key-id", hashlib.sha256).hexdigest()[:16]
        """Non-secret identifier (16 hex digits), recorded in the vault to explain mismatches."""

    def _kek(self) -> AESGCM:
        return AESGCM(hmac.new(self._raw, _FORMAT + b" kek", hashlib.sha256).digest())

    def text(self) -> str:
        """The key file text ``MONDAY+VAULT+KEY+<base64>``. A secret: never log it."""
        return MASTER_KEY_PREFIX + base64.b64encode(self._raw).decode("ascii")

    @classmethod
    def generate(cls) -> MasterKey:
        """A fresh random key."""
        return cls(secrets.token_bytes(32))

    @classmethod
    def parse(cls, text: str, source: str = "the key") -> MasterKey:
        """Parse ``MONDAY+VAULT+KEY+<base64 of 32 bytes>``; errors never repeat the text."""
        text = text.strip()
        if not text.startswith(MASTER_KEY_PREFIX):
            raise VaultKeyError(
                f"{source} is not a vault master key (it must start with {MASTER_KEY_PREFIX})",
                hint="create one with `monday audit keygen --vault`",
            )
        try:
            raw = base64.b64decode(text[len(MASTER_KEY_PREFIX) :].encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise VaultKeyError(f"{source}: the vault master key is not valid base64") from None
        if len(raw) != 32:
            raise VaultKeyError(f"{source}: a vault master key is 32 bytes, got {len(raw)}")
        return cls(raw)

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id})"


def generate_master_key() -> str:
    """The text of a fresh vault master key (write it to a 0600 file or a secret store)."""
    return MasterKey.generate().text()


def write_master_key(path: Path | str, *, overwrite: bool = False) -> MasterKey:
    """Generate a master key and write it to ``path`` with mode 0600; return it.

    Refuses to replace an existing file unless ``overwrite`` (replacing the key of a vault in
    use makes everything in it unreadable).
    """
    key = MasterKey.generate()
    write_secret_file(
        path,
        key.text() + "\n",
        overwrite=overwrite,
        what="vault key file",
        error=VaultKeyError,
    )
    return key


def load_master_key(
    ref: str,
    *,
    base_dir: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    strict_permissions: bool = False,
) -> MasterKey:
    """Load the master key named by ``file:PATH`` (relative to ``base_dir``) or ``env:VAR``.

    A key file open to other users raises with ``strict_permissions`` and warns otherwise.
    """
    try:
        key_ref = parse_key_ref(ref, base_dir)
    except InputError:
        raise VaultKeyError(
            "the vault key reference is not file:PATH or env:VAR",
            hint="e.g. file:.monday/keys/vault.key or env:MONDAY_VAULT_KEY",
        ) from None
    text, source = read_secret(
        key_ref,
        environ=environ,
        strict_permissions=strict_permissions,
        what="vault key file",
        error=VaultKeyError,
        env_hint="create a vault key with `monday audit keygen --vault`",
        missing_hint="create it with `monday audit keygen --vault`",
    )
    return MasterKey.parse(text, source)


# --- storage ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubjectRow:
    """One data subject: keyed lookup of the subject id, token, wrapped data key."""

    lookup: bytes
    """HMAC-SHA-256 of the subject id under the vault's lookup key."""
    token: str
    """``tok:…``: what leaves carry."""
    wrapped_key: bytes
    """The subject's data key: nonce ‖ AES-GCM under the master key's wrapping key."""
    created_us: int
    """Creation time, microseconds since the epoch."""


@dataclass(frozen=True, slots=True)
class ValueRow:
    """One raw value (with its salt), encrypted under its subject's data key."""

    token: str
    field: str
    commitment: str
    nonce: bytes
    ciphertext: bytes
    created_us: int


class VaultStore(Protocol):
    """Where the vault keeps its rows. Every method raises :class:`VaultError` on failure."""

    def get_meta(self, key: str) -> bytes | None:
        """A vault metadata value."""
        ...

    def init_meta(self, values: Mapping[str, bytes]) -> dict[str, bytes]:
        """Store each value whose key is absent (atomically); return the stored values."""
        ...

    def subject(self, lookup: bytes) -> SubjectRow | None:
        """The subject with this lookup value."""
        ...

    def subject_by_token(self, token: str) -> SubjectRow | None:
        """The subject with this token."""
        ...

    def touch(self, lookup: bytes, now_us: int, every_us: int) -> None:
        """Note that the subject is in use now (written at most once per ``every_us``)."""
        ...

    def put(
        self,
        candidate: SubjectRow,
        build: Callable[[SubjectRow], Sequence[ValueRow]],
        *,
        create: bool = True,
    ) -> SubjectRow | None:
        """In one write transaction: find the subject by ``candidate.lookup`` (inserting the
        candidate when absent and ``create``), insert ``build(subject)``; return the subject
        (None when absent and not ``create``)."""
        ...

    def values(self, token: str, field: str | None = None) -> list[ValueRow]:
        """A subject's values (of one field), oldest first."""
        ...

    def value_by_commitment(self, commitment: str) -> ValueRow | None:
        """The value with this commitment."""
        ...

    def erase(self, lookup: bytes, *, note_pending: bool = False) -> tuple[SubjectRow, int] | None:
        """Delete a subject's values and its row (its wrapped key) in one transaction; with
        ``note_pending``, note the erasure (its token and count) until :meth:`finish_erasure`.

        Returns the deleted subject and the number of values, or None if there is none.
        """
        ...

    def pending_erasure(self, lookup: bytes) -> tuple[str, int, int] | None:
        """``(token, records, erased_us)`` of an erasure whose audit entry is not written yet."""
        ...

    def finish_erasure(self, lookup: bytes) -> None:
        """Forget a pending erasure (its audit entry is written)."""
        ...

    def expire(self, before_us: int) -> tuple[int, int]:
        """Delete values created before ``before_us``, then subjects last used before it that
        have no values left; return (values, subjects) deleted."""
        ...

    def scrub(self, timeout: float) -> bool:
        """Make deleted bytes unrecoverable from the storage files; True when done."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS vault_meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS vault_subjects (lookup BLOB PRIMARY KEY, "
    "token TEXT NOT NULL UNIQUE, wrapped_key BLOB NOT NULL, created_us INTEGER NOT NULL, "
    "used_us INTEGER)",
    "CREATE TABLE IF NOT EXISTS vault_values (id INTEGER PRIMARY KEY, "
    "token TEXT NOT NULL REFERENCES vault_subjects (token) ON DELETE CASCADE, "
    "field TEXT NOT NULL, commitment TEXT NOT NULL, nonce BLOB NOT NULL, "
    "ciphertext BLOB NOT NULL, created_us INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS vault_values_token ON vault_values (token, field)",
    "CREATE INDEX IF NOT EXISTS vault_values_commitment ON vault_values (commitment)",
    "CREATE INDEX IF NOT EXISTS vault_values_created ON vault_values (created_us)",
    "CREATE INDEX IF NOT EXISTS vault_subjects_created ON vault_subjects (created_us)",
    "CREATE TABLE IF NOT EXISTS vault_pending_erasures (lookup BLOB PRIMARY KEY, "
    "token TEXT NOT NULL, records INTEGER NOT NULL, erased_us INTEGER NOT NULL)",
]


def _text(raw: bytes) -> str:
    """TEXT columns, tolerating bytes that are not UTF-8 (a tampered row must not crash)."""
    return raw.decode("utf-8", "surrogateescape")


def _blob(value: Any) -> bytes:
    """A BLOB column's value as bytes (a tampered row may hold TEXT or a number instead)."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if value is None:
        return b""
    if isinstance(value, int | float):
        return str(value).encode()
    return bytes(value)


def _subject_row(row: Any) -> SubjectRow:
    return SubjectRow(_blob(row[0]), str(row[1]), _blob(row[2]), int(row[3]))


def _value_row(row: Any) -> ValueRow:
    return ValueRow(
        str(row[0]), str(row[1]), str(row[2]), _blob(row[3]), _blob(row[4]), int(row[5])
    )


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection | None]:
    """A read-only connection to ``path`` (None when it cannot be opened)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        yield None
        return
    try:
        yield conn
    finally:
        conn.close()


def has_vault_rows(path: Path) -> bool:
    """True when the database at ``path`` holds vault values (read only; no key needed)."""
    with _read_only(path) as conn:
        if conn is None:
            return False
        try:
            table = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'vault_values' AND type = 'table'"
            ).fetchone()
            return (
                table is not None
                and conn.execute("SELECT 1 FROM vault_values LIMIT 1").fetchone() is not None
            )
        except sqlite3.Error:
            return False


def expiring_counts(path: Path, before_us: int) -> tuple[int, int]:
    """How many values and subjects :meth:`SQLiteVaultStore.expire` would delete for
    ``before_us`` (read only, no key needed; (0, 0) without a vault)."""
    if not has_vault_rows(path):
        return 0, 0
    with _read_only(path) as conn:
        if conn is None:
            return 0, 0
        try:
            values = conn.execute(
                "SELECT COUNT(*) FROM vault_values WHERE created_us < ?", (before_us,)
            ).fetchone()[0]
            subjects = conn.execute(
                "SELECT COUNT(*) FROM vault_subjects s WHERE COALESCE(s.used_us, s.created_us)"
                " < ? AND NOT EXISTS (SELECT 1 FROM vault_values v WHERE v.token = s.token "
                "AND v.created_us >= ?)",
                (before_us, before_us),
            ).fetchone()[0]
        except sqlite3.Error:
            return 0, 0
    return int(values), int(subjects)


class SQLiteVaultStore:
    """:class:`VaultStore` in a SQLite file (usually the audit store's), own connection.

    The connection runs in WAL mode with ``synchronous=FULL`` and ``secure_delete=ON``; every
    write is one ``BEGIN IMMEDIATE`` transaction. One connection is shared by the threads of a
    process under a lock.
    """

    def __init__(self, path: Path | str, *, busy_timeout_ms: int = 30000) -> None:
        self.path = Path(path)
        self._busy_ms = int(busy_timeout_ms)
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(self.path),
                isolation_level=None,
                check_same_thread=False,
                timeout=busy_timeout_ms / 1000,
            )
        except (sqlite3.Error, OSError) as exc:
            raise self._error(exc, "opening") from None
        self._conn: sqlite3.Connection | None = conn
        conn.text_factory = _text
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise VaultError(f"vault database {self.path} cannot use WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("PRAGMA foreign_keys = ON")
            with self._write("creating the vault tables") as c:
                for sql in _SCHEMA:
                    c.execute(sql)
                columns = {r[1] for r in c.execute("PRAGMA table_info(vault_subjects)")}
                if "used_us" not in columns:  # a vault made before subjects kept their last use
                    c.execute("ALTER TABLE vault_subjects ADD COLUMN used_us INTEGER")
        except sqlite3.Error as exc:
            conn.close()
            raise self._error(exc, "opening") from None
        except BaseException:
            conn.close()
            raise

    def _error(self, exc: BaseException, what: str) -> VaultError:
        failure = sqlite_failure(exc)
        if failure == "full":
            return VaultError(
                f"vault database {self.path} is full: {what} failed and nothing was written",
                hint="free disk space",
            )
        if failure == "locked":
            return VaultError(
                f"vault database {self.path} stayed locked: {what} failed",
                hint="another process holds the write lock too long",
            )
        return VaultError(f"vault database {self.path}: {what} failed: {exc}")

    def _c(self) -> sqlite3.Connection:
        if self._conn is None:
            raise VaultError(f"vault database {self.path} is closed")
        return self._conn

    @contextlib.contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._c()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._error(exc, what) from None
            try:
                yield conn
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(conn)
                raise self._error(exc, what) from None
            except BaseException:
                _rollback(conn)
                raise

    def _read(self, what: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._c().execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._error(exc, what) from None

    def get_meta(self, key: str) -> bytes | None:
        """A vault metadata value."""
        rows = self._read("reading the vault", "SELECT value FROM vault_meta WHERE key = ?", [key])
        return _blob(rows[0][0]) if rows else None

    def init_meta(self, values: Mapping[str, bytes]) -> dict[str, bytes]:
        """Insert absent metadata; return what is stored for those keys."""
        with self._write("initialising the vault") as conn:
            conn.executemany(
                "INSERT INTO vault_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                list(values.items()),
            )
            out: dict[str, bytes] = {}
            for key in values:
                row = conn.execute("SELECT value FROM vault_meta WHERE key = ?", (key,)).fetchone()
                out[key] = _blob(row[0])
        return out

    def subject(self, lookup: bytes) -> SubjectRow | None:
        """The subject with this lookup value."""
        rows = self._read(
            "reading the vault",
            "SELECT lookup, token, wrapped_key, created_us FROM vault_subjects WHERE lookup = ?",
            [lookup],
        )
        return _subject_row(rows[0]) if rows else None

    def touch(self, lookup: bytes, now_us: int, every_us: int) -> None:
        """Note that the subject is in use, at most once per ``every_us``."""
        rows = self._read(
            "reading the vault",
            "SELECT COALESCE(used_us, created_us) FROM vault_subjects WHERE lookup = ?",
            [lookup],
        )
        if rows and int(rows[0][0]) < now_us - every_us:
            with self._write("noting a subject's use") as conn:
                conn.execute(
                    "UPDATE vault_subjects SET used_us = ? WHERE lookup = ?", (now_us, lookup)
                )

    def subject_by_token(self, token: str) -> SubjectRow | None:
        """The subject with this token."""
        rows = self._read(
            "reading the vault",
            "SELECT lookup, token, wrapped_key, created_us FROM vault_subjects WHERE token = ?",
            [token],
        )
        return _subject_row(rows[0]) if rows else None

    def put(
        self,
        candidate: SubjectRow,
        build: Callable[[SubjectRow], Sequence[ValueRow]],
        *,
        create: bool = True,
    ) -> SubjectRow | None:
        """Get or create the subject and insert its new values, in one transaction."""
        with self._write("writing to the vault") as conn:
            row = conn.execute(
                "SELECT lookup, token, wrapped_key, created_us FROM vault_subjects "
                "WHERE lookup = ?",
                (candidate.lookup,),
            ).fetchone()
            if row is not None:
                subject = _subject_row(row)
            elif create:
                conn.execute(
                    "INSERT INTO vault_subjects (lookup, token, wrapped_key, created_us) "
                    "VALUES (?, ?, ?, ?)",
                    (
                        candidate.lookup,
                        candidate.token,
                        candidate.wrapped_key,
                        candidate.created_us,
                    ),
                )
                subject = candidate
            else:
                return None
            rows = build(subject)
            used = max((r.created_us for r in rows), default=candidate.created_us)
            conn.execute(
                "UPDATE vault_subjects SET used_us = ? WHERE lookup = ?", (used, candidate.lookup)
            )
            conn.executemany(
                "INSERT INTO vault_values (token, field, commitment, nonce, ciphertext, "
                "created_us) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (r.token, r.field, r.commitment, r.nonce, r.ciphertext, r.created_us)
                    for r in rows
                ],
            )
        return subject

    def values(self, token: str, field: str | None = None) -> list[ValueRow]:
        """A subject's values, oldest first."""
        if field is None:
            rows = self._read(
                "reading the vault",
                "SELECT token, field, commitment, nonce, ciphertext, created_us FROM vault_values "
                "WHERE token = ? ORDER BY created_us, id",
                [token],
            )
        else:
            rows = self._read(
                "reading the vault",
                "SELECT token, field, commitment, nonce, ciphertext, created_us FROM vault_values "
                "WHERE token = ? AND field = ? ORDER BY created_us, id",
                [token, field],
            )
        return [_value_row(r) for r in rows]

    def value_by_commitment(self, commitment: str) -> ValueRow | None:
        """The value with this commitment."""
        rows = self._read(
            "reading the vault",
            "SELECT token, field, commitment, nonce, ciphertext, created_us FROM vault_values "
            "WHERE commitment = ? ORDER BY id LIMIT 1",
            [commitment],
        )
        return _value_row(rows[0]) if rows else None

    def erase(self, lookup: bytes, *, note_pending: bool = False) -> tuple[SubjectRow, int] | None:
        """Delete one subject's values and row (noting the erasure as pending, on request)."""
        with self._write("erasing from the vault") as conn:
            row = conn.execute(
                "SELECT lookup, token, wrapped_key, created_us FROM vault_subjects "
                "WHERE lookup = ?",
                (lookup,),
            ).fetchone()
            if row is None:
                return None
            subject = _subject_row(row)
            cur = conn.execute("DELETE FROM vault_values WHERE token = ?", (subject.token,))
            count = int(cur.rowcount)
            conn.execute("DELETE FROM vault_subjects WHERE lookup = ?", (lookup,))
            if note_pending:
                conn.execute(
                    "INSERT OR REPLACE INTO vault_pending_erasures "
                    "(lookup, token, records, erased_us) VALUES (?, ?, ?, ?)",
                    (lookup, subject.token, count, int(time.time() * 1_000_000)),
                )
        return subject, count

    def pending_erasure(self, lookup: bytes) -> tuple[str, int, int] | None:
        """A noted erasure whose audit entry is not written yet."""
        rows = self._read(
            "reading pending erasures",
            "SELECT token, records, erased_us FROM vault_pending_erasures WHERE lookup = ?",
            [lookup],
        )
        return (str(rows[0][0]), int(rows[0][1]), int(rows[0][2])) if rows else None

    def finish_erasure(self, lookup: bytes) -> None:
        """Forget a pending erasure."""
        with self._write("finishing an erasure") as conn:
            conn.execute("DELETE FROM vault_pending_erasures WHERE lookup = ?", (lookup,))

    def expire(self, before_us: int) -> tuple[int, int]:
        """Delete values and then empty subjects created before ``before_us``."""
        with self._write("expiring vault records") as conn:
            values = conn.execute(
                "DELETE FROM vault_values WHERE created_us < ?", (before_us,)
            ).rowcount
            subjects = conn.execute(
                "DELETE FROM vault_subjects WHERE COALESCE(used_us, created_us) < ? AND NOT "
                "EXISTS (SELECT 1 FROM vault_values v WHERE v.token = vault_subjects.token)",
                (before_us,),
            ).rowcount
        return int(values), int(subjects)

    def scrub(self, timeout: float) -> bool:
        """Copy every committed page into the main file and truncate the WAL to zero bytes.

        With ``secure_delete`` the deleted rows are zeros in the newest page images; the WAL
        still holds older images until it is checkpointed and truncated. False when readers
        kept the WAL busy until ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while True:
            wait_ms = max(int((deadline - time.monotonic()) * 1000), 0)
            with self._lock:
                conn = self._c()
                try:
                    # The busy handler waits for readers; bound it by what is left of timeout.
                    conn.execute(f"PRAGMA busy_timeout = {wait_ms}")
                    busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                except sqlite3.Error as exc:
                    raise self._error(exc, "checkpointing the WAL") from None
                finally:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            if not busy:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()


def _rollback(conn: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        if conn.in_transaction:
            conn.execute("ROLLBACK")


# --- the vault ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VaultRef:
    """What a leaf carries for one stored value: its commitment and the subject's token."""

    commitment: str
    """``c:…`` — goes in the leaf (e.g. a decision's ``input``)."""
    token: str
    """``tok:…`` — goes in the leaf (a decision's ``subject``)."""
    field: str
    """The field name it was stored under."""


@dataclass(frozen=True)
class VaultValue:
    """One opened vault value: the raw value, its salt and its (re-verified) commitment."""

    field: str
    value: Value
    salt: bytes
    commitment: str
    token: str
    created_at: datetime

    @property
    def value_bytes(self) -> bytes:
        """The exact bytes the commitment binds."""
        return encode_value(self.value)[1]

    def disclosure(self) -> dict[str, str]:
        """What to hand one auditor to open this commitment (and nothing else): JSON-ready.

        ``value`` and ``salt`` are standard base64; the auditor checks
        ``commitment == "c:" + base64url(SHA-256("monday.commit/v1\\0" ‖ salt ‖ value))``.
        """
        return {
            "v": "monday.vault.disclosure/v1",
            "field": self.field,
            "subject": self.token,
            "commitment": self.commitment,
            "salt": base64.b64encode(self.salt).decode("ascii"),
            "value": base64.b64encode(self.value_bytes).decode("ascii"),
        }


def _iso(us: int) -> str:
    seconds, micro = divmod(us, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micro:06d}Z"


@dataclass(frozen=True)
class ErasureReceipt:
    """What :meth:`Vault.erase` destroyed: counts and the subject's token, no personal data."""

    subject: str
    """The erased subject's token (``tok:…``), as it appears in leaves."""
    records: int
    """Vault values (raw value + salt) deleted."""
    keys: int
    """Data keys destroyed (1: the subject's)."""
    erased_at: str
    """When, ISO 8601 UTC with microseconds."""
    scrubbed: bool
    """True when the WAL was checkpointed and truncated, so no old page image survives.
    False when other readers kept it busy: call :meth:`Vault.scrub` again."""

    def payload(
        self, *, legal_basis_ref: str | None = None, scope: str = "all"
    ) -> dict[str, str | int]:
        """The payload of the ``erasure`` audit entry (kind ``erasure``): ints and strings.

        ``legal_basis_ref`` is a ticket or request id, never the request's content.
        """
        out: dict[str, str | int] = {
            "subject": self.subject,
            "scope": scope,
            "records": self.records,
        }
        if legal_basis_ref is not None:
            out["legal_basis_ref"] = legal_basis_ref
        return out


_TOUCH_EVERY_US = 86_400 * 1_000_000
"""A subject's last use is written at most once a day (retention periods are months)."""


@dataclass(frozen=True)
class ExpiryReceipt:
    """What :meth:`Vault.expire` removed for retention."""

    before: str
    """The cut-off, ISO 8601 UTC: everything created earlier was removed."""
    records: int
    """Vault values deleted."""
    subjects: int
    """Subjects (and their data keys) deleted: nothing of theirs left, and not used since the
    cut-off."""
    scrubbed: bool
    """True when the WAL was truncated afterwards."""


class Vault:
    """Per-subject encrypted storage of raw values, with commitments and tokens for leaves.

    Open it with :meth:`open`; it is safe to share between threads.
    """

    def __init__(
        self,
        store: VaultStore,
        master: MasterKey,
        *,
        clock: Callable[[], float] = time.time,
        scrub_timeout: float = 10.0,
    ) -> None:
        self.store = store
        self._kek = master._kek()
        self._clock = clock
        self.scrub_timeout = scrub_timeout
        self.key_id = master.key_id
        self._lookup_key = self._init(master)

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        db_path: Path | str,
        master_key_ref: str,
        base_dir: Path | str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        strict_permissions: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> Vault:
        """Open the vault in the SQLite file ``db_path`` (relative to ``base_dir``).

        ``master_key_ref`` is ``file:PATH`` or ``env:VAR``. The first open creates the vault
        tables and binds the vault to that master key; a different key later raises
        :class:`VaultKeyMismatch`.
        """
        master = load_master_key(
            master_key_ref,
            base_dir=base_dir,
            environ=environ,
            strict_permissions=strict_permissions,
        )
        if isinstance(db_path, str) and "://" in db_path:
            raise InputError(
                "Vault.open takes the SQLite file path, not a store URL",
                hint="resolve sqlite:///… with the store's sqlite_path_from_url first",
            )
        path = Path(db_path)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        store = SQLiteVaultStore(path)
        try:
            return cls(store, master, clock=clock)
        except BaseException:
            store.close()
            raise

    def _init(self, master: MasterKey) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        fresh = secrets.token_bytes(32)
        wrapped = nonce + self._kek.encrypt(nonce, fresh, _FORMAT + b" lookup-key")
        stored = self.store.init_meta(
            {
                "format": _FORMAT,
                "master_key_id": master.key_id.encode("ascii"),
                "lookup_key": wrapped,
            }
        )
        if stored["format"] != _FORMAT:
            raise VaultCorrupt("the vault tables hold an unknown format")
        recorded = stored["master_key_id"].decode("ascii", "replace")
        if recorded != master.key_id:
            raise VaultKeyMismatch(
                f"the vault master key (id {master.key_id}) is not the key this vault was "
                f"created with (id {recorded})",
                hint="load the vault's own master key; a new key cannot open existing records",
            )
        blob = stored["lookup_key"]
        try:
            return self._kek.decrypt(blob[:_NONCE], blob[_NONCE:], _FORMAT + b" lookup-key")
        except InvalidTag:
            raise VaultCorrupt(
                "the vault's lookup key does not decrypt under the master key that matches its id",
                hint="the vault_meta table was altered",
            ) from None

    # -- internals -------------------------------------------------------------------------

    def _now_us(self) -> int:
        return int(self._clock() * 1_000_000)

    def _lookup(self, subject: str) -> bytes:
        if not isinstance(subject, str) or not subject:
            raise InputError("a subject id must be a non-empty string")
        if len(subject) > _MAX_SUBJECT_CHARS:
            raise InputError(f"a subject id is at most {_MAX_SUBJECT_CHARS} characters")
        try:
            data = subject.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError("a subject id is not valid Unicode") from None
        return hmac.new(self._lookup_key, _FORMAT + b" subject\x00" + data, hashlib.sha256).digest()

    @staticmethod
    def _check_field(field: str) -> None:
        if not isinstance(field, str) or not _FIELD_RE.match(field):
            raise InputError(
                "a vault field name is a letter then up to 63 letters, digits or _ . : -",
                hint="field names are schema labels such as input or output, never data",
            )

    def _candidate(self, lookup: bytes) -> SubjectRow:
        token = TOKEN_PREFIX + _b64url(secrets.token_bytes(16))
        dek = secrets.token_bytes(32)
        nonce = secrets.token_bytes(_NONCE)
        wrapped = nonce + self._kek.encrypt(nonce, dek, _FORMAT + b" dek\x00" + token.encode())
        return SubjectRow(lookup, token, wrapped, self._now_us())

    def _dek(self, subject: SubjectRow) -> AESGCM:
        blob = subject.wrapped_key
        try:
            raw = self._kek.decrypt(
                blob[:_NONCE], blob[_NONCE:], _FORMAT + b" dek\x00" + subject.token.encode()
            )
        except InvalidTag:
            raise VaultCorrupt(
                f"the data key of subject {subject.token} does not decrypt",
                hint="the vault_subjects row was altered or moved",
            ) from None
        return AESGCM(raw)

    @staticmethod
    def _aad(token: str, field: str, commitment: str) -> bytes:
        return b"\x00".join(
            (_FORMAT + b" value", token.encode(), field.encode(), commitment.encode())
        )

    def _seal(self, subject: SubjectRow, items: Mapping[str, Value], now: int) -> list[ValueRow]:
        dek = self._dek(subject)
        rows: list[ValueRow] = []
        for field, value in items.items():
            tag, body = encode_value(value)
            salt = secrets.token_bytes(SALT_BYTES)
            commitment = commitment_of(body, salt)
            nonce = secrets.token_bytes(_NONCE)
            plain = bytes([_RECORD_VERSION]) + salt + bytes([tag]) + body
            sealed = dek.encrypt(nonce, plain, self._aad(subject.token, field, commitment))
            rows.append(ValueRow(subject.token, field, commitment, nonce, sealed, now))
        return rows

    def _unseal(self, subject: SubjectRow, row: ValueRow, dek: AESGCM) -> VaultValue:
        try:
            plain = dek.decrypt(
                row.nonce, row.ciphertext, self._aad(row.token, row.field, row.commitment)
            )
        except InvalidTag:
            raise VaultCorrupt(
                f"a vault record of subject {subject.token} (field {row.field}) does not decrypt",
                hint="the vault_values row was altered",
            ) from None
        if len(plain) < 2 + SALT_BYTES or plain[0] != _RECORD_VERSION:
            raise VaultCorrupt(f"a vault record of subject {subject.token} has an unknown layout")
        salt, tag, body = plain[1 : 1 + SALT_BYTES], plain[1 + SALT_BYTES], plain[2 + SALT_BYTES :]
        if not hmac.compare_digest(commitment_of(body, salt), row.commitment):
            raise VaultCorrupt(
                f"a vault record of subject {subject.token} does not match its commitment"
            )
        try:
            value = _decode_value(tag, body)
        except (UnicodeDecodeError, ValueError):
            raise VaultCorrupt(
                f"a vault record of subject {subject.token} does not decode"
            ) from None
        created = datetime.fromtimestamp(row.created_us / 1_000_000, UTC)
        return VaultValue(row.field, value, salt, row.commitment, row.token, created)

    # -- public API ------------------------------------------------------------------------

    def token(self, subject: str, *, create: bool = True) -> str | None:
        """The subject's token (``tok:…``), assigned on first use unless ``create`` is False."""
        lookup = self._lookup(subject)
        found = self.store.subject(lookup)
        if found is not None:
            # in use: retention must not expire the mapping of someone still being decided on
            self.store.touch(lookup, self._now_us(), _TOUCH_EVERY_US)
            return found.token
        if not create:
            return None
        made = self.store.put(self._candidate(lookup), lambda _s: ())
        return None if made is None else made.token

    def put(self, subject: str, field: str, value: Value) -> VaultRef:
        """Store one raw value of ``subject``; return the commitment and token for the leaf."""
        return self.put_many(subject, {field: value})[field]

    def put_many(self, subject: str, values: Mapping[str, Value]) -> dict[str, VaultRef]:
        """Store several fields of one subject in one transaction (e.g. input and output)."""
        if not values:
            raise InputError("put_many needs at least one field")
        for field in values:
            self._check_field(field)
        for value in values.values():
            encode_value(value)  # refuse bad values before anything is written
        lookup = self._lookup(subject)
        now = self._now_us()
        rows: list[ValueRow] = []

        def build(s: SubjectRow) -> list[ValueRow]:
            rows[:] = self._seal(s, values, now)
            return rows

        stored = self.store.put(self._candidate(lookup), build)
        assert stored is not None
        return {r.field: VaultRef(r.commitment, r.token, r.field) for r in rows}

    def get(self, subject: str, field: str) -> list[VaultValue]:
        """Every value stored for ``subject`` under ``field``, oldest first (empty if none)."""
        self._check_field(field)
        found = self.store.subject(self._lookup(subject))
        if found is None:
            return []
        dek = self._dek(found)
        return [self._unseal(found, row, dek) for row in self.store.values(found.token, field)]

    def opening(self, commitment: str) -> VaultValue:
        """The value behind a leaf's commitment (for a disclosure); :class:`UnknownRecord`
        when the vault no longer holds it (erased or expired)."""
        if not isinstance(commitment, str) or not _COMMITMENT_RE.match(commitment):
            raise InputError("not a commitment (c: then 43 base64url characters)")
        row = self.store.value_by_commitment(commitment)
        subject = None if row is None else self.store.subject_by_token(row.token)
        if row is None or subject is None:
            raise UnknownRecord(
                f"the vault holds no value for commitment {commitment}",
                hint="it was erased or expired, or was never stored in this vault",
            )
        return self._unseal(subject, row, self._dek(subject))

    def erase(self, subject: str, *, owe_entry: bool = False) -> ErasureReceipt:
        """Destroy the subject's data key and delete every value of theirs, then scrub the WAL.

        Raises :class:`UnknownSubject` when the vault holds nothing for the subject (never
        stored, already erased, or expired): there is no token to record, so no ``erasure``
        entry should be written. The message never repeats the subject id.

        With ``owe_entry`` (the audit log's erasure) the erasure is noted as owing its log
        entry until :meth:`finish_erasure`; erasing the subject again meanwhile returns that
        erasure's receipt, so a failed entry can be written by trying again.
        """
        lookup = self._lookup(subject)
        found = self.store.erase(lookup, note_pending=owe_entry)
        if found is None:
            pending = self.store.pending_erasure(lookup) if owe_entry else None
            if pending is None:
                raise UnknownSubject(
                    "the vault holds nothing for this subject (never stored, already erased, "
                    "or expired)",
                    hint="nothing was erased and no erasure entry is needed",
                )
            token, count, erased_us = pending  # destroyed before; its entry is still owed
            return ErasureReceipt(token, count, 1, _iso(erased_us), self.scrub())
        row, count = found
        scrubbed = self.store.scrub(self.scrub_timeout)
        if not scrubbed:  # the receipt says so; AuditLog.erase raises ErasureNotScrubbed
            log.info("vault erasure committed; the WAL still holds old pages (a reader is open)")
        log.info("vault: erased %d record(s) and 1 data key", count)
        return ErasureReceipt(row.token, count, 1, _iso(self._now_us()), scrubbed)

    def finish_erasure(self, subject: str) -> None:
        """The subject's erasure is recorded in the log: forget that it was pending."""
        self.store.finish_erasure(self._lookup(subject))

    def expire(self, before: datetime) -> ExpiryReceipt:
        """Retention: delete values created before ``before`` (timezone-aware), and subjects
        (with their keys) not used since it that have nothing left; then scrub the WAL."""
        if not isinstance(before, datetime) or before.tzinfo is None:
            raise InputError("expire() needs a timezone-aware datetime (e.g. in UTC)")
        cutoff = int(before.timestamp() * 1_000_000)
        records, subjects = self.store.expire(cutoff)
        scrubbed = self.store.scrub(self.scrub_timeout)
        log.info("vault: expired %d record(s) and %d subject(s)", records, subjects)
        return ExpiryReceipt(_iso(cutoff), records, subjects, scrubbed)

    def scrub(self, timeout: float | None = None) -> bool:
        """Checkpoint and truncate the WAL again (after an erasure reported ``scrubbed=False``)."""
        return self.store.scrub(self.scrub_timeout if timeout is None else timeout)

    def close(self) -> None:
        """Close the vault's connection."""
        self.store.close()

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
