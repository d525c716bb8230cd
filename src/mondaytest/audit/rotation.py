"""Planned rotation of the log key: a dual-signed window between two ``key_rotation`` entries.

``monday audit rotate-key`` (start):

1. a new key is written beside the current one, at ``<key file>.next`` (0600);
2. a ``key_rotation`` entry (``phase: start``, old and new vkeys, and both keys' signatures
   over them: see :mod:`mondaytest.audit.rotation_proof`) is appended;
3. from then on every checkpoint carries both signatures: the writer signs with every key it
   finds (``<key file>`` and ``<key file>.next``).

``monday audit rotate-key --finish`` (after the window, once every verifier has the new vkey):

1. a ``key_rotation`` entry (``phase: finish``) is appended and a dual-signed checkpoint covers
   it;
2. the old key file is kept as ``<key file>.retired-<key id>``, the new one takes its place;
3. ``audit.vkey`` in ``monday.yaml`` becomes the new vkey (one line changes).

A verifier holding only the old key verifies every checkpoint up to the end of the window; one
holding only the new key verifies every checkpoint from its start; ``fsck`` follows the chain of
``key_rotation`` entries, so either key alone verifies the whole store (see
:func:`mondaytest.audit.verify.fsck`). Compromise is not a rotation: freeze the log and start a
new origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mondaytest.audit.keygen import record_vkey
from mondaytest.audit.keys import generate_key_file, load_signer, parse_key_ref
from mondaytest.audit.log import LogConfig, next_key_file, open_log
from mondaytest.audit.note import Ed25519Signer
from mondaytest.audit.opening import open_existing_log
from mondaytest.audit.publisher import newest_key_rotation, publish_checkpoint
from mondaytest.audit.rotation_proof import rotation_entries, sign_rotation
from mondaytest.audit.store.interface import StoredCheckpoint
from mondaytest.errors import ConfigError, InputError, MondayError

__all__ = ["RotationResult", "next_key_path", "rotate_finish", "rotate_start"]


@dataclass(frozen=True)
class RotationResult:
    """What a rotation step did."""

    old_vkey: str
    """The key being retired."""
    new_vkey: str
    """The key taking over."""
    entry: int
    """Index of the ``key_rotation`` entry."""
    checkpoint: StoredCheckpoint
    """The dual-signed checkpoint covering it."""
    retired_key: Path | None = None
    """Where the old key file was kept (finish only)."""


def _key_path(config: LogConfig) -> Path:
    if config.key is None:
        raise ConfigError("no signing key is configured", field="audit.key")
    ref = parse_key_ref(config.key, config.base_dir)
    if ref.kind != "file":
        raise InputError(
            f"audit.key is {config.key}; rotate-key works on key files",
            hint="rotate an environment key by hand: sign with both keys for a window",
        )
    return Path(ref.target)


def next_key_path(config: LogConfig) -> Path:
    """Where the incoming key of a rotation lives: ``<key file>.next``."""
    return next_key_file(_key_path(config))


def _signers(config: LogConfig) -> tuple[Ed25519Signer, Ed25519Signer]:
    old = load_signer(config.key or "", base_dir=config.base_dir)
    new = load_signer(f"file:{next_key_path(config)}")
    return old, new


def _rotation_payload(
    origin: str, phase: str, old: Ed25519Signer, new: Ed25519Signer, reason: str | None
) -> dict[str, str | None]:
    """A ``key_rotation`` payload, signed by both keys."""
    return {
        "phase": phase,
        "old_vkey": old.vkey,
        "new_vkey": new.vkey,
        "reason": reason,
        **sign_rotation(origin, phase, old, new),
    }


def rotate_start(config: LogConfig, *, reason: str = "scheduled") -> RotationResult:
    """Create the next key, log the start of the rotation, publish a dual-signed checkpoint."""
    nxt = next_key_path(config)
    if nxt.exists():
        raise InputError(
            f"a rotation is already under way ({nxt} exists)",
            hint="finish it with `monday audit rotate-key --finish`",
        )
    with open_existing_log(config, readonly=False) as log:
        old = log.signers[0]
        new = generate_key_file(nxt, config.origin)
        try:
            entry = log.append(
                "key_rotation",
                _rotation_payload(config.origin, "start", old, new, reason),
                durability="sequenced",
            )
            cp = publish_checkpoint(log.store, config.origin, [old, new], republish=True)
        except BaseException:
            nxt.unlink(missing_ok=True)
            raise
    assert entry is not None
    assert cp is not None
    return RotationResult(old.vkey, new.vkey, entry, cp)


def _resume_finish(config: LogConfig, spec_path: Path | None) -> bool:
    """Complete a ``--finish`` that was interrupted after its entry was logged: the key files
    were (partly) swapped but the contract still names the old vkey. True when it did."""
    current, nxt = _key_path(config), next_key_path(config)
    if not current.exists() and nxt.exists():  # stopped between the two renames
        nxt.replace(current)
    if nxt.exists() or not current.exists() or spec_path is None:
        return False
    key = load_signer(f"file:{current}")
    if key.vkey == config.vkey:
        return False
    with open_log(config, readonly=True) as log:
        last = newest_key_rotation(log.store) or {}
    if last.get("phase") != "finish" or last.get("new_vkey") != key.vkey:
        return False
    record_vkey(spec_path, key.vkey)
    return True


def rotate_finish(
    config: LogConfig, spec_path: Path | None, *, reason: str | None = None
) -> RotationResult | None:
    """Log the end of the rotation, swap the key files and record the new vkey.

    Returns None when it only completed a ``--finish`` interrupted after its entry was logged
    (the key files swapped, the contract not updated yet)."""
    try:
        if _resume_finish(config, spec_path):
            return None
    except OSError as exc:
        raise InputError(f"cannot complete the interrupted rotation: {exc.strerror}") from None
    nxt = next_key_path(config)
    if not nxt.exists():
        raise InputError(
            "no rotation is under way", hint="start one with `monday audit rotate-key`"
        )
    old, new = _signers(config)
    with open_existing_log(config, readonly=False) as log:
        last = next((r for r in rotation_entries(log.store, config.origin) if r.keys), None)
        said = last.payload if last is not None else {}
        if (said.get("old_vkey"), said.get("new_vkey")) != (old.vkey, new.vkey) or said.get(
            "phase"
        ) not in ("start", "finish"):
            raise InputError(
                f"this store ({config.store_url}) holds no start of a rotation from the current "
                "key to the one in " + str(nxt),
                hint="run `monday audit rotate-key` (without --finish) on the log's own store "
                "first, and let verifiers take the new vkey during the window",
            )
        if last is not None and said.get("phase") == "finish":
            entry: int | None = last.idx  # logged by a --finish that stopped before the swap
        else:
            entry = log.append(
                "key_rotation",
                _rotation_payload(config.origin, "finish", old, new, reason),
                durability="sequenced",
            )
        cp = publish_checkpoint(log.store, config.origin, [old, new], republish=True)
    assert entry is not None
    assert cp is not None
    current = _key_path(config)
    retired = current.with_name(f"{current.name}.retired-{old.key_id.hex()}")
    try:
        current.replace(retired)
        nxt.replace(current)
        if spec_path is not None:
            record_vkey(spec_path, new.vkey)
    except (OSError, MondayError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else exc.message
        raise InputError(
            f"the rotation's finish entry {entry} is logged, but the key files or monday.yaml "
            f"could not be updated ({reason}); the new vkey is {new.vkey}",
            hint="fix the cause and run `monday audit rotate-key --finish` again: it completes "
            "what is left",
        ) from None
    return RotationResult(old.vkey, new.vkey, entry, cp, retired)
