"""C2SP checkpoints (c2sp.org/tlog-checkpoint): a log's signed tree head as a signed note.

The note text is the origin line, the tree size in decimal (no leading zeros), the base64 root
hash, then optional extension lines (Monday never writes them; they are parsed and kept).
The log signs with an Ed25519 key whose name is the origin; witnesses add ``cosignature/v1``
lines.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mondaytest.audit.merkle import EMPTY_ROOT, HASH_SIZE
from mondaytest.audit.note import (
    MAX_SIGNATURES,
    SIG_COSIGNATURE_V1,
    NoteError,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    SignatureError,
    b64decode_strict,
    check_note_text,
    open_note,
    sign_note,
    split_note,
)
from mondaytest.errors import CheckFailed

__all__ = [
    "MAX_TREE_SIZE",
    "Checkpoint",
    "CheckpointError",
    "OriginMismatch",
    "carry_cosignatures",
    "open_checkpoint",
    "parse_checkpoint",
    "peek_checkpoint",
    "sign_checkpoint",
]

MAX_TREE_SIZE = 2**64 - 1
"""Largest tree size a checkpoint may state (uint64)."""


class CheckpointError(NoteError):
    """A checkpoint body is malformed (exit 2)."""


class OriginMismatch(CheckFailed):
    """A checkpoint is for another log than the one expected (exit 1)."""


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: ``origin``, ``size`` and ``root``, plus opaque ``extensions`` lines.

    ``signatures`` (verified, log and witness) and ``note`` (the signed note bytes) are set
    by :func:`open_checkpoint`; they do not take part in equality.
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()
    signatures: tuple[NoteSignature, ...] = field(default=(), compare=False, repr=False)
    note: bytes | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin:
            raise CheckpointError("checkpoint origin is empty")
        if any(ord(c) < 0x20 for c in self.origin):
            raise CheckpointError("checkpoint origin contains a newline or control character")
        if (
            isinstance(self.size, bool)
            or not isinstance(self.size, int)
            or not 0 <= self.size <= MAX_TREE_SIZE
        ):
            raise CheckpointError(f"checkpoint size {self.size!r} is not a uint64")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise CheckpointError(f"checkpoint root hash must be {HASH_SIZE} bytes")
        if self.size == 0 and self.root != EMPTY_ROOT:
            # RFC 9162 §2.1.1: the hash of an empty list is the hash of an empty string
            raise CheckpointError(
                "a checkpoint of size 0 must carry the empty tree's root, SHA-256 of nothing "
                "(RFC 9162 §2.1.1)"
            )
        for line in self.extensions:
            if not line or any(ord(c) < 0x20 for c in line):
                raise CheckpointError("checkpoint extension lines must be non-empty single lines")

    def body(self) -> str:
        """The note text: origin, size, base64 root, extension lines; newline-terminated."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii")]
        return "\n".join([*lines, *self.extensions]) + "\n"

    @property
    def log_signatures(self) -> tuple[NoteSignature, ...]:
        """Verified signatures that are not witness cosignatures."""
        return tuple(s for s in self.signatures if s.sig_type != SIG_COSIGNATURE_V1)

    @property
    def cosignatures(self) -> tuple[NoteSignature, ...]:
        """Verified ``cosignature/v1`` witness signatures (each with its ``timestamp``)."""
        return tuple(s for s in self.signatures if s.sig_type == SIG_COSIGNATURE_V1)


def _parse_size(text: str) -> int:
    if not text or not text.isascii() or not text.isdigit():
        raise CheckpointError(f"checkpoint size {text!r} is not a decimal number")
    if len(text) > 1 and text[0] == "0":
        raise CheckpointError(f"checkpoint size {text!r} has leading zeros")
    if len(text) > 20 or int(text) > MAX_TREE_SIZE:
        raise CheckpointError(f"checkpoint size {text!r} does not fit in 64 bits")
    return int(text)


def parse_checkpoint(text: str | bytes) -> Checkpoint:
    """Parse a checkpoint body (the note text, without signatures). Strict about every line.

    Raises :class:`CheckpointError`.
    """
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError("checkpoint is not valid UTF-8") from None
    try:
        check_note_text(text)
    except NoteError as exc:
        raise CheckpointError(f"checkpoint: {exc.message}") from None
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(
            f"checkpoint has {len(lines)} lines; it needs origin, size and root hash"
        )
    origin, size, root_b64, *extensions = lines
    if not origin:
        raise CheckpointError("checkpoint origin line is empty")
    try:
        root = b64decode_strict(root_b64, "checkpoint root hash")
    except NoteError as exc:
        raise CheckpointError(exc.message) from None
    if len(root) != HASH_SIZE:
        raise CheckpointError(f"checkpoint root hash is {len(root)} bytes, not {HASH_SIZE}")
    for number, line in enumerate(extensions, 4):
        if not line:
            raise CheckpointError(f"checkpoint line {number} is empty")
    return Checkpoint(origin, _parse_size(size), root, tuple(extensions))


def sign_checkpoint(cp: Checkpoint, signers: Sequence[NoteSigner]) -> bytes:
    """The signed note of ``cp`` (log key first, then any cosigners)."""
    return sign_note(cp.body(), signers)


def peek_checkpoint(note: bytes) -> Checkpoint:
    """Parse a signed checkpoint note WITHOUT verifying any signature (for display, routing).

    Never trust the result; use :func:`open_checkpoint` for that.
    """
    text, sigs = split_note(note)
    cp = parse_checkpoint(text)
    return Checkpoint(cp.origin, cp.size, cp.root, cp.extensions, tuple(sigs), bytes(note))


def open_checkpoint(
    note_bytes: bytes, verifiers: Iterable[NoteVerifier], *, origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint and return it with its verified signatures.

    The note must verify under :func:`~mondaytest.audit.note.open_note`'s rules and carry a
    valid log signature: a trusted non-cosignature key whose name is the checkpoint's origin.
    With ``origin``, the checkpoint must be for that log (:class:`OriginMismatch` otherwise).
    Witness quorum policy is left to the caller (see :attr:`Checkpoint.cosignatures`).
    """
    opened = open_note(note_bytes, verifiers)
    cp = parse_checkpoint(opened.text)
    if origin is not None and cp.origin != origin:
        raise OriginMismatch(
            f"checkpoint is for log {cp.origin!r}, expected {origin!r}",
            hint="check the log origin configured for this verifier",
        )
    log_sigs = [
        s for s in opened.signatures if s.sig_type != SIG_COSIGNATURE_V1 and s.name == cp.origin
    ]
    if not log_sigs:
        names = ", ".join(sorted({s.name for s in opened.signatures}))
        raise SignatureError(
            f"checkpoint for {cp.origin!r} carries no valid signature by the log's own key",
            hint=f"only {names} verified; trust the log's vkey (named after its origin)",
        )
    return Checkpoint(
        cp.origin, cp.size, cp.root, cp.extensions, opened.signatures, bytes(note_bytes)
    )


def carry_cosignatures(note: bytes, previous: bytes) -> bytes:
    """``note`` with the witness cosignatures of ``previous`` appended, when both sign the same
    checkpoint text (the log re-signed a checkpoint at the same size and root).

    A cosignature signs the checkpoint text, so it holds on every note of that text: without
    this, re-publishing an unchanged checkpoint would drop the cosignatures collected for it.
    Lines named after the origin (the log's own keys, current or retired) and lines by keys that
    already signed ``note`` are not carried. Nothing is verified here (whoever reads the note
    verifies it). ``note`` is returned unchanged when the texts differ or a note is malformed.
    """
    try:
        text, sigs = split_note(note)
        old_text, old_sigs = split_note(previous)
        origin = parse_checkpoint(text).origin
    except NoteError:
        return note
    if text != old_text:
        return note
    taken = {(s.name, s.key_id) for s in sigs}
    carried: list[NoteSignature] = []
    for sig in old_sigs:
        slot = (sig.name, sig.key_id)
        if sig.name == origin or slot in taken:
            continue
        taken.add(slot)
        carried.append(sig)
    carried = carried[: max(0, MAX_SIGNATURES - len(sigs))]
    if not carried:
        return note
    return bytes(note) + "".join(s.line() for s in carried).encode("utf-8")
