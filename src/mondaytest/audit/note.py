"""C2SP signed notes (c2sp.org/signed-note) with Ed25519, and ``cosignature/v1`` witnesses.

A note is UTF-8 text ending in a newline, a blank line, then one or more signature lines
``— <key name> base64(key ID ‖ signature)``. Verifiers are configured with (name, public key);
the 4-byte key ID is only a hint. Opening a note ignores signatures from unknown keys, rejects
the note if a known key's signature fails, and requires at least one known signature.

Two signature types are supported, as the rest of Monday needs:

- ``0x01`` Ed25519 over the note text (a log's checkpoint signature);
- ``0x04`` ``cosignature/v1`` from c2sp.org/tlog-cosignature: a witness's Ed25519 signature
  over ``"cosignature/v1\\n" "time <unix seconds>\\n" <note text>``, carried as
  ``u64 big-endian timestamp ‖ 64-byte signature``.

Keys are written as C2SP *vkeys* (``name+hexkeyid+base64(type ‖ public key)``) and, for the
private half, as signer keys (``PRIVATE+KEY+name+hexkeyid+base64(type ‖ 32-byte seed)``, the
format of Go's ``golang.org/x/mod/sumdb/note``). Error messages never include private keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mondaytest.errors import CheckFailed, InputError

__all__ = [
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "SIG_COSIGNATURE_V1",
    "SIG_ED25519",
    "CosignatureSigner",
    "CosignatureVerifier",
    "Ed25519Signer",
    "Ed25519Verifier",
    "Note",
    "NoteError",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "SignatureError",
    "add_signatures",
    "b64decode_strict",
    "check_key_name",
    "check_note_text",
    "cosignature_message",
    "format_signer_key",
    "key_id",
    "open_note",
    "parse_signer_key",
    "parse_vkey",
    "sign_note",
    "split_note",
]

SIG_ED25519 = 0x01
"""Signature type byte of plain Ed25519 note signatures."""
SIG_COSIGNATURE_V1 = 0x04
"""Signature type byte of timestamped Ed25519 checkpoint cosignatures (``cosignature/v1``)."""

MAX_SIGNATURES = 100
"""Most signature lines a note may carry (the spec requires accepting at least 16)."""
MAX_NOTE_BYTES = 1 << 20
"""Largest note accepted, in bytes."""

_DASH = "\u2014"
_SIG_PREFIX = _DASH + " "
_COSIG_HEADER = b"cosignature/v1\n"
_MAX_TIMESTAMP = 2**63 - 1
_SIGNER_PREFIX = "PRIVATE+KEY+"
#: Said (never the text itself) when a secret signer key is given where a vkey belongs.
PRIVATE_KEY_MISUSE = "this is a private key; pass its vkey (or a file:PATH / env:VAR reference)"


class NoteError(InputError):
    """A note, signature line, vkey or signer key is malformed (exit 2)."""


class SignatureError(CheckFailed):
    """A signature does not verify, or no trusted key signed the note (exit 1)."""


# --- encodings ----------------------------------------------------------------------------


def b64decode_strict(text: str, what: str) -> bytes:
    """Decode standard, padded base64 (RFC 4648 §4) and insist on the canonical encoding."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise NoteError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def check_key_name(name: str) -> None:
    """Raise :class:`NoteError` unless ``name`` is a valid key name (non-empty, no spaces or +)."""
    if not isinstance(name, str) or not name:
        raise NoteError("key name is empty")
    for ch in name:
        if ch.isspace() or ch == "+" or ord(ch) < 0x20:
            raise NoteError(f"key name {name!r} contains a space, a '+' or a control character")


def check_note_text(text: str) -> None:
    """Raise :class:`NoteError` unless ``text`` can be the text of a signed note.

    It must end in a newline and contain no control character other than newline.
    """
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    for ch in text:
        if ord(ch) < 0x20 and ch != "\n":
            raise NoteError(f"note text contains the control character {ch!r}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError("note text is not encodable as UTF-8") from None


def key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    """The 4-byte key ID: ``SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]``."""
    data = name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key
    return hashlib.sha256(data).digest()[:4]


def cosignature_message(text: bytes, timestamp: int) -> bytes:
    """The message a ``cosignature/v1`` signs over a note's text at ``timestamp``."""
    return _COSIG_HEADER + b"time %d\n" % timestamp + text


# --- protocols ----------------------------------------------------------------------------


class NoteVerifier(Protocol):
    """A trusted public key: its name, key ID and signature type, and a check."""

    @property
    def name(self) -> str:
        """Key name, as in signature lines."""
        ...

    @property
    def key_id(self) -> bytes:
        """4-byte key ID."""
        ...

    @property
    def sig_type(self) -> int:
        """Signature type byte."""
        ...

    def verify(self, text: bytes, signature: bytes) -> bool:
        """True when ``signature`` (without the key ID) is valid over the note ``text``."""
        ...


class NoteSigner(Protocol):
    """A private key that signs note text."""

    @property
    def name(self) -> str:
        """Key name, as in signature lines."""
        ...

    @property
    def key_id(self) -> bytes:
        """4-byte key ID."""
        ...

    @property
    def sig_type(self) -> int:
        """Signature type byte."""
        ...

    def sign(self, text: bytes) -> bytes:
        """Signature over the note ``text`` (without the key ID)."""
        ...


# --- Ed25519 and cosignature keys ---------------------------------------------------------


def _public_key(raw: bytes, name: str) -> Ed25519PublicKey:
    if len(raw) != 32:
        raise NoteError(f"Ed25519 public key of {name!r} must be 32 bytes, got {len(raw)}")
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise NoteError(f"public key of {name!r} is not a valid Ed25519 key") from None


class Ed25519Verifier:
    """Verifies Ed25519 note signatures (type ``0x01``) by the key ``(name, public_key)``."""

    sig_type: int = SIG_ED25519

    def __init__(self, name: str, public_key: bytes) -> None:
        check_key_name(name)
        self._key = _public_key(bytes(public_key), name)
        self.name = name
        self.public_key = bytes(public_key)
        self.key_id = key_id(name, self.sig_type, self.public_key)

    @property
    def vkey(self) -> str:
        """The C2SP verifier key string."""
        return f"{self.name}+{self.key_id.hex()}+{_b64(bytes([self.sig_type]) + self.public_key)}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        """True when ``signature`` is this key's Ed25519 signature over ``text``."""
        if len(signature) != 64:
            return False
        try:
            self._key.verify(signature, text)
        except InvalidSignature:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, Ed25519Verifier)
            and (other.name, other.public_key) == (self.name, self.public_key)
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.name, self.public_key))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.vkey!r})"


class CosignatureVerifier(Ed25519Verifier):
    """Verifies ``cosignature/v1`` witness signatures (type ``0x04``)."""

    sig_type: int = SIG_COSIGNATURE_V1

    @staticmethod
    def timestamp(signature: bytes) -> int:
        """The cosignature's timestamp (seconds since the epoch); :class:`NoteError` if short."""
        if len(signature) != 72:
            raise NoteError(
                f"a cosignature is 72 bytes (timestamp and signature), got {len(signature)}"
            )
        return int.from_bytes(signature[:8], "big")

    def verify(self, text: bytes, signature: bytes) -> bool:
        """True when ``signature`` is a valid timestamped cosignature over the note ``text``."""
        if len(signature) != 72:
            return False
        ts = int.from_bytes(signature[:8], "big")
        if ts > _MAX_TIMESTAMP:
            return False
        try:
            self._key.verify(signature[8:], cosignature_message(text, ts))
        except InvalidSignature:
            return False
        return True


class Ed25519Signer:
    """An Ed25519 note signing key (type ``0x01``). Its ``repr`` never shows the secret."""

    sig_type: int = SIG_ED25519
    _verifier_class: type[Ed25519Verifier] = Ed25519Verifier

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        check_key_name(name)
        self.name = name
        self._key = private_key
        self.public_key = private_key.public_key().public_bytes_raw()
        self.key_id = key_id(name, self.sig_type, self.public_key)

    @classmethod
    def generate(cls, name: str) -> Self:
        """A fresh random key named ``name``."""
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> Self:
        """The key with the 32-byte RFC 8032 private ``seed``."""
        if len(seed) != 32:
            raise NoteError(f"an Ed25519 private key seed is 32 bytes, got {len(seed)}")
        return cls(name, Ed25519PrivateKey.from_private_bytes(seed))

    def verifier(self) -> Ed25519Verifier:
        """The matching verifier."""
        return self._verifier_class(self.name, self.public_key)

    @property
    def vkey(self) -> str:
        """The C2SP verifier key string of the public half."""
        return self.verifier().vkey

    def sign(self, text: bytes) -> bytes:
        """Ed25519 signature over ``text``."""
        return self._key.sign(text)

    def _seed(self) -> bytes:
        return self._key.private_bytes_raw()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, key_id={self.key_id.hex()})"


class CosignatureSigner(Ed25519Signer):
    """A witness key producing ``cosignature/v1`` signatures (type ``0x04``).

    ``clock`` returns the current time in seconds; it is read once per signature.
    """

    sig_type: int = SIG_COSIGNATURE_V1
    _verifier_class: type[Ed25519Verifier] = CosignatureVerifier

    def __init__(
        self, name: str, private_key: Ed25519PrivateKey, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(name, private_key)
        self.clock = clock

    def sign(self, text: bytes) -> bytes:
        """Timestamped cosignature over ``text`` at the clock's current time."""
        return self.sign_at(text, int(self.clock()))

    def sign_at(self, text: bytes, timestamp: int) -> bytes:
        """Timestamped cosignature over ``text`` at ``timestamp`` (seconds since the epoch)."""
        if not 0 <= timestamp <= _MAX_TIMESTAMP:
            raise NoteError(f"cosignature timestamp {timestamp} is out of range")
        sig = self._key.sign(cosignature_message(text, timestamp))
        return timestamp.to_bytes(8, "big") + sig


_VERIFIERS: dict[int, type[Ed25519Verifier]] = {
    SIG_ED25519: Ed25519Verifier,
    SIG_COSIGNATURE_V1: CosignatureVerifier,
}
_SIGNERS: dict[int, type[Ed25519Signer]] = {
    SIG_ED25519: Ed25519Signer,
    SIG_COSIGNATURE_V1: CosignatureSigner,
}


def _check_hex_id(text: str, what: str) -> bytes:
    if len(text) != 8 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise NoteError(f"{what} key ID must be 8 hex digits")
    return bytes.fromhex(text)


def parse_vkey(vkey: str) -> Ed25519Verifier:
    """Parse a C2SP verifier key ``name+hexkeyid+base64(type ‖ public key)``.

    Types ``0x01`` (Ed25519) and ``0x04`` (cosignature/v1) are supported; the key ID must
    match the key. Raises :class:`NoteError`.
    """
    if not isinstance(vkey, str):
        raise NoteError("verifier key must be a string")
    vkey = vkey.strip(" \t\r\n")  # ASCII white space only: no NBSP or other look-alikes
    if vkey.startswith(_SIGNER_PREFIX):
        raise NoteError(PRIVATE_KEY_MISUSE)
    parts = vkey.split("+", 2)  # base64 may contain "+"
    if len(parts) != 3:
        raise NoteError(
            "verifier key must have three '+'-separated parts: name+keyid+key",
            hint="a vkey looks like example.com/log+530d903a+AekyeRrm…",
        )
    name, hex_id, b64 = parts
    check_key_name(name)
    kid = _check_hex_id(hex_id, "verifier")
    raw = b64decode_strict(b64, "verifier key material")
    if not raw:
        raise NoteError("verifier key material is empty")
    cls = _VERIFIERS.get(raw[0])
    if cls is None:
        raise NoteError(
            f"verifier key type 0x{raw[0]:02x} is not supported",
            hint="Monday verifies Ed25519 (0x01) and cosignature/v1 (0x04) keys",
        )
    verifier = cls(name, raw[1:])
    if verifier.key_id != kid:
        raise NoteError(
            f"verifier key {name!r}: key ID {hex_id} does not match the key "
            f"(expected {verifier.key_id.hex()})"
        )
    return verifier


def format_signer_key(signer: Ed25519Signer) -> str:
    """The secret signer-key text ``PRIVATE+KEY+name+hexkeyid+base64(type ‖ seed)``.

    Treat the result as a secret: write it to a 0600 file, never log it.
    """
    material = bytes([signer.sig_type]) + signer._seed()
    return f"{_SIGNER_PREFIX}{signer.name}+{signer.key_id.hex()}+{_b64(material)}"


def parse_signer_key(text: str) -> Ed25519Signer:
    """Parse a signer key written by :func:`format_signer_key` (or Go's ``note.GenerateKey``).

    Raises :class:`NoteError` with a message that never repeats the key material.
    """
    if not isinstance(text, str):
        raise NoteError("signer key must be text")
    text = text.strip()
    if not text.startswith(_SIGNER_PREFIX):
        raise NoteError(
            "signer key must start with PRIVATE+KEY+",
            hint="generate one with `monday audit keygen`",
        )
    parts = text[len(_SIGNER_PREFIX) :].split("+", 2)
    if len(parts) != 3:
        raise NoteError("signer key must be PRIVATE+KEY+name+keyid+key")
    name, hex_id, b64 = parts
    check_key_name(name)
    kid = _check_hex_id(hex_id, "signer")
    try:
        raw = base64.b64decode(b64.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise NoteError("signer key material is not valid base64") from None
    if len(raw) != 33:
        raise NoteError("signer key material must be a type byte and a 32-byte seed")
    cls = _SIGNERS.get(raw[0])
    if cls is None:
        raise NoteError(f"signer key type 0x{raw[0]:02x} is not supported")
    signer = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
    if signer.key_id != kid:
        raise NoteError(f"signer key {name!r}: key ID {hex_id} does not match the key")
    return signer


# --- notes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, key ID and the signature bytes after the ID.

    ``sig_type`` and ``timestamp`` (cosignatures) are filled in once a known key verified it.
    """

    name: str
    key_id: bytes
    signature: bytes
    sig_type: int | None = None
    timestamp: int | None = None

    def line(self) -> str:
        """The signature line, with its final newline."""
        return f"{_SIG_PREFIX}{self.name} {_b64(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class Note:
    """An opened note: its text, the signatures verified, and those from unknown keys."""

    text: str
    signatures: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...] = ()

    def to_bytes(self) -> bytes:
        """The signed note again, verified signatures first."""
        lines = "".join(s.line() for s in (*self.signatures, *self.unverified))
        return (self.text + "\n" + lines).encode("utf-8")


def split_note(
    data: bytes, *, max_signatures: int = MAX_SIGNATURES
) -> tuple[str, list[NoteSignature]]:
    """Parse a signed note's structure without verifying anything.

    Returns the text (with its final newline) and the signature lines in order.
    Raises :class:`NoteError` for anything outside the format.
    """
    if not isinstance(data, bytes | bytearray):
        raise NoteError("a note must be bytes")
    if len(data) > MAX_NOTE_BYTES:
        raise NoteError(f"note is larger than {MAX_NOTE_BYTES} bytes")
    try:
        whole = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NoteError(f"note is not valid UTF-8 (byte {exc.start})") from None
    check_note_text(whole)
    split = whole.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    text, block = whole[: split + 1], whole[split + 2 :]
    if not block:
        raise NoteError("note has no signature lines")
    lines = block[:-1].split("\n")
    if len(lines) > max_signatures:
        raise NoteError(f"note has {len(lines)} signatures, more than {max_signatures}")
    sigs: list[NoteSignature] = []
    for number, line in enumerate(lines, 1):
        if not line.startswith(_SIG_PREFIX):
            raise NoteError(f"signature line {number} does not start with '— '")
        fields = line[len(_SIG_PREFIX) :].split(" ")
        if len(fields) != 2:
            raise NoteError(f"signature line {number} must be '— <key name> <base64>'")
        name, b64 = fields
        check_key_name(name)
        raw = b64decode_strict(b64, f"signature line {number}")
        if len(raw) < 5:
            raise NoteError(f"signature line {number} is too short for a key ID and a signature")
        sigs.append(NoteSignature(name, raw[:4], raw[4:]))
    return text, sigs


def _index_verifiers(verifiers: Iterable[NoteVerifier]) -> dict[tuple[str, bytes], NoteVerifier]:
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for v in verifiers:
        slot = (v.name, v.key_id)
        if slot in known and known[slot] != v:
            raise NoteError(
                f"two different trusted keys share name {v.name!r} and key ID {v.key_id.hex()}"
            )
        known[slot] = v
    return known


def open_note(
    data: bytes, verifiers: Iterable[NoteVerifier], *, max_signatures: int = MAX_SIGNATURES
) -> Note:
    """Parse and verify a signed note against trusted keys.

    Signatures from unknown keys (name and key ID not both matching a trusted key) are kept
    in :attr:`Note.unverified`. A known key's failing signature rejects the note, and so does
    the absence of any known signature (:class:`SignatureError`). A known key may sign once.
    """
    text, sigs = split_note(data, max_signatures=max_signatures)
    known = _index_verifiers(verifiers)
    msg = text.encode("utf-8")
    verified: list[NoteSignature] = []
    unknown: list[NoteSignature] = []
    seen: set[tuple[str, bytes]] = set()
    for sig in sigs:
        slot = (sig.name, sig.key_id)
        verifier = known.get(slot)
        if verifier is None:
            if sig not in unknown:
                unknown.append(sig)
            continue
        if slot in seen:
            raise NoteError(f"note carries two signatures by {sig.name} ({sig.key_id.hex()})")
        seen.add(slot)
        if not verifier.verify(msg, sig.signature):
            raise SignatureError(
                f"signature by {sig.name} ({sig.key_id.hex()}) does not verify",
                hint="the note was changed after signing, or signed with another key",
            )
        ts = None
        if verifier.sig_type == SIG_COSIGNATURE_V1:
            ts = int.from_bytes(sig.signature[:8], "big")
        verified.append(NoteSignature(sig.name, sig.key_id, sig.signature, verifier.sig_type, ts))
    if not verified:
        signed_by = ", ".join(sorted({f"{s.name} ({s.key_id.hex()})" for s in sigs}))
        trusted = ", ".join(sorted(f"{n} ({k.hex()})" for n, k in known)) or "none"
        raise SignatureError(
            "no signature from a trusted key",
            hint=f"signed by: {signed_by}; trusted: {trusted}",
        )
    return Note(text, tuple(verified), tuple(unknown))


def _signature_lines(
    text: str, signers: Sequence[NoteSigner], taken: set[tuple[str, bytes]]
) -> str:
    msg = text.encode("utf-8")
    out: list[str] = []
    for signer in signers:
        check_key_name(signer.name)
        slot = (signer.name, signer.key_id)
        if slot in taken:
            raise NoteError(f"note is already signed by {signer.name} ({signer.key_id.hex()})")
        taken.add(slot)
        out.append(NoteSignature(signer.name, signer.key_id, signer.sign(msg)).line())
    return "".join(out)


def sign_note(text: str | bytes, signers: Sequence[NoteSigner]) -> bytes:
    """Sign ``text`` with every signer; return the signed note bytes."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("note text is not valid UTF-8") from None
    check_note_text(text)
    if not signers:
        raise NoteError("a note needs at least one signer")
    if len(signers) > MAX_SIGNATURES:
        raise NoteError(f"a note may carry at most {MAX_SIGNATURES} signatures")
    return (text + "\n" + _signature_lines(text, signers, set())).encode("utf-8")


def add_signatures(note: bytes, signers: Sequence[NoteSigner]) -> bytes:
    """Append signatures (e.g. witness cosignatures) to an already signed note.

    Nothing is verified here; a key that already signed the note is refused.
    """
    text, sigs = split_note(note)
    if len(sigs) + len(signers) > MAX_SIGNATURES:
        raise NoteError(f"a note may carry at most {MAX_SIGNATURES} signatures")
    taken = {(s.name, s.key_id) for s in sigs}
    return bytes(note) + _signature_lines(text, signers, taken).encode("utf-8")
