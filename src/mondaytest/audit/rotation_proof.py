"""Signatures that bind a ``key_rotation`` entry to both of its keys.

A rotation entry extends trust: a verifier that trusts the old key comes to trust the new one,
and the other way round. Being in the log is not enough for that, because anyone who can write
to the store can append an entry. So ``monday audit rotate-key`` has both keys sign one
statement: the old key vouches for the new one, and the new key shows that its holder made the
entry. :func:`verified_rotation` checks both signatures. A rotation entry without them is never
followed, and ``fsck`` reports it.

The signed statement starts with a NUL byte. Signed notes cannot contain one (c2sp.org/signed-note
allows no control characters except newline), so a rotation signature can never be taken for a
checkpoint signature by the same key, and a checkpoint signature never for a rotation.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mondaytest.audit.entries import EntryFormatError, decode_entry
from mondaytest.audit.note import Ed25519Signer, Ed25519Verifier, parse_vkey
from mondaytest.audit.store.interface import AuditStore
from mondaytest.errors import MondayError

__all__ = [
    "ROTATION_CONTEXT",
    "RotationEntry",
    "rotation_entries",
    "rotation_statement",
    "sign_rotation",
    "verified_rotation",
]

ROTATION_CONTEXT = b"\x00monday.audit/key-rotation/v1\n"
"""The first line of every rotation statement (domain separation from signed notes)."""


def rotation_statement(origin: str, phase: str, old_vkey: str, new_vkey: str) -> bytes:
    """The bytes both keys sign: the context line, the log's origin, the phase, the two vkeys."""
    return ROTATION_CONTEXT + f"{origin}\n{phase}\n{old_vkey}\n{new_vkey}\n".encode()


def sign_rotation(
    origin: str, phase: str, old: Ed25519Signer, new: Ed25519Signer
) -> dict[str, str]:
    """The ``old_sig`` and ``new_sig`` payload fields of a rotation from ``old`` to ``new``."""
    text = rotation_statement(origin, phase, old.vkey, new.vkey)
    return {
        "old_sig": base64.b64encode(old.sign(text)).decode(),
        "new_sig": base64.b64encode(new.sign(text)).decode(),
    }


def verified_rotation(
    origin: str, payload: Mapping[str, object]
) -> tuple[Ed25519Verifier, Ed25519Verifier] | None:
    """The old and new keys of a ``key_rotation`` payload whose two signatures verify, or None
    (a field missing or malformed, a key that is not an Ed25519 log key, a bad signature)."""
    phase, old_vkey, new_vkey = (payload.get(k) for k in ("phase", "old_vkey", "new_vkey"))
    sigs = (payload.get("old_sig"), payload.get("new_sig"))
    if not all(isinstance(v, str) for v in (phase, old_vkey, new_vkey, *sigs)):
        return None
    try:
        old, new = parse_vkey(str(old_vkey)), parse_vkey(str(new_vkey))
        raw = [base64.b64decode(str(s), validate=True) for s in sigs]
    except (MondayError, binascii.Error, ValueError):
        return None
    if type(old) is not Ed25519Verifier or type(new) is not Ed25519Verifier:
        return None
    text = rotation_statement(origin, str(phase), old.vkey, new.vkey)
    if old.vkey != old_vkey or new.vkey != new_vkey:
        return None  # only the exact vkey strings that were signed
    if not (old.verify(text, raw[0]) and new.verify(text, raw[1])):
        return None
    return old, new


@dataclass(frozen=True)
class RotationEntry:
    """One ``key_rotation`` entry of a log, as read back."""

    idx: int
    """Its index."""
    payload: dict[str, Any]
    """Its payload."""
    keys: tuple[Ed25519Verifier, Ed25519Verifier] | None
    """The old and new keys when both signatures verify (:func:`verified_rotation`)."""


def rotation_entries(
    store: AuditStore, origin: str | None = None, *, limit: int = 100_000
) -> Iterator[RotationEntry]:
    """The log's ``key_rotation`` entries, newest first (through the store's kind index), each
    with its keys when its signatures verify. Entries whose bytes do not decode are skipped:
    fsck reports those."""
    origin = origin or store.origin()
    if origin is None:  # an empty store
        return
    for row in store.search(kind="key_rotation", limit=limit):
        try:
            payload = dict(decode_entry(row.body, full_check=False).payload)
        except EntryFormatError:
            continue
        yield RotationEntry(row.idx, payload, verified_rotation(origin, payload))
