"""Offline verification of a whole store (``fsck``), of receipts, and of two checkpoints.

:func:`fsck` recomputes everything from the entries and trusts nothing else in the store:

- each entry's bytes: a ``monday.audit/v1`` entry of this log, canonical, at the index its own
  ``idx`` names (a moved or swapped row shows here), with the ``config_idx`` in force;
- each stored leaf hash against ``SHA-256(0x00 ‖ bytes)``;
- every stored interior node against the tree rebuilt from the entries;
- every stored checkpoint: its signature under the trusted keys, its origin, and its root
  against the root recomputed at its size; no checkpoint may cover more entries than exist;
- optionally, checkpoints saved elsewhere (a witness directory, an auditor's copy): a store
  rolled back to an older copy, truncated or rewritten no longer matches them.

:func:`verify_store` and :func:`verify_tiles_export` add a C2SP trust policy on top, then
verify the whole store or export as without a policy. A checkpoint passes the policy when it is
signed by one of the policy's logs and carries enough witness cosignatures for its quorum
(:meth:`~mondaytest.audit.policy.Policy.check`, the same evaluation receipts get).

- A store keeps every checkpoint it published, and on a growing log the newest one is usually
  not cosigned yet. :func:`newest_witnessed_checkpoint` therefore takes the newest stored
  checkpoint that passes; the entries after it are reported as not yet witnessed
  (:attr:`StorePolicyResult.unwitnessed`). No stored checkpoint passing fails (exit 1).
- A tiles export holds one checkpoint (its ``checkpoint`` file), which must pass.

It reports every problem it finds (up to a limit) in index order; :attr:`FsckReport.first_bad`
is the first bad entry index. It streams the store: memory stays O(log n).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from mondaytest.audit.checkpoint import Checkpoint, open_checkpoint
from mondaytest.audit.entries import ENTRY_SCHEMA, Entry, EntryFormatError, decode_entry
from mondaytest.audit.merkle import (
    CompactRange,
    ProofError,
    consistency_proof,
    leaf_hash,
    root_at,
    verify_consistency,
)
from mondaytest.audit.note import NoteError, NoteVerifier, parse_vkey
from mondaytest.audit.policy import Policy, PolicyResult, QuorumNotMet
from mondaytest.audit.receipt import (
    Receipt,
    VerifiedReceipt,
    parse_receipt,
    prove_entry,
    verify_receipt,
)
from mondaytest.audit.rotation_proof import rotation_entries
from mondaytest.audit.store.interface import AuditStore, StoredCheckpoint
from mondaytest.audit.tiles import TilesReport, export_directory, verify_tiles
from mondaytest.errors import CheckFailed, InputError, MondayError

__all__ = [
    "Finding",
    "FsckReport",
    "RetiredKey",
    "StorePolicyResult",
    "check_consistency",
    "follow_rotations",
    "fsck",
    "newest_witnessed_checkpoint",
    "retention_min_index",
    "unsigned_rotations",
    "verify_receipt_bytes",
    "verify_receipt_policy",
    "verify_store",
    "verify_tiles_export",
]


@dataclass(frozen=True)
class Finding:
    """One problem: what is wrong and, when it is about an entry, its index."""

    message: str
    """What is wrong, for a person."""
    index: int | None = None
    """The entry it is about (None for a checkpoint-only problem)."""

    def __str__(self) -> str:
        return self.message


@dataclass
class FsckReport:
    """What :func:`fsck` checked and found."""

    origin: str | None
    """The store's origin."""
    size: int = 0
    """Entries checked."""
    checkpoints: int = 0
    """Stored checkpoints whose signature and root were checked."""
    saved: int = 0
    """External checkpoints compared against the store."""
    root: bytes | None = None
    """Root recomputed over all entries."""
    findings: list[Finding] = field(default_factory=list)
    """Problems, in the order found."""
    truncated: bool = False
    """True when more problems existed than the limit kept."""

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.findings

    @property
    def first_bad(self) -> int | None:
        """The lowest entry index named by a finding."""
        indexes = [f.index for f in self.findings if f.index is not None]
        return min(indexes) if indexes else None

    def raise_for_problems(self) -> None:
        """Raise :class:`~mondaytest.errors.CheckFailed` naming the first bad index."""
        if self.ok:
            return
        first = self.first_bad
        head = (
            self.findings[0]
            if first is None
            else next(f for f in self.findings if f.index == first)
        )
        where = f"first bad entry: {first}: " if first is not None else ""
        more = len(self.findings) - 1
        tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        if all(f.message.startswith("saved checkpoint ") for f in self.findings):
            # only checkpoints kept outside the store failed: the store itself may be intact
            raise CheckFailed(
                f"{head.message}{tail}",
                hint="check that the saved checkpoint is this log's and that its key is trusted "
                "(--vkey, audit.vkey); if it is, the store no longer holds what it signed: "
                "preserve the store as evidence (auditor guide, fsck mismatch runbook)",
            )
        raise CheckFailed(
            f"audit log is damaged: {where}{head.message}{tail}",
            hint="preserve the store as evidence; see the auditor guide (fsck mismatch runbook)",
        )


class _Nodes:
    """Stored interior nodes, one forward cursor per level, read in creation order."""

    def __init__(self, store: AuditStore) -> None:
        self._store = store
        self._cursors: dict[int, Iterator[tuple[int, bytes]]] = {}
        self._peeked: dict[int, tuple[int, bytes] | None] = {}

    def take(self, level: int, index: int) -> bytes | None:
        """The stored hash of ``(level, index)``, or None when that row is missing."""
        it = self._cursors.get(level)
        if it is None:
            it = self._cursors[level] = self._store.nodes(level)
            self._peeked[level] = next(it, None)
        head = self._peeked[level]
        while head is not None and head[0] < index:
            head = next(it, None)
        if head is not None and head[0] == index:
            self._peeked[level] = next(it, None)
            return head[1]
        self._peeked[level] = head
        return None


def _identity(key: NoteVerifier) -> tuple[str, bytes, bytes | None]:
    """Who a key is: its name, key ID and public key (the 4-byte ID alone can be collided)."""
    return key.name, key.key_id, getattr(key, "public_key", None)


class RetiredKey:
    """A log key that a followed ``finish`` rotation retired: it verifies checkpoints up to the
    size that covers the retirement (``last_size``: the finish entry's index + 1, the
    dual-signed checkpoint) and no later one, so a retired key, kept on disk as
    ``<key>.retired-<id>``, cannot vouch for anything written after its retirement."""

    def __init__(self, key: NoteVerifier, last_size: int) -> None:
        self.key = key
        self.last_size = last_size

    @property
    def name(self) -> str:
        """Key name."""
        return self.key.name

    @property
    def key_id(self) -> bytes:
        """4-byte key ID."""
        return self.key.key_id

    @property
    def sig_type(self) -> int:
        """Signature type byte."""
        return self.key.sig_type

    @property
    def public_key(self) -> bytes | None:
        """The retired key's public key."""
        return getattr(self.key, "public_key", None)

    def verify(self, text: bytes, signature: bytes) -> bool:
        """True for a valid signature over a checkpoint no larger than ``last_size``."""
        lines = text.split(b"\n", 2)
        if len(lines) < 3 or not lines[1].isdigit() or int(lines[1]) > self.last_size:
            return False
        return self.key.verify(text, signature)


def follow_rotations(
    store: AuditStore,
    verifiers: Sequence[NoteVerifier],
    origin: str | None,
    checkpoints: Sequence[StoredCheckpoint] | None = None,
) -> list[NoteVerifier]:
    """The trusted keys, extended along the log's ``key_rotation`` entries.

    A rotation entry names an old and a new key and carries both keys' signatures over that
    (:mod:`mondaytest.audit.rotation_proof`). Once one of its keys is trusted (the whole key,
    not only its ID), the signatures verify, and a checkpoint that verifies under the trusted
    keys covers the entry (by the size it signs, not by the store's columns), both keys are
    trusted. So a verifier holding only the old key, or only the new one, can check
    checkpoints from either side of a rotation. A ``finish`` rotation retires its old key: from
    then on it is a :class:`RetiredKey`, valid for checkpoints up to the one covering the
    finish, and a later rotation from it is not followed. An entry without valid signatures is
    never followed: writing to the store is not enough to introduce a key (:func:`fsck`
    reports such an entry).
    """
    rotations = [
        (r.idx, str(r.payload["phase"]), r.keys)
        for r in rotation_entries(store, origin)
        if r.keys is not None
    ]
    if not rotations:
        return list(verifiers)
    rotations.sort(key=lambda r: r[0])
    stored = list(checkpoints) if checkpoints is not None else store.checkpoints()
    trusted: dict[tuple[str, bytes, bytes | None], NoteVerifier] = {
        _identity(v): v for v in verifiers
    }
    retired: dict[tuple[str, bytes, bytes | None], int] = {}  # key -> last size it may sign

    def effective() -> list[NoteVerifier]:
        return [RetiredKey(v, retired[i]) if i in retired else v for i, v in trusted.items()]

    covered: dict[int, int] = {}  # stored checkpoint seq -> the size it signs (once verified)
    followed: set[int] = set()
    changed = True
    while changed:
        changed = False
        keys_now = effective()
        for idx, phase, keys in rotations:
            if idx in followed:
                continue
            old, new = (_identity(k) for k in keys)
            if old not in trusted and new not in trusted:
                continue
            if any(k in retired and retired[k] <= idx for k in (old, new)):
                continue  # a retired key takes part in no later rotation, on either side
            for cp in stored:
                size = covered.get(cp.seq)
                if size is None:
                    try:
                        size = open_checkpoint(cp.note, keys_now, origin=origin).size
                    except MondayError:
                        continue
                    covered[cp.seq] = size
                if size <= idx:
                    continue
                trusted.setdefault(old, keys[0])
                trusted.setdefault(new, keys[1])
                if phase == "finish":
                    limit = _retirement_size(stored, idx, keys[1], origin)
                    retired[old] = min(retired.get(old, limit), limit)
                    covered.clear()  # what the retired key vouches for has changed
                followed.add(idx)
                changed = True
                break
            if changed:
                break
    return effective()


def _retirement_size(
    stored: Sequence[StoredCheckpoint], idx: int, new_key: NoteVerifier, origin: str | None
) -> int:
    """The last size the old key of the finish at ``idx`` may sign: that of the first stored
    checkpoint (in publication order) covering the finish and signed by the new key (the
    dual-signed one, whatever was appended meanwhile), else ``idx + 1``. Only the new key's
    holder can move it: a checkpoint signed by the retired key alone does not count."""
    for cp in stored:
        if cp.size <= idx:
            continue
        try:
            return open_checkpoint(cp.note, [new_key], origin=origin).size
        except MondayError:
            continue
    return idx + 1


def unsigned_rotations(store: AuditStore, origin: str | None = None) -> list[int]:
    """Indexes of ``key_rotation`` entries whose two signatures do not verify (not written by
    ``monday audit rotate-key``: :func:`follow_rotations` ignores them), ascending."""
    return sorted(r.idx for r in rotation_entries(store, origin) if r.keys is None)


def _compare_columns(
    entry: Entry,
    columns: Iterator[tuple[int, str, str, str, str]],
    problem: Callable[[str, int], bool],
) -> None:
    """Report an entry whose indexed columns (type, kind, id, ts: what searches, ``why`` and
    retention read) differ from its bytes. ``columns`` advances in step with the entries."""
    for stored in columns:
        if stored[0] < entry.idx:
            continue
        if stored[0] == entry.idx:
            wanted = (entry.type, entry.kind, entry.id, entry.ts)
            names = ("type", "kind", "id", "ts")
            differ = [n for n, a, b in zip(names, stored[1:], wanted, strict=True) if a != b]
            if differ:
                problem(
                    f"entry {entry.idx}: the store's index column{'s' if len(differ) > 1 else ''} "
                    f"{', '.join(differ)} differ{'' if len(differ) > 1 else 's'} from the entry's "
                    "bytes (searches and lookups would read the wrong value)",
                    entry.idx,
                )
        return


def _untrusted_genesis_key(
    payload: dict[str, object], verifiers: Sequence[NoteVerifier]
) -> str | None:
    """The genesis entry's vkey (its name and key id) when no trusted key is that key."""
    vkey = payload.get("vkey")
    if not isinstance(vkey, str):
        return None  # a log created without a recorded key: nothing to compare
    try:
        key = parse_vkey(vkey)
    except MondayError:
        return f"an unreadable vkey {vkey[:40]!r}"
    if any(_identity(v) == _identity(key) for v in verifiers):
        return None
    return f"{key.name} ({key.key_id.hex()})"


def _open_stored(note: bytes, verifiers: Sequence[NoteVerifier], origin: str | None) -> Checkpoint:
    return open_checkpoint(note, verifiers, origin=origin)


def fsck(
    store: AuditStore,
    verifiers: Sequence[NoteVerifier],
    *,
    origin: str | None = None,
    saved: Iterable[tuple[str, bytes]] = (),
    max_findings: int = 50,
    deep: bool = False,
) -> FsckReport:
    """Recompute the whole log from its entries and compare everything the store holds.

    ``verifiers`` are the trusted log keys; ``origin`` pins the log (default: the store's);
    ``saved`` are ``(label, note)`` checkpoints kept outside the store. ``deep`` also checks
    that every entry is in canonical form and wholly inside the JSON profile (the writer
    guarantees both; a change to the bytes is caught by the hashes either way).
    """
    origin = origin or store.origin()
    report = FsckReport(origin=origin)

    bad: list[int] = []  # entries found bad by their own bytes or leaf hash, ascending

    def problem(message: str, index: int | None = None) -> bool:
        if len(report.findings) >= max_findings:
            report.truncated = True
            return False
        report.findings.append(Finding(message, index))
        return True

    def bad_in(first: int, last: int) -> int | None:
        """The first known-bad entry in ``first..last``."""
        pos = bisect.bisect_left(bad, first)
        return bad[pos] if pos < len(bad) and bad[pos] <= last else None

    def entry_problem(message: str, index: int) -> None:
        if not bad or bad[-1] != index:
            bad.append(index)
        problem(message, index)

    # --- checkpoints: signatures first -----------------------------------------------------
    stored = store.checkpoints()
    verifiers = follow_rotations(store, verifiers, origin, stored)
    wanted: dict[int, list[tuple[str, bytes]]] = {}  # size -> [(label, root)]
    last_size = 0
    for cp_row in stored:
        label = f"checkpoint #{cp_row.seq} (size {cp_row.size})"
        try:
            cp = _open_stored(cp_row.note, verifiers, origin)
        except NoteError as exc:
            problem(f"{label} is malformed: {exc.message}")
            continue
        except MondayError as exc:
            problem(f"{label} does not verify: {exc.message}")
            continue
        if cp.size != cp_row.size or cp.root != cp_row.root:
            problem(f"{label}: its stored size/root columns differ from its signed note")
        if cp.size < last_size:
            problem(f"{label} is smaller than an earlier checkpoint (size {last_size})")
        last_size = max(last_size, cp.size)
        report.checkpoints += 1
        wanted.setdefault(cp.size, []).append((label, cp.root))
    for idx in unsigned_rotations(store, origin):
        problem(
            f"entry {idx}: a key_rotation without its keys' valid signatures (not written by "
            "`monday audit rotate-key`); no key is trusted through it",
            idx,
        )
    for label, note in saved:
        try:
            cp = _open_stored(note, verifiers, origin)
        except MondayError as exc:
            problem(f"saved checkpoint {label} does not verify: {exc.message}")
            continue
        report.saved += 1
        wanted.setdefault(cp.size, []).append(
            (f"saved checkpoint {label} (size {cp.size})", cp.root)
        )

    # --- entries, leaf hashes, nodes, roots --------------------------------------------------
    tree = CompactRange()
    nodes = _Nodes(store)
    config_idx: int | None = None
    last_good_size = 0
    expected = 0
    broken = False
    columns = store.index_columns() if deep else None
    for row in store.entries():
        idx = row.idx
        if idx != expected:
            problem(f"entry {expected} is missing (the next stored entry is {idx})", expected)
            broken = True
            break
        expected += 1
        body = row.body
        try:
            entry = decode_entry(body, full_check=deep)
        except EntryFormatError as exc:
            entry_problem(f"entry {idx} is not a valid {ENTRY_SCHEMA} entry: {exc.message}", idx)
            entry = None
        if entry is not None:
            if entry.idx != idx:
                entry_problem(
                    f"entry {idx}: its bytes say idx {entry.idx} (rows were moved or swapped)",
                    idx,
                )
            elif origin is not None and entry.fields.get("log") != origin:
                entry_problem(f"entry {idx} belongs to log {entry.fields.get('log')!r}", idx)
            elif entry.type == "decision" and entry.config_idx != config_idx:
                entry_problem(
                    f"entry {idx}: decision names config_idx {entry.config_idx} but the "
                    f"configuration in force was {config_idx}",
                    idx,
                )
            if columns is not None:
                _compare_columns(entry, columns, problem)
            if entry.is_config:
                config_idx = idx
            if idx == 0 and entry.kind == "log_genesis":
                untrusted = _untrusted_genesis_key(entry.payload, verifiers)
                if untrusted is not None:
                    problem(
                        f"entry 0: the log was created to be signed by {untrusted}, which is not "
                        "a trusted key (nor reached from one through a signed key rotation)",
                        0,
                    )
        recomputed = leaf_hash(body)
        if recomputed != row.leaf:
            entry_problem(
                f"entry {idx}: the stored leaf hash does not match the entry's bytes", idx
            )
        for level, index, value in tree.append(recomputed)[1:]:
            got = nodes.take(level, index)
            first, last = index << level, ((index + 1) << level) - 1
            if got is None:
                problem(
                    f"stored node (level {level}, index {index}) over entries "
                    f"{first}..{last} is missing",
                    first,
                )
            elif got != value and bad_in(first, last) is None:
                problem(
                    f"stored node (level {level}, index {index}) over entries "
                    f"{first}..{last} does not match them (the stored hash was changed)",
                    first,
                )
        size = idx + 1
        for label, root in wanted.get(size, ()):
            if root == tree.root():
                last_good_size = size
                continue
            culprit = bad_in(last_good_size, size - 1)
            if last_good_size == size:  # another checkpoint of this size matches the entries
                problem(
                    f"{label}: its signed root differs from the one another signed checkpoint "
                    f"of size {size} gives entries 0..{size - 1}: two histories under one key "
                    "(a fork)"
                )
            elif culprit is not None:
                problem(
                    f"{label}: its signed root does not match: entry {culprit} changed", culprit
                )
            else:
                problem(
                    f"{label}: its signed root does not match entries 0..{size - 1}; the "
                    f"entries and hashes agree with each other, so entries "
                    f"{last_good_size}..{size - 1} were rewritten consistently",
                    last_good_size,
                )
        if len(report.findings) >= max_findings:
            report.truncated = True
            break
    report.size = expected
    report.root = tree.root()
    if expected > 0 and not stored:
        problem(
            f"the store holds {expected} entries but no signed checkpoint: nothing vouches for "
            "them (a writer signs one at the latest when it closes; if this log is yours, sign "
            "one with `monday audit checkpoint`)"
        )
    for size in sorted(s for s in wanted if s > report.size):
        for label, _root in wanted[size]:
            what = "removed" if not broken else "missing"
            problem(
                f"{label} covers {size} entries but the store has {report.size}: entries "
                f"{report.size}..{size - 1} were {what} (truncated or rolled back)",
                report.size,
            )
    return report


def _entry_of(receipt: Receipt, entry: bytes | None) -> bytes:
    """The logged entry: the one given, else the one the receipt carries in ``extra``."""
    if entry is None and receipt.extra is None:
        raise InputError(
            "this receipt does not carry its entry",
            hint="pass the entry's exact bytes with --entry FILE",
        )
    if entry is not None and receipt.extra is not None and receipt.extra != entry:
        raise CheckFailed("the entry given differs from the one the receipt carries")
    leaf = entry if entry is not None else receipt.extra
    assert leaf is not None
    return leaf


def verify_receipt_bytes(
    data: bytes,
    verifiers: Sequence[NoteVerifier],
    *,
    entry: bytes | None = None,
    origin: str | None = None,
    min_cosignatures: int = 0,
) -> VerifiedReceipt:
    """Verify a ``.tlog-proof``; the entry comes from ``entry`` or the receipt's ``extra``.

    Raises :class:`~mondaytest.errors.CheckFailed` subclasses when it does not hold.
    """
    receipt = parse_receipt(data)
    leaf = _entry_of(receipt, entry)
    return verify_receipt(
        receipt, verifiers, leaf=leaf, origin=origin, min_cosignatures=min_cosignatures
    )


def verify_receipt_policy(
    data: bytes,
    policy: Policy,
    *,
    entry: bytes | None = None,
    origin: str | None = None,
    log_keys: Sequence[NoteVerifier] = (),
) -> tuple[VerifiedReceipt, PolicyResult]:
    """Verify a ``.tlog-proof`` under a C2SP trust policy: the log's signature, the witness
    quorum, then inclusion. ``log_keys`` add trusted log keys the policy does not list."""
    receipt = parse_receipt(data)
    leaf = _entry_of(receipt, entry)
    result = policy.check(receipt.checkpoint, origin=origin, log_keys=log_keys)
    cp = result.checkpoint
    prove_entry(leaf_hash(leaf), receipt.index, cp.size, receipt.proof, cp.root)
    return VerifiedReceipt(receipt.index, leaf_hash(leaf), cp, receipt.extra), result


def check_consistency(
    old_note: bytes,
    new_note: bytes,
    verifiers: Sequence[NoteVerifier],
    store: AuditStore,
    *,
    origin: str | None = None,
) -> tuple[Checkpoint, Checkpoint, list[bytes]]:
    """Verify both checkpoints and that ``old`` is a prefix of ``new`` (proof from the store).

    Returns both checkpoints and the consistency proof. Raises ``CheckFailed`` subclasses.
    """
    old = open_checkpoint(old_note, verifiers, origin=origin)
    new = open_checkpoint(new_note, verifiers, origin=origin or old.origin)
    if old.size > new.size:
        raise CheckFailed(
            f"NEW (size {new.size}) is smaller than OLD (size {old.size}): the log was rolled "
            "back, or the arguments are in the wrong order",
            hint="pass the older checkpoint first: consistency OLD NEW",
        )
    if new.size > store.size():
        raise CheckFailed(
            f"the store has {store.size()} entries, fewer than the newer checkpoint ({new.size})",
            hint="the store was rolled back or truncated",
        )
    if old.size == 0:
        return old, new, []
    if root_at(new.size, store) != new.root:  # the proof comes from the store: NEW first
        raise CheckFailed(
            f"NEW (size {new.size}) does not match the store: the store's entries "
            f"0..{new.size - 1} have another root",
            hint="the store and NEW disagree: a fork, or the store was rewritten after NEW was "
            "signed (or it belongs to another log); `monday audit fsck --checkpoint NEW` names "
            "the first entry that differs",
        )
    proof = consistency_proof(old.size, new.size, store)
    try:
        verify_consistency(old.size, new.size, proof, old.root, new.root)
    except ProofError as exc:
        raise ProofError(
            f"checkpoint of size {old.size} is not a prefix of the one of size {new.size}: "
            f"{exc.message}",
            hint="the log was rewritten between them (or they belong to different logs)",
        ) from None
    return old, new, proof


# --- whole store and tiles export, optionally under a trust policy --------------------------


def retention_min_index(entry: bytes) -> int | None:
    """The minimum index a ``retention`` entry declares; None for any other entry (or junk)."""
    if b'"retention"' not in entry:
        return None
    try:
        decoded = decode_entry(entry)
    except MondayError:
        return None
    if decoded.kind != "retention":
        return None
    value = decoded.payload.get("min_index")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


@dataclass(frozen=True)
class StorePolicyResult:
    """Where a store stands under a trust policy: the newest stored checkpoint that passes it."""

    witnessed: PolicyResult
    """The newest stored checkpoint that passes the policy (log signature and witness quorum)."""
    seq: int
    """Its row in the store (``StoredCheckpoint.seq``)."""
    newest_size: int
    """The size of the store's newest checkpoint."""
    newest_gap: str | None = None
    """Why the newest checkpoint does not meet the quorum; None when it is the one witnessed."""
    entries: int = 0
    """Entries in the store (recomputed by :func:`fsck` in :func:`verify_store`)."""

    @property
    def unwitnessed(self) -> int:
        """Entries after the witnessed checkpoint: not yet covered by one that passes."""
        return max(0, self.entries - self.witnessed.checkpoint.size)

    def describe(self) -> str:
        """One line for people: the witnessed checkpoint, then what is not yet witnessed."""
        pending = self.pending()
        return self.witnessed.describe() + (f"; {pending}" if pending else "")

    def pending(self) -> str | None:
        """What is not yet witnessed, for people; None when nothing is."""
        n = self.unwitnessed
        if not n:
            return None
        size = self.witnessed.checkpoint.size
        text = (
            f"{n} {'entry' if n == 1 else 'entries'} after it ({size}..{size + n - 1}) "
            f"{'is' if n == 1 else 'are'} not yet witnessed"
        )
        if self.newest_gap is not None:
            text += (
                f" (the newest checkpoint, at size {self.newest_size}, does not meet the quorum "
                f"yet: {self.newest_gap})"
            )
        elif self.newest_size < self.entries:
            text += " (no checkpoint covers them yet)"
        return text


def newest_witnessed_checkpoint(
    store: AuditStore,
    policy: Policy,
    *,
    origin: str | None = None,
    log_keys: Sequence[NoteVerifier] = (),
    checkpoints: Sequence[StoredCheckpoint] | None = None,
) -> StorePolicyResult:
    """The newest stored checkpoint that passes ``policy`` (log key and witness quorum).

    Stored checkpoints are checked newest first with :meth:`Policy.check
    <mondaytest.audit.policy.Policy.check>`, so cosignatures count exactly as for one
    checkpoint; one that falls short of the quorum is passed over, any other failure (no
    trusted log signature, a listed witness's cosignature that does not verify) raises.
    ``origin`` pins the log (default: the store's); ``log_keys`` add trusted log keys the
    policy does not list; ``checkpoints`` are the store's rows if already read.

    Raises :class:`~mondaytest.audit.policy.QuorumNotMet` (exit 1) naming the quorum and what
    the newest checkpoint carries when no stored checkpoint meets it, or another
    ``CheckFailed`` when there is no checkpoint at all. The result's ``entries`` is 0: the
    caller sets it (:func:`verify_store` does, after recomputing the store).
    """
    rows = list(store.checkpoints() if checkpoints is None else checkpoints)
    if not rows:
        raise CheckFailed(
            f"the log has no checkpoint, so nothing satisfies policy {policy.source}",
            hint="publish one with `monday audit checkpoint` and have the witnesses cosign it",
        )
    origin = origin or store.origin()
    newest = rows[-1]
    gap: QuorumNotMet | None = None
    for row in reversed(rows):
        try:
            result = policy.check(row.note, origin=origin, log_keys=log_keys)
        except QuorumNotMet as exc:
            if gap is None:
                gap = exc
            continue
        except NoteError as exc:  # a stored note that does not even parse: the store is damaged
            raise CheckFailed(
                f"stored checkpoint #{row.seq} (size {row.size}) is malformed: {exc.message}",
                hint="preserve the store as evidence; `monday audit fsck` lists every problem",
            ) from None
        except CheckFailed as exc:
            hint = exc.hint
            if row is newest and "no signature from a trusted key" in exc.message:
                rotated = (
                    "if the log's key was rotated, add its new vkey to the policy's `log` line"
                )
                hint = f"{hint}; {rotated}" if hint else rotated
            raise type(exc)(
                f"stored checkpoint #{row.seq} (size {row.size}): {exc.message}", hint=hint
            ) from None
        return StorePolicyResult(
            witnessed=result,
            seq=row.seq,
            newest_size=newest.size,
            newest_gap=(
                policy.explain(policy.quorum, policy.satisfied_names(gap.result.witnesses))
                if gap is not None
                else None
            ),
        )
    assert gap is not None
    older = len(rows) - 1
    raise QuorumNotMet(
        gap.message
        + (
            f"; none of the {older} older stored checkpoint{'s' if older > 1 else ''} meets "
            "it either"
            if older
            else ""
        ),
        result=gap.result,
        hint="have the witnesses cosign a checkpoint (`monday audit witness --key …`, then "
        "`monday audit cosign FILE`), or fix the policy",
    )


def verify_store(
    store: AuditStore,
    verifiers: Sequence[NoteVerifier],
    *,
    origin: str | None = None,
    saved: Iterable[tuple[str, bytes]] = (),
    deep: bool = False,
    policy: Policy | None = None,
) -> tuple[FsckReport, StorePolicyResult | None]:
    """Verify a whole store: with a ``policy``, find its newest checkpoint that passes the
    policy (:func:`newest_witnessed_checkpoint`); then :func:`fsck` everything.

    ``verifiers`` are the trusted log keys; with a ``policy`` they may be empty, and the
    policy's logs for the origin are trusted as well. The caller raises for the report's
    problems (:meth:`FsckReport.raise_for_problems`); a policy no stored checkpoint meets
    raises here. Entries after the witnessed checkpoint are
    :attr:`StorePolicyResult.unwitnessed`, not a failure.
    """
    result: StorePolicyResult | None = None
    trusted = list(verifiers)
    if policy is not None:
        result = newest_witnessed_checkpoint(store, policy, origin=origin, log_keys=verifiers)
        trusted += policy.log_verifiers(result.witnessed.checkpoint.origin)
    report = fsck(store, trusted, origin=origin, saved=saved, deep=deep)
    if result is not None:
        result = replace(result, entries=report.size)
    return report, result


def verify_tiles_export(
    directory: Path | str,
    verifiers: Sequence[NoteVerifier],
    *,
    origin: str | None = None,
    policy: Policy | None = None,
) -> tuple[TilesReport, PolicyResult | None]:
    """Verify a ``monday audit export --tiles`` directory, optionally under a trust policy.

    With ``policy``, the export's ``checkpoint`` must satisfy it first (``verifiers`` then only
    add log keys the policy does not list). Then every tile and every served entry is checked;
    entry bundles below the minimum index that the log's own ``retention`` entries declare may
    be absent (tlog-tiles pruning), any other absent bundle fails.
    """
    result: PolicyResult | None = None
    trusted = list(verifiers)
    if policy is not None:
        note = export_directory(directory)("checkpoint")
        result = policy.check(note, origin=origin, log_keys=verifiers)
        trusted += policy.log_verifiers(result.checkpoint.origin)
    report = verify_tiles(directory, trusted, origin=origin, declared_min_index=retention_min_index)
    return report, result
