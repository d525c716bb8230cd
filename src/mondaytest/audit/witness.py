"""CI as a witness: keep the last checkpoint in a git-committed directory, and only ever move
it forward along a verified consistency proof; optionally cosign it; bring cosignatures back.

``monday audit witness --commit DIR`` takes the store's newest checkpoint, checks its signature,
checks that it extends the checkpoint previously saved in ``DIR`` (a consistency proof from
the store), writes it there and commits it (only that file, message ``audit witness: ORIGIN at
size N[, cosigned by W]``, as the identity git is configured with: ``user.name``/``user.email``
or the ``GIT_AUTHOR_*``/``GIT_COMMITTER_*`` variables; with none, it refuses before writing).
Anyone holding the repository then holds a checkpoint the operator cannot quietly rewrite: a
store rolled back or rewritten fails the next run, and ``monday audit fsck`` compares the store
with the saved checkpoint too. Pushing the commit is the caller's (the scaffolded workflow
pushes it).

With a witness key (``--key``, a ``cosignature/v1`` key from ``monday audit keygen --witness``)
the witness also adds its own timestamped cosignature (c2sp.org/tlog-cosignature) to the
checkpoint it saves, only after the consistency check passed: the statement "as of this time,
this is the largest tree I have seen for this log, and it extends the previous one".

:func:`store_cosignatures` (``monday audit cosign FILE``) takes such a cosigned note back into
the store: the note must be a checkpoint the store published (same text, a valid log
signature), and every cosignature it adds must verify under a known witness key. On the
store's newest checkpoint the cosigned note is stored as a new checkpoint row of the same size
and root; on an older one (the log published more while the witness ran, as a busy log does
every second) the cosignatures are added to that checkpoint's own row. Either way ``monday
audit verify --policy`` counts them: it stands on the newest checkpoint that meets the quorum.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from mondaytest._util.files import write_atomic
from mondaytest._util.git import run_git
from mondaytest.audit.checkpoint import Checkpoint, open_checkpoint, peek_checkpoint
from mondaytest.audit.merkle import ProofError, consistency_proof, verify_consistency
from mondaytest.audit.note import (
    SIG_COSIGNATURE_V1,
    CosignatureSigner,
    Note,
    NoteError,
    NoteSignature,
    NoteVerifier,
    add_signatures,
    split_note,
)
from mondaytest.audit.store.interface import AuditStore
from mondaytest.errors import CheckFailed, InputError, StoreError

__all__ = [
    "CosignResult",
    "WitnessResult",
    "store_cosignatures",
    "witness",
    "witness_file",
    "witnessed_checkpoint",
]


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
    cosigner: str | None = None
    """The witness key's vkey when the saved checkpoint carries its cosignature."""
    cosigned_at: int | None = None
    """The cosignature's timestamp (Unix seconds)."""


def witness(
    store: AuditStore,
    verifiers: Sequence[NoteVerifier],
    origin: str,
    directory: Path,
    *,
    commit: bool = True,
    cosigner: CosignatureSigner | None = None,
) -> WitnessResult:
    """Advance the witnessed checkpoint in ``directory`` to the store's newest one.

    With ``cosigner`` the saved note carries that witness's fresh ``cosignature/v1`` (an older
    cosignature by the same key on the stored note is replaced). Raises
    :class:`~mondaytest.errors.CheckFailed` when the newest checkpoint does not extend the saved
    one (history rewritten, store rolled back); nothing is written or signed then.

    With ``commit``, inside a git work tree the file is committed alone. Raises
    :class:`~mondaytest.errors.InputError` before writing when git has no configured identity
    or ignores the file, and after writing when ``git add``/``git commit`` fail. Outside a
    work tree the file is only written (``committed`` is False).
    """
    if cosigner is not None and cosigner.name == origin:
        raise InputError(
            f"the witness key is named {origin!r}, the log's own origin",
            hint="a witness key is named after the witness, e.g. ci.example.com/witness; make "
            "one with `monday audit keygen --witness --name NAME --out FILE`",
        )
    with _directory_lock(directory):  # one witness run at a time per directory
        return _witness_locked(store, verifiers, origin, directory, commit, cosigner)


@contextlib.contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    """An exclusive ``flock`` for the witness directory, held for a whole run: two runs at once
    would each check against the same saved checkpoint and the slower one could save an older
    checkpoint over a newer one. The lock file lives in the temporary directory, named after
    the witness directory's path, so nothing is created in it before the checks pass."""
    key = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:24]
    lock = Path(tempfile.gettempdir()) / f"monday-witness-{key}.lock"
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:  # pragma: no cover - the temporary directory is writable
        raise StoreError(f"cannot take the witness lock {lock}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _saved(path: Path, verifiers: Sequence[NoteVerifier], origin: str) -> Checkpoint:
    """The checkpoint saved at ``path``; its problems are named as the saved file's."""
    try:
        return open_checkpoint(path.read_bytes(), verifiers, origin=origin)
    except (CheckFailed, InputError) as exc:
        raise type(exc)(
            f"the witnessed checkpoint {path}: {exc.message}",
            hint=f"restore it from git (`git checkout -- {path}`), never delete it; "
            "it is what a rewritten log is caught against",
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read the witnessed checkpoint {path}: {exc.strerror}") from None


def _witness_locked(
    store: AuditStore,
    verifiers: Sequence[NoteVerifier],
    origin: str,
    directory: Path,
    commit: bool,
    cosigner: CosignatureSigner | None,
) -> WitnessResult:
    latest = store.latest_checkpoint()
    if latest is None:
        raise InputError(
            "the log has no checkpoint to witness", hint="run `monday audit checkpoint` first"
        )
    current = open_checkpoint(latest.note, verifiers, origin=origin)
    held = store.size()
    if held < current.size:
        raise CheckFailed(
            f"the store holds {held} entries, fewer than its newest checkpoint signs "
            f"({current.size}): entries were deleted (the store was rolled back or truncated)",
            hint="restore the store from a good backup; do not overwrite the witness file",
        )
    path = witness_file(directory, origin)
    previous: Checkpoint | None = None
    if path.is_file():
        previous = _saved(path, verifiers, origin)
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
    repo = _git_repository(directory) if commit else None
    if repo is not None:
        _check_git_identity(repo, directory)
        _check_not_ignored(repo, path)
    note = latest.note
    cosigned_at: int | None = None
    if cosigner is not None:
        note, cosigned_at = _cosign(note, cosigner)
    write_atomic(path, note, hint="pass a witness directory you can write to")
    message = f"audit witness: {origin} at size {current.size}"
    if cosigner is not None:
        message += f", cosigned by {cosigner.name}"
    committed = _git_commit(path, message) if repo is not None else False
    return WitnessResult(
        previous=previous,
        current=current,
        path=path,
        committed=committed,
        cosigner=cosigner.vkey if cosigner is not None else None,
        cosigned_at=cosigned_at,
    )


def _cosign(note: bytes, cosigner: CosignatureSigner) -> tuple[bytes, int]:
    """``note`` with ``cosigner``'s fresh cosignature (replacing an older one by that key)."""
    text, sigs = split_note(note)
    mine = (cosigner.name, cosigner.key_id)
    others = [s for s in sigs if (s.name, s.key_id) != mine]
    if len(others) != len(sigs):
        note = Note(text, tuple(others)).to_bytes()
    timestamp = int(cosigner.clock())
    signed = add_signatures(note, [_AtTime(cosigner, timestamp)])
    return signed, timestamp


class _AtTime:
    """``cosigner`` signing at one fixed ``timestamp`` (so the caller knows the time signed)."""

    def __init__(self, cosigner: CosignatureSigner, timestamp: int) -> None:
        self._cosigner = cosigner
        self._timestamp = timestamp
        self.name = cosigner.name
        self.key_id = cosigner.key_id
        self.sig_type = cosigner.sig_type

    def sign(self, text: bytes) -> bytes:
        return self._cosigner.sign_at(text, self._timestamp)


@dataclass(frozen=True)
class CosignResult:
    """What :func:`store_cosignatures` stored."""

    checkpoint: Checkpoint
    """The checkpoint the cosignatures are on (verified: log signature and known cosigners)."""
    seq: int | None
    """The checkpoint row written, or None when the store already held every cosignature."""
    added: tuple[NoteSignature, ...]
    """Cosignatures newly stored (each verified, with its ``timestamp``)."""
    already: int
    """Cosignatures of the note the store already held."""


def _fail(source: str, exc: CheckFailed | InputError) -> CheckFailed | InputError:
    """``exc`` again, its message prefixed with where the note came from."""
    return type(exc)(f"{source}: {exc.message}", hint=exc.hint)


def store_cosignatures(
    store: AuditStore,
    note: bytes,
    log_keys: Sequence[NoteVerifier],
    witness_keys: Sequence[NoteVerifier],
    *,
    origin: str | None = None,
    source: str = "the note",
    trusted_from: str = "the trusted witness keys",
) -> CosignResult:
    """Store the witness cosignatures of ``note`` on the store's checkpoint of that tree.

    ``note`` must be a checkpoint with a valid signature by one of ``log_keys`` whose text
    (origin, size, root) is one the store published. Each cosignature it adds must verify under
    one of ``witness_keys``; a signature line by any other key is refused unless the store
    already holds that very line. The stored note plus the new cosignatures (a newer
    cosignature by the same witness replaces an older one) is stored inside a write
    transaction: as a new checkpoint row of the same size and root when it is still the newest,
    otherwise in place of the newest stored row of that size (its text and log signature are
    unchanged; only cosignature lines are added).

    ``source`` names the note and ``trusted_from`` the witness keys in messages. Raises
    :class:`~mondaytest.errors.CheckFailed` (exit 1) for a bad or untrusted signature and a
    checkpoint this store does not hold (another tree of the same size is named a fork);
    :class:`~mondaytest.errors.InputError` (exit 2) for a malformed note or a note without
    cosignatures.
    """
    try:
        peek_checkpoint(note)
    except NoteError as exc:
        raise InputError(
            f"{source} is not a checkpoint note: {exc.message}",
            hint="pass the file `monday audit witness --key …` wrote (a cosigned checkpoint)",
        ) from None
    text, lines = split_note(note)
    origin = origin or store.origin()
    if origin is None:
        raise InputError(
            f"{store.url} holds no audit log",
            hint="pass --store the database `monday audit` writes (audit.store)",
        )
    try:
        cp = open_checkpoint(note, [*log_keys, *witness_keys], origin=origin)
    except (CheckFailed, InputError) as exc:
        raise _fail(source, exc) from None
    latest = store.latest_checkpoint()
    if latest is None:
        raise CheckFailed(
            f"{source} is the checkpoint of {origin} at size {cp.size}, but the store holds no "
            "checkpoint",
            hint="cosign a checkpoint of this store (`monday audit checkpoint`, then the witness)",
        )
    target = latest
    if (cp.size, cp.root) != (latest.size, latest.root):
        _check_published(store, source, cp, latest.size, latest.root)
        older = store.checkpoint_of_size(cp.size)
        assert older is not None  # _check_published found it
        target = older
    if split_note(target.note)[0] != text:
        raise CheckFailed(
            f"{source} has the size and root of the store's checkpoint of size {cp.size} but "
            "not its text (extension lines differ)",
            hint="cosign the note the log published, unchanged",
        )
    verified = {(s.name, s.key_id): s for s in cp.signatures}
    stored_lines = {s.line() for s in split_note(target.note)[1]}
    fresh: list[NoteSignature] = []
    already = 0
    cosigned = False
    for line in lines:
        sig = verified.get((line.name, line.key_id))
        if sig is not None and sig.sig_type != SIG_COSIGNATURE_V1:
            continue  # the log's own signature, checked above
        cosigned = True
        if line.line() in stored_lines:
            already += 1
            continue
        if sig is None:
            raise CheckFailed(
                f"{source}: the signature by {line.name} ({line.key_id.hex()}) is from a key "
                f"that is not trusted ({trusted_from}); nothing was stored",
                hint="add the witness to the policy (`witness NAME VKEY`) or pass "
                "--witness-vkey VKEY, or remove that line from the note",
            )
        fresh.append(sig)
    if not cosigned:
        raise InputError(
            f"{source} carries no witness cosignature; nothing to store",
            hint="cosign the checkpoint first: `monday audit witness --commit DIR --key REF`",
        )
    added: tuple[NoteSignature, ...] = ()
    seq: int | None = None
    if fresh:
        with store.write() as tx:
            current = tx.latest_checkpoint()
            if current is not None and (current.size, current.root) == (cp.size, cp.root):
                merged, added = _merge(current.note, fresh)
                if added:
                    seq = tx.insert_checkpoint(cp.size, cp.root, merged, time.time())
            else:  # an older checkpoint (or the log moved on since we looked): add in place
                row = tx.checkpoint_of_size(cp.size)
                if row is None or row.root != cp.root:  # pragma: no cover - checked above
                    raise CheckFailed(f"{source}: the store no longer holds this checkpoint")
                merged, added = _merge(row.note, fresh)
                if added:
                    if not tx.replace_checkpoint_note(row.seq, row.note, merged):
                        raise StoreError(  # pragma: no cover - the write lock is held
                            "the checkpoint changed while its cosignatures were stored",
                            hint="run `monday audit cosign` again",
                        )
                    seq = row.seq
    return CosignResult(
        checkpoint=cp, seq=seq, added=added, already=already + len(fresh) - len(added)
    )


def _check_published(
    store: AuditStore, source: str, cp: Checkpoint, newest: int, newest_root: bytes
) -> None:
    """Raise when ``cp`` (size/root, not the newest's) is no checkpoint the store published."""
    if cp.size > newest:
        raise CheckFailed(
            f"{source} is the checkpoint of size {cp.size}, but the store's newest checkpoint "
            f"is of size {newest}: this is another store, or it was rolled back",
            hint="pass --store the store the witness read; preserve it as evidence if it is",
        )
    if cp.size == newest:
        same_size = [newest_root]
    else:  # the newest stored row of that size (an indexed lookup, however long the history)
        row = store.checkpoint_of_size(cp.size)
        same_size = [row.root] if row is not None else []
    if any(root != cp.root for root in same_size):
        raise CheckFailed(
            f"{source} is a checkpoint of size {cp.size} whose root differs from the store's "
            f"checkpoint of that size: the log signed two different trees of one size (a fork)",
            hint="preserve the note and the store as evidence; see the auditor guide",
        )
    if not same_size:
        raise CheckFailed(
            f"{source} is a checkpoint of size {cp.size}, which the store never published",
            hint="pass --store the store the witness read",
        )


def _merge(note: bytes, fresh: Sequence[NoteSignature]) -> tuple[bytes, tuple[NoteSignature, ...]]:
    """``note`` with the cosignatures ``fresh`` added, and those that changed it.

    A cosignature by a key that already cosigned ``note`` replaces it only when newer.
    """
    text, sigs = split_note(note)
    merged = list(sigs)
    where = {(s.name, s.key_id): i for i, s in enumerate(merged)}
    added: list[NoteSignature] = []
    for sig in fresh:
        i = where.get((sig.name, sig.key_id))
        if i is None:
            where[(sig.name, sig.key_id)] = len(merged)
            merged.append(sig)
        elif _timestamp(merged[i]) < _timestamp(sig):
            merged[i] = sig
        else:
            continue
        added.append(sig)
    if not added:
        return note, ()
    plain = [NoteSignature(s.name, s.key_id, s.signature) for s in merged]
    return Note(text, tuple(plain)).to_bytes(), tuple(added)


def _timestamp(sig: NoteSignature) -> int:
    """A cosignature's timestamp (-1 for a line that is not one)."""
    return int.from_bytes(sig.signature[:8], "big") if len(sig.signature) == 72 else -1


_CONFIGURED_IDENTITY = ("-c", "user.useConfigOnly=true")
"""Git options of every identity check and witness commit: never a guessed identity."""


def _git_repository(directory: Path) -> Path | None:
    """The work tree ``directory`` is (or will be created) in; None outside one or without git."""
    here = directory
    while not here.is_dir() and here != here.parent:
        here = here.parent
    found = run_git(here, "rev-parse", "--show-toplevel")
    if found is None or found.returncode != 0 or not found.stdout.strip():
        return None
    return Path(found.stdout.strip())


def _check_git_identity(repo: Path, directory: Path) -> None:
    """Raise :class:`~mondaytest.errors.InputError` when git has no identity to commit as.

    Checked before anything is written. Only a configured identity counts (``user.name`` and
    ``user.email`` in git's configuration, or the ``GIT_AUTHOR_*``/``GIT_COMMITTER_*``
    variables), never one git guesses from the host name: the commit is the record of who
    witnessed what.
    """
    for role in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
        got = run_git(repo, *_CONFIGURED_IDENTITY, "var", role)
        if got is not None and got.returncode == 0:
            continue
        said = _last_line(got.stderr) if got is not None else "git did not run"
        raise InputError(
            f"cannot commit the witnessed checkpoint in {directory}: git has no "
            f"{'author' if role == 'GIT_AUTHOR_IDENT' else 'committer'} identity configured "
            f"in {repo} ({said}); nothing was written",
            hint=f'set one: `git -C {repo} config user.name "NAME"` and `git -C {repo} config '
            'user.email "EMAIL"` (in GitHub Actions: github-actions[bot] and '
            "41898282+github-actions[bot]@users.noreply.github.com), or the GIT_AUTHOR_NAME, "
            "GIT_AUTHOR_EMAIL, GIT_COMMITTER_NAME and GIT_COMMITTER_EMAIL variables; or pass "
            "--no-git to write the file without committing it",
        )


def _check_not_ignored(repo: Path, path: Path) -> None:
    """Raise :class:`~mondaytest.errors.InputError` when git ignores ``path`` (before writing)."""
    ignored = run_git(repo, "check-ignore", "-q", "--", str(path.absolute()))
    if ignored is not None and ignored.returncode == 0:
        raise InputError(
            f"cannot commit the witnessed checkpoint: {path} is ignored by git in {repo}; "
            "nothing was written",
            hint=f"stop ignoring {path.parent} (.gitignore), pass --commit a directory git "
            "tracks, or pass --no-git",
        )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def _git_commit(path: Path, message: str) -> bool:
    """Commit ``path`` alone in its repository; False when it did not change.

    Raises :class:`~mondaytest.errors.InputError` when git refuses (an ignored path, a failing
    hook): the file is written then, but not committed.
    """
    here = path.parent
    added = run_git(here, "add", "--", path.name)
    if added is None or added.returncode != 0:
        said = _last_line(added.stderr) if added is not None else "git did not run"
        raise InputError(
            f"wrote {path} but could not commit it: git add failed ({said})",
            hint=f"make sure {here} is not ignored by .gitignore, then run the witness again "
            "(it commits the file it wrote); or pass --no-git",
        )
    staged = run_git(here, "diff", "--cached", "--quiet", "--", path.name)
    if staged is not None and staged.returncode == 0:
        return False  # unchanged
    done = run_git(here, *_CONFIGURED_IDENTITY, "commit", "-q", "-m", message, "--", path.name)
    if done is None or done.returncode != 0:
        said = _last_line(done.stderr or done.stdout) if done is not None else "git did not run"
        raise InputError(
            f"wrote {path} but could not commit it: git commit failed ({said})",
            hint="fix what git reports, then run the witness again (it commits the file it "
            "wrote); or pass --no-git",
        )
    return True
