"""CI as a witness: keep the last checkpoint in a git-committed directory, and only ever move
it forward along a verified consistency proof.

``monday audit witness --commit DIR`` takes the store's newest checkpoint, checks its signature,
checks that it extends the checkpoint previously saved in ``DIR`` (a consistency proof from
the store), writes it there and commits it. Anyone holding the repository then holds a
checkpoint the operator cannot quietly rewrite: a store rolled back or rewritten fails the next
run, and ``monday audit fsck`` compares the store with the saved checkpoint too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mondaytest._util.git import run_git
from mondaytest.audit.checkpoint import Checkpoint, open_checkpoint
from mondaytest.audit.merkle import ProofError, consistency_proof, verify_consistency
from mondaytest.audit.note import NoteVerifier
from mondaytest.audit.store.interface import AuditStore
from mondaytest.errors import CheckFailed, InputError

__all__ = ["WitnessResult", "witness", "witness_file", "witnessed_checkpoint"]


def witness_file(directory: Path, origin: str) -> Path:
    """Where the witnessed checkpoint of ``origin`` is kept in ``directory``."""
    return directory / (re.sub(r"[^A-Za-z0-9._-]", "_", origin) + ".checkpoint")


def witnessed_checkpoint(directory: Path, origin: str) -> tuple[str, bytes] | None:
    """``(label, note)`` of the checkpoint saved in ``directory``, if any."""
    path = witness_file(directory, origin)
    if not path.is_file():
        return None
    return str(path), path.read_bytes()


@dataclass(frozen=True)
class WitnessResult:
    """What one witness run did."""

    previous: Checkpoint | None
    """The checkpoint saved before (None on the first run)."""
    current: Checkpoint
    """The checkpoint saved now."""
    path: Path
    """The file written."""
    committed: bool
    """True when it was committed to git."""


def witness(
    store: AuditStore,
    verifiers: Sequence[NoteVerifier],
    origin: str,
    directory: Path,
    *,
    commit: bool = True,
) -> WitnessResult:
    """Advance the witnessed checkpoint in ``directory`` to the store's newest one.

    Raises :class:`~mondaytest.errors.CheckFailed` when the newest checkpoint does not extend
    the saved one (history rewritten, store rolled back); nothing is written then.
    """
    latest = store.latest_checkpoint()
    if latest is None:
        raise InputError(
            "the log has no checkpoint to witness", hint="run `monday audit checkpoint` first"
        )
    current = open_checkpoint(latest.note, verifiers, origin=origin)
    path = witness_file(directory, origin)
    previous: Checkpoint | None = None
    if path.is_file():
        previous = open_checkpoint(path.read_bytes(), verifiers, origin=origin)
        if previous.size > current.size:
            raise CheckFailed(
                f"the log's newest checkpoint (size {current.size}) is older than the witnessed "
                f"one (size {previous.size}): the store was rolled back or truncated",
                hint="restore the store from a good backup; do not overwrite the witness file",
            )
        if previous.size > 0:
            try:
                proof = consistency_proof(previous.size, current.size, store)
                verify_consistency(previous.size, current.size, proof, previous.root, current.root)
            except ProofError as exc:
                raise CheckFailed(
                    f"the log is not an extension of the witnessed checkpoint (size "
                    f"{previous.size}): {exc.message}",
                    hint="history was rewritten; preserve the store as evidence",
                ) from None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(latest.note)
        tmp.replace(path)
    except OSError as exc:
        raise InputError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="pass a witness directory you can write to",
        ) from None
    committed = (
        _git_commit(path, f"audit witness: {origin} at size {current.size}") if commit else False
    )
    return WitnessResult(previous=previous, current=current, path=path, committed=committed)


def _git_commit(path: Path, message: str) -> bool:
    """Commit ``path`` alone in its repository; False outside one or when nothing changed."""
    here = path.parent
    inside = run_git(here, "rev-parse", "--is-inside-work-tree")
    if inside is None or inside.stdout.strip() != "true":
        return False
    added = run_git(here, "add", "--", path.name)
    if added is None or added.returncode != 0:
        return False
    staged = run_git(here, "diff", "--cached", "--quiet", "--", path.name)
    if staged is not None and staged.returncode == 0:
        return False  # unchanged
    done = run_git(here, "commit", "-m", message, "--", path.name)
    return done is not None and done.returncode == 0
