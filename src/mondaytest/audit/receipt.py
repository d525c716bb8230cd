"""Receipts: C2SP ``tlog-proof`` files (c2sp.org/tlog-proof), offline proof an entry is logged.

Format (C2SP/C2SP ``tlog-proof.md`` at 5ba5ee8)::

    c2sp.org/tlog-proof@v1
    extra <base64>            (optional, opaque, NOT authenticated)
    index <decimal>
    <base64 hash>             (inclusion proof, the leaf's sibling first; zero or more lines)
    ...
                              (an empty line)
    <the signed checkpoint note, verbatim, with its log signature and any cosignatures>

Verifying needs the entry (or its leaf hash), which travels out of band, plus the log's vkey:
the checkpoint's signature is checked, then the inclusion of the leaf hash at ``index``
against the checkpoint's root. Witness quorum policy beyond a minimum count of valid
cosignatures is the caller's. Recommended file extension: ``.tlog-proof``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mondaytest.audit.checkpoint import MAX_TREE_SIZE, Checkpoint, open_checkpoint, peek_checkpoint
from mondaytest.audit.merkle import HASH_SIZE, ProofError, verify_inclusion
from mondaytest.audit.merkle import leaf_hash as hash_leaf
from mondaytest.audit.note import NoteError, NoteVerifier, b64decode_strict
from mondaytest.errors import CheckFailed, InputError

__all__ = [
    "FILE_EXTENSION",
    "HEADER",
    "MAX_PROOF_HASHES",
    "MAX_RECEIPT_BYTES",
    "Receipt",
    "ReceiptError",
    "VerifiedReceipt",
    "WitnessQuorumError",
    "build_receipt",
    "parse_receipt",
    "prove_entry",
    "verify_receipt",
]

HEADER = "c2sp.org/tlog-proof@v1"
"""First line of every receipt."""
FILE_EXTENSION = ".tlog-proof"
"""Recommended file extension."""
MAX_PROOF_HASHES = 64
"""Most inclusion-proof lines a receipt may hold (a tree of 2**64 leaves needs 64)."""
MAX_RECEIPT_BYTES = 1 << 20
"""Largest receipt accepted, in bytes."""


class ReceiptError(InputError):
    """A receipt is malformed (exit 2)."""


class WitnessQuorumError(CheckFailed):
    """Fewer valid witness cosignatures than required (exit 1)."""


@dataclass(frozen=True)
class Receipt:
    """A parsed (not yet verified) receipt."""

    index: int
    proof: tuple[bytes, ...]
    checkpoint: bytes
    """The signed checkpoint note, verbatim."""
    extra: bytes | None = None
    """Opaque application data; unauthenticated."""

    def to_bytes(self) -> bytes:
        """The receipt file's bytes."""
        lines = [HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode("ascii"))
        lines.append(f"index {self.index}")
        lines.extend(base64.b64encode(h).decode("ascii") for h in self.proof)
        return ("\n".join(lines) + "\n\n").encode("ascii") + self.checkpoint


@dataclass(frozen=True)
class VerifiedReceipt:
    """What a verified receipt proves: this leaf is at ``index`` in the signed ``checkpoint``."""

    index: int
    leaf_hash: bytes
    checkpoint: Checkpoint
    extra: bytes | None = None


def _check_structure(index: int, proof: Sequence[bytes]) -> None:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= MAX_TREE_SIZE:
        raise ReceiptError(f"receipt index {index!r} is not a uint64")
    if len(proof) > MAX_PROOF_HASHES:
        raise ReceiptError(f"inclusion proof has {len(proof)} hashes, more than {MAX_PROOF_HASHES}")
    for i, h in enumerate(proof):
        if not isinstance(h, bytes) or len(h) != HASH_SIZE:
            raise ReceiptError(f"inclusion proof hash {i} is not {HASH_SIZE} bytes")


def _leaf_hash_of(leaf: bytes | None, leaf_hash: bytes | None) -> bytes | None:
    if leaf is not None and leaf_hash is not None:
        raise InputError("give the entry or its leaf hash, not both")
    if leaf is not None:
        return hash_leaf(leaf)
    if leaf_hash is not None and len(leaf_hash) != HASH_SIZE:
        raise InputError(f"leaf hash must be {HASH_SIZE} bytes, got {len(leaf_hash)}")
    return leaf_hash


def build_receipt(
    index: int,
    proof: Sequence[bytes],
    checkpoint_note: bytes,
    *,
    leaf: bytes | None = None,
    leaf_hash: bytes | None = None,
    extra: bytes | None = None,
) -> bytes:
    """Assemble a receipt from an inclusion proof and the signed checkpoint it was made for.

    With ``leaf`` (the entry bytes) or ``leaf_hash``, the proof is checked against the
    checkpoint's root first, so a wrong receipt is never handed out (:class:`ProofError`).
    The checkpoint's signatures are not checked here (the caller signed it).
    """
    _check_structure(index, proof)
    try:
        cp = peek_checkpoint(checkpoint_note)
    except NoteError as exc:
        raise ReceiptError(f"receipt checkpoint: {exc.message}") from None
    if index >= cp.size:
        raise ReceiptError(f"index {index} is not covered by the checkpoint (size {cp.size})")
    expected = _leaf_hash_of(leaf, leaf_hash)
    if expected is not None:
        verify_inclusion(expected, index, cp.size, proof, cp.root)
    return Receipt(index, tuple(proof), bytes(checkpoint_note), extra).to_bytes()


def _parse_index(text: str) -> int:
    if not text or not text.isascii() or not text.isdigit():
        raise ReceiptError(f"receipt index {text!r} is not a decimal number")
    if len(text) > 1 and text[0] == "0":
        raise ReceiptError(f"receipt index {text!r} has leading zeros")
    if len(text) > 20 or int(text) > MAX_TREE_SIZE:
        raise ReceiptError(f"receipt index {text!r} does not fit in 64 bits")
    return int(text)


def _b64(text: str, what: str) -> bytes:
    try:
        return b64decode_strict(text, what)
    except NoteError as exc:
        raise ReceiptError(exc.message) from None


def parse_receipt(data: bytes) -> Receipt:
    """Parse a receipt strictly; raise :class:`ReceiptError` for anything off-format.

    The checkpoint part must be a well-formed signed checkpoint (not yet verified).
    """
    if not isinstance(data, bytes | bytearray):
        raise ReceiptError("a receipt must be bytes")
    data = bytes(data)
    if len(data) > MAX_RECEIPT_BYTES:
        raise ReceiptError(f"receipt is larger than {MAX_RECEIPT_BYTES} bytes")
    pos = 0

    def next_line() -> str:
        nonlocal pos
        end = data.find(b"\n", pos)
        if end < 0:
            raise ReceiptError("receipt ends before its checkpoint")
        raw = data[pos:end]
        pos = end + 1
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise ReceiptError("receipt header lines must be ASCII") from None

    first = next_line()
    if first != HEADER:
        if first.rstrip(" \t\r") == HEADER:
            shown = "a CR (\\r\\n line endings)" if first.endswith("\r") else "trailing spaces"
            raise ReceiptError(
                f"the receipt's first line ends in {shown}",
                hint="a tlog-proof's lines end in \\n alone: the file was changed after it was "
                "written (an editor or a transfer in text mode); use the original file",
            )
        raise ReceiptError(
            f"not a receipt: the first line must be {HEADER}",
            hint="receipts are C2SP tlog-proof files (.tlog-proof)",
        )
    line = next_line()
    extra: bytes | None = None
    if line.startswith("extra "):
        extra = _b64(line[len("extra ") :], "receipt extra data")
        line = next_line()
    if not line.startswith("index "):
        raise ReceiptError("receipt line 'index <n>' is missing")
    index = _parse_index(line[len("index ") :])
    proof: list[bytes] = []
    while (line := next_line()) != "":
        if len(proof) == MAX_PROOF_HASHES:
            raise ReceiptError(f"inclusion proof has more than {MAX_PROOF_HASHES} hashes")
        h = _b64(line, f"inclusion proof line {len(proof) + 1}")
        if len(h) != HASH_SIZE:
            raise ReceiptError(
                f"inclusion proof line {len(proof) + 1} is not a {HASH_SIZE}-byte hash"
            )
        proof.append(h)
    checkpoint = data[pos:]
    try:
        peek_checkpoint(checkpoint)
    except NoteError as exc:
        raise ReceiptError(f"receipt checkpoint: {exc.message}") from None
    return Receipt(index, tuple(proof), checkpoint, extra)


def verify_receipt(
    receipt: bytes | Receipt,
    verifiers: Iterable[NoteVerifier],
    *,
    leaf: bytes | None = None,
    leaf_hash: bytes | None = None,
    origin: str | None = None,
    min_cosignatures: int = 0,
) -> VerifiedReceipt:
    """Verify a receipt offline: checkpoint signature, witnesses, then inclusion.

    ``leaf`` is the logged entry's bytes (or give its ``leaf_hash``); ``verifiers`` are the
    trusted log key(s) and any witness keys; ``origin`` pins the log. Raises
    :class:`~mondaytest.audit.note.SignatureError`, :class:`WitnessQuorumError` or
    :class:`~mondaytest.audit.merkle.ProofError` (all exit 1) when something does not hold,
    :class:`ReceiptError` (exit 2) when the receipt is malformed.
    """
    r = receipt if isinstance(receipt, Receipt) else parse_receipt(receipt)
    expected = _leaf_hash_of(leaf, leaf_hash)
    if expected is None:
        raise InputError("verifying a receipt needs the logged entry (or its leaf hash)")
    cp = open_checkpoint(r.checkpoint, verifiers, origin=origin)
    if len(cp.cosignatures) < min_cosignatures:
        raise WitnessQuorumError(
            f"checkpoint has {len(cp.cosignatures)} valid witness cosignatures, "
            f"{min_cosignatures} required"
        )
    prove_entry(expected, r.index, cp.size, r.proof, cp.root)
    return VerifiedReceipt(r.index, expected, cp, r.extra)


def prove_entry(
    expected: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """:func:`~mondaytest.audit.merkle.verify_inclusion` of a receipt's entry, with a message
    for the one who holds the receipt: the entry's bytes or the proof changed."""
    try:
        verify_inclusion(expected, index, size, proof, root)
    except ProofError as exc:
        raise ProofError(
            f"entry {index} is not the one the log signed: its bytes and the receipt's "
            f"inclusion proof do not lead to the signed root of the tree of {size} (the entry "
            "was changed after it was logged, or the proof was)",
            hint="an entry file must hold the logged bytes exactly (no added newline); compare "
            "it with what `monday audit log` shows for that index",
        ) from exc
