"""The audit log's signing key: generate it, keep it in a 0600 file, load it, check it.

A key is stored as one line of C2SP signer-key text (``PRIVATE+KEY+name+keyid+base64``, see
:mod:`mondaytest.audit.note`). The spec points at it with a reference:

- ``file:PATH`` — a key file; a relative ``PATH`` is resolved against a base directory (the
  directory of ``monday.yaml``);
- ``env:VAR`` — the key text in an environment variable (for containers and CI secrets).

The public half (the *vkey*) goes in the spec; :func:`check_signer_matches` stops a writer that
loaded a different key. Nothing here prints or logs the private key.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mondaytest.audit.note import (
    PRIVATE_KEY_MISUSE,
    CosignatureSigner,
    Ed25519Signer,
    NoteError,
    format_signer_key,
    parse_signer_key,
    parse_vkey,
)
from mondaytest.errors import ConfigError, InputError, MondayError

__all__ = [
    "InsecureKeyFileWarning",
    "KeyFileError",
    "KeyMismatch",
    "KeyRef",
    "check_signer_matches",
    "generate_key_file",
    "generate_signer",
    "generate_witness_key_file",
    "key_file_problems",
    "load_signer",
    "load_witness_signer",
    "parse_key_ref",
    "read_secret",
    "vkey_of",
    "write_secret_file",
    "write_signer_key",
]


class KeyFileError(InputError):
    """A key cannot be loaded or written: missing, unreadable, malformed (exit 2)."""


class KeyMismatch(ConfigError):  # noqa: N818 - the name the other modules use
    """The loaded signing key is not the one whose vkey the spec records (exit 2)."""


class InsecureKeyFileWarning(UserWarning):
    """A private key file is readable or writable by other users."""


@dataclass(frozen=True)
class KeyRef:
    """A parsed key reference: a file path (already resolved) or an environment variable."""

    kind: Literal["file", "env"]
    target: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.target}"


def generate_signer(name: str) -> Ed25519Signer:
    """A fresh Ed25519 log key named ``name`` (use the log's origin)."""
    try:
        return Ed25519Signer.generate(name)
    except NoteError as exc:
        raise KeyFileError(f"cannot name a key {name!r}: {exc.message}") from None


def vkey_of(signer: Ed25519Signer) -> str:
    """The C2SP verifier key of ``signer`` (safe to publish)."""
    return signer.vkey


def parse_key_ref(ref: str, base_dir: Path | str | None = None) -> KeyRef:
    """Parse ``file:PATH`` or ``env:VAR``; a relative path is resolved against ``base_dir``."""
    if "PRIVATE+KEY+" in ref:  # a key pasted where its reference belongs, in any form
        # Never repeat the secret in an error message.
        raise KeyFileError(
            PRIVATE_KEY_MISUSE,
            hint="save it to a file (e.g. .monday/keys/audit.key) and pass file:PATH, "
            "or put it in an environment variable and pass env:VAR",
        )
    scheme, sep, target = ref.partition(":")
    if not sep or scheme not in ("file", "env") or not target:
        raise KeyFileError(
            f"key reference {ref!r} is not file:PATH or env:VAR",
            hint="e.g. key: file:.monday/keys/audit.key, or key: env:MONDAY_AUDIT_KEY",
        )
    if scheme == "env":
        return KeyRef("env", target)
    path = Path(target).expanduser()
    if not path.is_absolute():
        path = Path(base_dir if base_dir is not None else Path.cwd()) / path
    return KeyRef("file", str(path))


def key_file_problems(path: Path | str) -> list[str]:
    """What is unsafe about a key file: not a regular file, or open to group/others."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        return [f"cannot stat {p}: {exc.strerror}"]
    problems: list[str] = []
    if not stat.S_ISREG(st.st_mode):
        problems.append(f"{p} is not a regular file")
    if os.name == "posix" and st.st_mode & 0o077:
        problems.append(
            f"{p} has mode {stat.S_IMODE(st.st_mode):04o}; other users can access it "
            f"(run: chmod 600 {p})"
        )
    return problems


def _parse(text: str, source: str) -> Ed25519Signer:
    try:
        return parse_signer_key(text)
    except NoteError as exc:
        # The message never contains key material; name the source, not the content.
        raise KeyFileError(
            f"{source} does not hold a valid signing key: {exc.message}",
            hint=exc.hint or "generate one with `monday audit keygen`",
        ) from None


def load_signer(
    ref: str,
    *,
    base_dir: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    strict_permissions: bool = False,
) -> Ed25519Signer:
    """Load the signing key named by ``ref`` (``file:PATH`` or ``env:VAR``).

    A key file open to other users raises :class:`KeyFileError` with ``strict_permissions``,
    and otherwise emits an :class:`InsecureKeyFileWarning`.
    """
    text, source = read_secret(
        parse_key_ref(ref, base_dir),
        environ=environ,
        strict_permissions=strict_permissions,
        what="key file",
        error=KeyFileError,
        env_hint="set {var} to the content of a key file (PRIVATE+KEY+…)",
        missing_hint="for a new log, create it with `monday audit keygen`; for a log that "
        "already has entries, restore the key file from its backup (a new key cannot sign an "
        "existing log), or fix audit.key in monday.yaml",
    )
    return _parse(text, source)


def read_secret(
    key_ref: KeyRef,
    *,
    environ: Mapping[str, str] | None,
    strict_permissions: bool,
    what: str,
    error: type[MondayError],
    env_hint: str,
    missing_hint: str,
) -> tuple[str, str]:
    """The text behind a ``file:``/``env:`` reference and a description of where it came from.

    Shared by every secret Monday loads (log keys, the vault master key); ``error`` is the
    error class raised, ``what`` names the file in messages, and ``{var}`` in ``env_hint`` is
    replaced by the variable's name. The secret itself never appears in a message.
    """
    if key_ref.kind == "env":
        env = os.environ if environ is None else environ
        value = env.get(key_ref.target)
        if value is None or not value.strip():
            raise error(
                f"environment variable {key_ref.target} is not set or empty",
                hint=env_hint.format(var=key_ref.target),
            )
        return value, f"environment variable {key_ref.target}"
    path = Path(key_ref.target)
    if not path.exists():
        raise error(f"{what} {path} does not exist", hint=missing_hint)
    problems = key_file_problems(path)
    if problems:
        if strict_permissions:
            raise error(f"unsafe {what}: {'; '.join(problems)}")
        warnings.warn(f"unsafe {what}: {'; '.join(problems)}", InsecureKeyFileWarning, stacklevel=3)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise error(f"cannot read {what} {path}: {reason}") from None
    return text, f"{what} {path}"


def write_signer_key(path: Path | str, signer: Ed25519Signer, *, overwrite: bool = False) -> Path:
    """Write ``signer`` to ``path`` with mode 0600 (parent directories are created 0700).

    Refuses to replace an existing file unless ``overwrite`` (then the swap is atomic).
    """
    return write_secret_file(
        path,
        format_signer_key(signer) + "\n",
        overwrite=overwrite,
        what="key file",
        error=KeyFileError,
        exists_hint="remove it first, or use key rotation (`monday audit rotate-key`)",
    )


def write_secret_file(
    path: Path | str,
    text: str,
    *,
    overwrite: bool,
    what: str,
    error: type[MondayError],
    exists_hint: str | None = None,
) -> Path:
    """Write a secret with mode 0600 (parents 0700), never replacing a file unless ``overwrite``.

    Without ``overwrite`` the file is created exclusively (``O_EXCL``); with it, the new file is
    written beside it and swapped in atomically. ``error`` is raised on failure.
    """
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if overwrite:
            fd, target = tempfile.mkstemp(prefix=".tmp-", suffix=".key", dir=p.parent)
        else:
            target = str(p)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise error(f"{what} {p} already exists; not overwriting it", hint=exists_hint) from None
    except OSError as exc:
        raise error(f"cannot create {what} {p}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            if hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), 0o600)
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            Path(target).replace(p)
    except OSError as exc:
        with contextlib.suppress(OSError):
            Path(target).unlink()
        raise error(f"cannot write {what} {p}: {exc.strerror}") from None
    return p


def generate_key_file(path: Path | str, name: str, *, overwrite: bool = False) -> Ed25519Signer:
    """Generate a key named ``name``, write it to ``path`` (0600) and return it."""
    signer = generate_signer(name)
    write_signer_key(path, signer, overwrite=overwrite)
    return signer


def generate_witness_key_file(
    path: Path | str, name: str, *, overwrite: bool = False
) -> CosignatureSigner:
    """Generate a witness key (``cosignature/v1``, type 0x04) named ``name``; write it 0600."""
    try:
        signer = CosignatureSigner.generate(name)
    except NoteError as exc:
        raise KeyFileError(f"cannot name a key {name!r}: {exc.message}") from None
    write_signer_key(path, signer, overwrite=overwrite)
    return signer


def load_witness_signer(
    ref: str,
    *,
    base_dir: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
) -> CosignatureSigner:
    """Load a witness's ``cosignature/v1`` key named by ``ref`` (``file:PATH`` or ``env:VAR``).

    A log key (Ed25519, type 0x01) is refused: a witness cosigns with a key of its own.
    """
    text, source = read_secret(
        parse_key_ref(ref, base_dir),
        environ=environ,
        strict_permissions=False,
        what="witness key file",
        error=KeyFileError,
        env_hint="set {var} to the content of a witness key file (PRIVATE+KEY+…)",
        missing_hint="create it with `monday audit keygen --witness --name NAME --out FILE`",
    )
    signer = _parse(text, source)
    if not isinstance(signer, CosignatureSigner):
        raise KeyFileError(
            f"{source} holds a log signing key (Ed25519, type 0x{signer.sig_type:02x}), not a "
            "witness key (cosignature/v1, type 0x04)",
            hint="make a witness key with `monday audit keygen --witness --name NAME --out FILE`",
        )
    return signer


def check_signer_matches(signer: Ed25519Signer, expected_vkey: str) -> None:
    """Raise :class:`KeyMismatch` unless ``signer`` is the key of ``expected_vkey``."""
    try:
        expected = parse_vkey(expected_vkey)
    except NoteError as exc:
        raise ConfigError(f"the recorded vkey is malformed: {exc.message}", hint=exc.hint) from None
    if expected.sig_type != signer.sig_type:
        raise KeyMismatch(
            f"the recorded vkey is of signature type 0x{expected.sig_type:02x}, "
            f"the signing key of type 0x{signer.sig_type:02x}"
        )
    if expected.name != signer.name:
        raise KeyMismatch(
            f"the signing key is named {signer.name!r} but the recorded vkey is for "
            f"{expected.name!r}",
            hint="the key name must be the log origin; load the right key",
        )
    if expected.public_key != signer.public_key:
        raise KeyMismatch(
            f"the signing key ({signer.name}+{signer.key_id.hex()}) is not the key of the "
            f"recorded vkey ({expected.name}+{expected.key_id.hex()})",
            hint="load the key the spec names, or rotate keys with `monday audit rotate-key`",
        )
