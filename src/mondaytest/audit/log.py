"""The public face of the audit log: :func:`open_log` and :class:`AuditLog`.

::

    from mondaytest.audit import open_log

    with open_log("monday.yaml") as log:           # or open_log() for ./monday.yaml
        log.append("model_version", {"model": "scorer", "version": "2026.11.2"})
        idx = log.decision({"decision": "triage", "outcome": {"code": "refer"}})
        receipt = log.receipt(idx)                  # C2SP tlog-proof bytes

Every state change goes through :meth:`AuditLog.append` (a registered kind and its payload);
every customer-touching decision through :meth:`AuditLog.decision`. What a call waits for is
the durability (``audit.durability`` in the contract, or per call):

- ``async`` returns at once (None): the entry is queued; a crash loses the queue;
- ``sequenced`` (default) returns the index once the entry is committed;
- ``published`` returns the index once a signed checkpoint covers the entry.

For bulk writes (an import, a backfill, a batch job) :meth:`AuditLog.append_many` takes many
payloads of one kind: it validates them in one pass (same model, profile, 64 KiB limit and
bytes as one :meth:`AuditLog.append` at a time; the first bad one is named and nothing is
written) and sequences them in large transactions.

With ``fail_mode: closed`` a failed write raises :class:`~mondaytest.errors.StoreError` (no
decision without its record). With ``fail_mode: open`` the call returns None, the gap is
counted, and a ``fail_open`` entry records it as soon as writing works again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mondaytest.audit.entries import (
    DecisionPayload,
    Entry,
    EntryDraft,
    Payload,
    decode_entry,
    draft_decision,
    draft_entry,
    draft_many,
    draft_state_change,
    utc_timestamp,
)
from mondaytest.audit.keys import check_signer_matches, load_signer, parse_key_ref
from mondaytest.audit.merkle import inclusion_proof
from mondaytest.audit.note import Ed25519Signer, Ed25519Verifier, NoteError, parse_vkey
from mondaytest.audit.publisher import publish_checkpoint
from mondaytest.audit.receipt import build_receipt
from mondaytest.audit.sequencer import Sequencer
from mondaytest.audit.store import AuditStore, StoredCheckpoint, open_store, resolve_store_url
from mondaytest.audit.store.sqlite import SQLiteStore
from mondaytest.audit.vault import Vault
from mondaytest.audit.verify import FsckReport, fsck
from mondaytest.audit.writer import Durability, LoopWaker, Writer, WriterSettings
from mondaytest.errors import CheckFailed, ConfigError, InputError, MondayError, StoreError

if TYPE_CHECKING:
    from mondaytest.spec.audit import AuditSection
    from mondaytest.spec.loader import LoadedSpec

__all__ = ["AuditLog", "LogConfig", "open_log"]

log = logging.getLogger("mondaytest.audit")

FailMode = Literal["closed", "open"]


@dataclass(frozen=True)
class LogConfig:
    """Everything needed to open one log, resolved from the contract (or given directly)."""

    origin: str
    """The log's origin."""
    store_url: str
    """Store URL in force (``--store`` and ``MONDAY_DATABASE_URL`` already applied)."""
    base_dir: Path = field(default_factory=Path.cwd)
    """Directory that relative paths (store, key file) resolve against."""
    key: str | None = None
    """Signing key reference (``file:PATH`` / ``env:VAR``); None for a read-only log."""
    vkey: str | None = None
    """The verifier key the contract records."""
    extra_vkeys: tuple[str, ...] = ()
    """More trusted log keys (older keys of a rotated log)."""
    durability: Durability = "sequenced"
    """Default durability of appends."""
    fail_mode: FailMode = "closed"
    """What a failed write does."""
    retention: str = "P7Y"
    """Retention policy (recorded in the genesis entry)."""
    writer: WriterSettings = field(default_factory=WriterSettings)
    """Group commit and checkpoint cadence."""
    spec_digest: str | None = None
    """Digest of the contract (recorded in the genesis entry)."""
    spec_commit: str | None = None
    """Git commit of the contract (recorded in the genesis entry)."""
    vault_key: str | None = None
    """Master key reference of the evidence vault (None: no vault)."""
    witness_dir: str = ".monday-witness"
    """CI-as-witness directory (relative to ``base_dir``)."""
    policy: str | None = None
    """C2SP tlog-policy file for verification (relative to ``base_dir``)."""

    @classmethod
    def from_section(
        cls,
        section: AuditSection,
        base_dir: Path,
        *,
        store: str | None = None,
        spec_digest: str | None = None,
        spec_commit: str | None = None,
    ) -> LogConfig:
        """Resolve an ``audit`` section of the contract."""
        settings = WriterSettings(
            max_batch=section.batching.max_entries,
            max_wait=section.batching.max_wait_ms / 1000,
            checkpoint_interval=section.checkpoints.interval.approx_timedelta().total_seconds(),
            republish_interval=section.checkpoints.republish.approx_timedelta().total_seconds(),
        )
        return cls(
            origin=section.origin,
            store_url=resolve_store_url(section.store, store),
            base_dir=base_dir,
            key=section.key,
            vkey=section.vkey,
            durability=section.durability,
            fail_mode=section.fail_mode,
            retention=str(section.retention),
            writer=settings,
            spec_digest=spec_digest,
            spec_commit=spec_commit,
            vault_key=section.vault_key,
            witness_dir=section.witness.dir,
            policy=section.witness.policy,
        )

    @classmethod
    def from_spec(cls, spec: LoadedSpec, *, store: str | None = None) -> LogConfig:
        """Resolve the ``audit`` section of a loaded contract."""
        from mondaytest.spec.provenance import git_info

        return cls.from_section(
            spec.model.audit,
            spec.root_dir,
            store=store,
            spec_digest=spec.digest,
            spec_commit=git_info(spec.root_dir).commit,
        )

    def verifiers(self) -> list[Ed25519Verifier]:
        """Trusted log keys: the contract's vkey and any extra (rotated) ones."""
        out: list[Ed25519Verifier] = []
        for number, text in enumerate((self.vkey, *self.extra_vkeys)):
            if not text:
                continue
            try:
                out.append(parse_vkey(text))
            except NoteError as exc:
                # The text is not echoed: it may be a private key pasted by mistake.
                which = "the vkey" if number == 0 else f"extra vkey #{number}"
                raise ConfigError(
                    f"{which} is malformed: {exc.message}", field="audit.vkey"
                ) from None
        return out


_PLACEHOLDER_TOKEN = "tok:" + "A" * 22
_PLACEHOLDER_COMMITMENT = "c:" + "A" * 43


class ErasureNotScrubbed(StoreError):  # noqa: N818 - reads as a state, like the vault's errors
    """An erasure is recorded, but old page images survive in the write-ahead log."""


class AuditLog:
    """An open audit log: appends go through one writer thread; reads use the store directly.

    Open it with :func:`open_log`; close it (or use ``with``) to commit what is queued and
    publish a final checkpoint.
    """

    def __init__(
        self,
        config: LogConfig,
        store: AuditStore,
        signers: Sequence[Ed25519Signer] = (),
    ) -> None:
        self.config = config
        self.store = store
        self.signers = list(signers)
        self._writer: Writer | None = None
        self._writer_lock = threading.Lock()
        self._state_lock = threading.Lock()  # guards _gap
        self._gap: tuple[int, str, str] | None = None  # (lost, since, reason) in fail-open mode
        self._vault: Vault | None = None
        self._wakers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopWaker] = (
            weakref.WeakKeyDictionary()
        )
        self._last_waker: LoopWaker | None = None
        self._closed = False

    # -- properties ------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        """The log's origin."""
        return self.config.origin

    def verifiers(self) -> list[Ed25519Verifier]:
        """Keys trusted for this log's checkpoints."""
        return self.config.verifiers()

    # -- writing ---------------------------------------------------------------------------

    def _genesis(self) -> EntryDraft:
        spec: dict[str, str] = {}
        if self.config.spec_commit:
            spec["commit"] = self.config.spec_commit
        if self.config.spec_digest:
            spec["digest"] = self.config.spec_digest
        payload: dict[str, Any] = {
            "origin": self.origin,
            "vkey": self.signers[0].vkey if self.signers else self.config.vkey,
            "retention": self.config.retention,
        }
        if spec:
            payload["spec"] = spec
        return draft_state_change("log_genesis", payload, origin=self.origin)

    def _get_writer(self) -> Writer:
        writer = self._writer
        if writer is not None and not self._closed and writer.alive:
            return writer  # the common case, without the lock
        if self._closed:
            raise StoreError("the audit log is closed")
        if not self.signers:
            raise ConfigError(
                "this audit log was opened read-only (no signing key)",
                hint="set audit.key in monday.yaml (run `monday audit keygen`)",
                field="audit.key",
            )
        with self._writer_lock:
            if self._writer is None or not self._writer.alive:
                if self._writer is not None and self._writer.fatal is not None:
                    raise self._writer.fatal
                self._writer = Writer(
                    self.store,
                    self.origin,
                    self.signers,
                    self.config.writer,
                    genesis=self._genesis,
                )
            return self._writer

    def draft(
        self,
        kind: str,
        payload: Mapping[str, Any] | Payload,
        *,
        actor: str | None = None,
        entry_id: str | None = None,
        ts: str | None = None,
    ) -> EntryDraft:
        """Validate an entry without writing it (``kind="decision"`` for a decision)."""
        return draft_entry(kind, payload, origin=self.origin, actor=actor, entry_id=entry_id, ts=ts)

    def append(
        self,
        kind: str,
        payload: Mapping[str, Any] | Payload,
        *,
        actor: str | None = None,
        durability: Durability | None = None,
    ) -> int | None:
        """Record a state change of a registered ``kind``; return its index (None if async).

        Raises :class:`~mondaytest.errors.InputError` for an unknown kind or a payload outside
        its model or the JSON profile — before anything is written.
        """
        return self.append_drafts([self.draft(kind, payload, actor=actor)], durability)[0]

    def append_many(
        self,
        kind: str,
        payloads: Sequence[Mapping[str, Any] | Payload],
        *,
        actor: str | None = None,
        durability: Durability | None = None,
    ) -> list[int | None]:
        """Record many entries of one ``kind`` (``"decision"`` for decisions); the bulk path.

        Every payload is validated first, in one pass (the same model, restricted JSON profile
        and 64 KiB limit as :meth:`append`, and the same bytes); the first bad one raises
        :class:`~mondaytest.errors.InputError` naming its position and nothing is written.
        Then they are sequenced in order, in transactions of up to
        :data:`~mondaytest.audit.writer.MAX_SUBMISSION` entries. Returns their indexes (None
        each when ``async``).
        """
        return self.append_drafts(self.draft_many(kind, payloads, actor=actor), durability)

    def draft_many(
        self,
        kind: str,
        payloads: Sequence[Mapping[str, Any] | Payload],
        *,
        actor: str | None = None,
    ) -> list[EntryDraft]:
        """Validate many payloads of one ``kind`` in one pass without writing them (the first
        half of :meth:`append_many`; same bytes as :meth:`draft` one by one)."""
        return draft_many(kind, payloads, origin=self.origin, actor=actor)

    def decision(
        self,
        payload: Mapping[str, Any] | DecisionPayload | None = None,
        *,
        actor: str | None = None,
        durability: Durability | None = None,
        subject_id: str | None = None,
        raw: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> int | None:
        """Record one customer-touching decision; return its index (None if async).

        Pass a :class:`~mondaytest.audit.entries.DecisionPayload`, a mapping, or its fields as
        keywords (``decision="triage", outcome={"code": "refer"}``). ``config_idx`` is filled in
        by the store: the last configuration change in force when the decision is sequenced.

        Personal data never goes in the entry: give the person's id as ``subject_id`` and the
        raw values as ``raw`` (e.g. ``{"input": prompt, "output": answer}``). They are stored
        encrypted in the vault; the entry gets the subject's token and a salted commitment per
        value (``input``/``output`` fields, the rest under ``outcome.commitments``).
        """
        draft = self._decision_draft(payload, fields, actor, subject_id, raw)
        return self.append_drafts([draft], durability)[0]

    async def adecision(
        self,
        payload: Mapping[str, Any] | DecisionPayload | None = None,
        *,
        actor: str | None = None,
        durability: Durability | None = None,
        subject_id: str | None = None,
        raw: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> int | None:
        """:meth:`decision` for coroutines (an ASGI service, a worker on an event loop).

        Validation runs inline (microseconds); the commit is awaited without blocking the
        loop, and every task whose entry went into one group commit is woken by one loop
        callback — the way to reach the log's full rate from a single process. Raw values
        (``subject_id``/``raw``) are sealed into the vault inline: one local write.
        """
        draft = self._decision_draft(payload, fields, actor, subject_id, raw)
        return (await self.aappend_drafts([draft], durability))[0]

    async def aappend(
        self,
        kind: str,
        payload: Mapping[str, Any] | Payload,
        *,
        actor: str | None = None,
        durability: Durability | None = None,
    ) -> int | None:
        """:meth:`append` for coroutines."""
        draft = self.draft(kind, payload, actor=actor)
        return (await self.aappend_drafts([draft], durability))[0]

    async def aappend_drafts(
        self, drafts: Sequence[EntryDraft], durability: Durability | None = None
    ) -> list[int | None]:
        """:meth:`append_drafts` for coroutines: await the indexes (or the checkpoint)."""
        mode = durability or self.config.durability
        self._raise_async_error()
        try:
            writer = self._get_writer()
            if mode == "async":
                writer.submit(drafts, mode)
                return [None] * len(drafts)
            items = drafts if isinstance(drafts, list) else list(drafts)
            waker = self._waker()
            out: list[int | None]
            if len(items) <= writer.settings.max_batch:
                # joins this loop tick's submission: one queue operation for many tasks
                sub, offset, fut = waker.add(writer, items, mode)
                await fut  # raises the write's error
                first = sub.first
                assert first is not None
                first += offset
                out = list(range(first, first + len(items)))
            else:
                out = []
                for sub in writer.submit(items, mode, waker):
                    out.extend(await sub.wait_async(sub.waiter))
        except StoreError as exc:
            return self._write_failed(exc, len(drafts))
        if self._gap is not None:
            await asyncio.to_thread(self._close_gap)
        return out

    def _waker(self) -> LoopWaker:
        """The waker of the running event loop (one per loop, made on first use)."""
        loop = asyncio.get_running_loop()
        last = self._last_waker
        if last is not None and last.serves(loop):
            return last  # the common case: the same loop as last time, no dictionary lookup
        waker = self._wakers.get(loop)
        if waker is None:
            with self._state_lock:
                waker = self._wakers.setdefault(loop, LoopWaker(loop))
        self._last_waker = waker
        return waker

    def _decision_draft(
        self,
        payload: Mapping[str, Any] | DecisionPayload | None,
        fields: Mapping[str, Any],
        actor: str | None,
        subject_id: str | None,
        raw: Mapping[str, Any] | None,
    ) -> EntryDraft:
        if payload is not None and fields:
            raise InputError("pass the decision either as a payload or as keywords, not both")
        body: Mapping[str, Any] | DecisionPayload = payload if payload is not None else fields
        if subject_id is not None or raw:
            plain = dict(
                body.model_dump(mode="json", exclude_none=True)
                if isinstance(body, DecisionPayload)
                else body
            )
            self._seal_raw(plain, subject_id, raw or {})
            body = plain
        return draft_decision(body, origin=self.config.origin, actor=actor)

    def _seal_raw(
        self, body: dict[str, Any], subject_id: str | None, raw: Mapping[str, Any]
    ) -> None:
        if subject_id is None:
            raise InputError("raw values need the subject_id they belong to")
        # the decision must be valid before any raw value reaches the vault: check it with
        # placeholders where the token and the commitments will go
        trial = dict(body, subject=_PLACEHOLDER_TOKEN)
        others: dict[str, str] = {}
        for name in raw:
            if name in ("input", "output"):
                trial[name] = _PLACEHOLDER_COMMITMENT
            else:
                others[name] = _PLACEHOLDER_COMMITMENT
        if others:
            trial["outcome"] = {**dict(trial.get("outcome") or {}), "commitments": others}
        draft_decision(trial, origin=self.config.origin)
        vault = self.vault()
        refs = vault.put_many(subject_id, raw) if raw else {}
        body["subject"] = refs[next(iter(refs))].token if refs else vault.token(subject_id)
        extra: dict[str, str] = {}
        for name, ref in refs.items():
            if name in ("input", "output"):
                body[name] = ref.commitment
            else:
                extra[name] = ref.commitment
        if extra:
            outcome = dict(body.get("outcome") or {})
            outcome["commitments"] = extra
            body["outcome"] = outcome

    def scrub(self, timeout: float | None = None) -> bool:
        """Checkpoint and truncate the store's write-ahead log, so no page image of erased
        vault material survives there; False while readers keep it busy."""
        return self.vault().scrub(timeout)

    def vault(self) -> Vault:
        """The evidence vault beside the log (opened on first use; needs ``audit.vault_key``)."""
        with self._writer_lock:
            if self._vault is None:
                if self.config.vault_key is None:
                    raise ConfigError(
                        "no vault key is configured",
                        field="audit.vault_key",
                        hint="run `monday audit keygen --vault`",
                    )
                path = getattr(self.store, "path", None)
                if path is None:  # pragma: no cover - only SQLite stores exist yet
                    raise ConfigError("the vault needs a SQLite store", field="audit.store")
                self._vault = Vault.open(path, self.config.vault_key, self.config.base_dir)
            return self._vault

    def erase(self, subject_id: str, *, legal_basis_ref: str | None = None) -> tuple[int, int]:
        """Erase a person from the vault and record an ``erasure`` entry (GDPR Art. 17).

        Returns ``(entry index, records destroyed)``. Every proof keeps verifying; the person's
        commitments in old entries can no longer be opened. A subject the vault does not know
        raises :class:`~mondaytest.audit.vault.UnknownSubject` (exit 2) and nothing is written.

        The vault material is destroyed first, then the entry is written; when writing it fails
        the error says so, and the same call again writes the entry that is owed. Raises
        :class:`ErasureNotScrubbed` (exit 3) when readers kept the write-ahead log from being
        truncated (old page images survive there until ``scrub``).
        """
        payload_check = {"subject": "tok:check", "legal_basis_ref": legal_basis_ref}
        self.draft("erasure", {k: v for k, v in payload_check.items() if v is not None})
        self._get_writer()  # a read-only or stopped log refuses before anything is destroyed
        vault = self.vault()
        receipt = vault.erase(subject_id, owe_entry=True)  # or the earlier one still owed
        owed = (
            "the subject's vault material is destroyed but its erasure entry is not written; "
            "run the same erase again to write it"
        )
        try:
            idx = self.append(
                "erasure",
                receipt.payload(legal_basis_ref=legal_basis_ref),
                durability="sequenced",
            )
        except MondayError as exc:
            raise type(exc)(f"{exc.message} ({owed})", hint=exc.hint) from None
        if idx is None:  # fail_mode: open swallowed the write failure
            raise StoreError(f"the audit log did not take the erasure entry ({owed})")
        vault.finish_erasure(subject_id)
        if not vault.scrub():
            raise ErasureNotScrubbed(
                f"erasure entry {idx} is written and the vault material deleted, but the "
                "database's write-ahead log still holds old pages: a reader kept it open",
                hint="run `monday audit scrub` once long reads (exports, backups) are done",
            )
        return idx, receipt.records

    def append_drafts(
        self, drafts: Sequence[EntryDraft], durability: Durability | None = None
    ) -> list[int | None]:
        """Write validated drafts in order (one group commit when they fit); return indexes."""
        mode = durability or self.config.durability
        self._raise_async_error()
        try:
            writer = self._get_writer()
            subs = writer.submit(drafts, mode)
            if mode == "async":
                return [None] * len(drafts)
            out: list[int | None] = []
            for sub in subs:
                out.extend(sub.wait(published=mode == "published"))
        except StoreError as exc:
            return self._write_failed(exc, len(drafts))
        self._close_gap()
        return out

    def _raise_async_error(self) -> None:
        writer = self._writer
        if writer is None or not writer.has_async_error:
            return
        error, lost = writer.take_async_failure()
        if error is None:
            return
        if self.config.fail_mode == "closed":
            raise error
        self._write_failed(error, max(lost, 1))

    def _write_failed(self, exc: MondayError, count: int) -> list[int | None]:
        if self.config.fail_mode == "closed":
            raise exc
        with self._state_lock:
            lost, since, _ = self._gap or (0, utc_timestamp(), "")
            self._gap = (lost + count, since, exc.message)
        log.warning("audit write failed (fail_mode: open, %d lost so far): %s", lost + count, exc)
        return [None] * count

    def _close_gap(self) -> None:
        with self._state_lock:
            gap, self._gap = self._gap, None
        if gap is None:
            return
        lost, since, reason = gap
        payload = {"reason": reason[:500], "lost": lost, "since": since, "until": utc_timestamp()}
        try:
            for sub in self._get_writer().submit([self.draft("fail_open", payload)]):
                sub.wait()
        except StoreError:
            with self._state_lock:
                self._gap = (lost, since, reason)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every entry submitted so far is committed."""
        if self._writer is not None:
            self._writer.flush(timeout)
        self._raise_async_error()

    def checkpoint(self) -> StoredCheckpoint:
        """Commit what is queued, verify the tree and publish a fresh signed checkpoint now."""
        if not self.signers:
            raise ConfigError(
                "cannot sign a checkpoint without the log's key",
                hint="set audit.key (run `monday audit keygen`)",
                field="audit.key",
            )
        self.flush()
        if self.store.size() == 0:  # an empty log gets its genesis entry first
            Sequencer(self.store, self.origin, self._genesis).append([])
        made = publish_checkpoint(self.store, self.origin, self.signers, republish=True)
        if made is None:  # pragma: no cover - republish always signs
            latest = self.store.latest_checkpoint()
            assert latest is not None
            return latest
        return made

    def receipt(self, index_or_id: str | int, *, include_entry: bool = True) -> bytes:
        """A C2SP ``tlog-proof`` for one entry (by index or id), as bytes.

        It is proved against the newest checkpoint; when none covers the entry yet and the key
        is loaded, a checkpoint is published first. With ``include_entry`` the entry's bytes
        ride in the receipt's ``extra`` line, so the receipt verifies on its own.
        """
        idx = self.find(index_or_id)
        self._check_served(idx)
        cp = self.store.latest_checkpoint()
        if cp is None or cp.size <= idx:
            if not self.signers:
                raise InputError(
                    f"no checkpoint covers entry {idx} yet",
                    hint="publish one with `monday audit checkpoint` (needs the key)",
                )
            cp = self.checkpoint()
        row = self.store.entry(idx)
        if row is None:  # pragma: no cover - find() checked the size
            raise InputError(f"the log has no entry {idx}")
        proof = inclusion_proof(idx, cp.size, self.store)
        return build_receipt(
            idx, proof, cp.note, leaf=row.body, extra=row.body if include_entry else None
        )

    # -- reading ---------------------------------------------------------------------------

    def size(self) -> int:
        """Number of entries committed."""
        return self.store.size()

    def min_index(self) -> int:
        """Entries below this index were pruned by retention: they are no longer served."""
        value = self.store.get_meta("min_index")
        return int(value) if value else 0

    def _check_served(self, idx: int) -> None:
        floor = self.min_index()
        if idx < floor:
            raise InputError(
                f"entry {idx} is below the log's minimum index {floor}: retention pruned it",
                hint="pruned entries are kept for fsck but no longer served",
            )

    def entry(self, idx: int) -> Entry:
        """The entry at ``idx`` (:class:`InputError` if there is none or it was pruned)."""
        self._check_served(idx)
        row = self.store.entry(idx)
        if row is None:
            raise InputError(f"the log has no entry {idx} (size {self.store.size()})")
        return decode_entry(row.body)

    def find(self, index_or_id: str | int) -> int:
        """Resolve an entry index or an entry/decision id to an index."""
        digits = isinstance(index_or_id, str) and index_or_id.isascii() and index_or_id.isdigit()
        if isinstance(index_or_id, int) or digits:
            if digits and len(str(index_or_id)) > 20:
                raise InputError(f"the log has no entry {str(index_or_id)[:24]}… (too large)")
            idx = int(index_or_id)
            if idx >= self.store.size():
                raise InputError(f"the log has no entry {idx} (size {self.store.size()})")
            return idx
        found = self.store.find_entry_ids(index_or_id, limit=3)
        if not found:
            raise InputError(
                f"no entry with id {index_or_id!r}",
                hint="pass an entry index or the id printed when it was appended",
            )
        if len(found) > 1:
            raise InputError(
                f"more than one entry has the id {index_or_id!r} (entries {found[0]} and "
                f"{found[1]}{' and more' if len(found) > 2 else ''})",
                hint="pass the entry's index instead (`monday audit log --grep` finds them)",
            )
        return found[0]

    def tail(self, n: int = 20, *, kind: str | None = None, text: str | None = None) -> list[Entry]:
        """The newest ``n`` entries (of one kind, or containing ``text``), oldest first."""
        rows = self.store.search(kind=kind, text=text, limit=n)
        floor = self.min_index()
        return [decode_entry(r.body) for r in reversed(rows) if r.idx >= floor]

    def backup(self, path: str | os.PathLike[str]) -> FsckReport:
        """Write an online, consistent copy of the store to ``path`` and fsck the copy.

        Raises :class:`~mondaytest.errors.CheckFailed` when the copy does not verify. The copy
        holds the vault's encrypted values too: erasures must reach backups by their expiry.
        """
        parent = Path(path).resolve().parent
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise InputError(
                f"cannot write {path}: {parent} is not a directory you can write to",
                hint="pass a backup path in an existing, writable directory",
            )
        self.flush()
        latest = self.store.latest_checkpoint()
        if self.signers and (latest is None or latest.size < self.store.size()):
            self.checkpoint()  # the copy carries a signed checkpoint of everything it holds
        source_size = self.store.size()
        self.store.backup(str(path))
        copy = SQLiteStore(Path(path).resolve())  # by path: a name with ? or # is a file name
        try:
            report = fsck(copy, self.verifiers(), origin=self.origin)
        finally:
            copy.close()
        try:
            report.raise_for_problems()
            if report.size < source_size:
                raise CheckFailed(
                    f"the backup at {path} holds {report.size} entries, fewer than the "
                    f"{source_size} the log had when it was taken"
                )
        except CheckFailed as exc:
            for suffix in ("", "-wal", "-shm"):  # a copy that does not verify is no backup
                Path(f"{Path(path).resolve()}{suffix}").unlink(missing_ok=True)
            raise CheckFailed(
                f"{exc.message} (the copy did not verify and was removed)", hint=exc.hint
            ) from None
        return report

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The newest stored checkpoint."""
        return self.store.latest_checkpoint()

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Commit what is queued, publish a final checkpoint and close the store.

        In ``fail_mode: open``, a gap of lost entries not recorded yet is written as its
        ``fail_open`` entry first (logged as an error when even that fails)."""
        if self._closed:
            return
        writer = self._writer
        try:
            if writer is not None and self._gap is not None:
                self._close_gap()
                if self._gap is not None:
                    log.error(
                        "audit log closed with %d entries lost and no fail_open entry for them",
                        self._gap[0],
                    )
            self._closed = True
            if writer is not None:
                writer.close()
                self._raise_async_error()
        finally:
            self._closed = True
            if self._vault is not None:
                self._vault.close()
            self.store.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def next_key_file(key_file: Path) -> Path:
    """The incoming key of a rotation under way, beside ``key_file`` (see ``rotation``)."""
    return key_file.with_name(key_file.name + ".next")


def _load_signers(config: LogConfig) -> list[Ed25519Signer]:
    """The log key (checked against the vkey), plus the incoming key during a rotation."""
    if config.key is None:
        return []
    signer = load_signer(config.key, base_dir=config.base_dir)
    if config.vkey is None:
        raise ConfigError(
            "audit.vkey is not set, so the signing key cannot be checked",
            hint="run `monday audit keygen` (it records the vkey in monday.yaml)",
            field="audit.vkey",
        )
    check_signer_matches(signer, config.vkey)
    signers = [signer]
    ref = parse_key_ref(config.key, config.base_dir)
    if ref.kind == "file" and next_key_file(Path(ref.target)).exists():
        incoming = load_signer(f"file:{next_key_file(Path(ref.target))}")
        if incoming.name != signer.name:
            raise ConfigError(
                f"the incoming key {next_key_file(Path(ref.target))} is named "
                f"{incoming.name!r}, not {signer.name!r}",
                hint="finish or undo the rotation",
            )
        signers.append(incoming)
    return signers


def open_log(
    spec: LoadedSpec | LogConfig | str | os.PathLike[str] | None = None,
    *,
    store: str | None = None,
    readonly: bool = False,
    durability: Durability | None = None,
    writer: WriterSettings | None = None,
    store_readonly: bool = False,
) -> AuditLog:
    """Open the audit log of a contract.

    ``spec`` is a loaded contract, a path to ``monday.yaml`` (default: the nearest one), or a
    ready :class:`LogConfig`. ``store`` overrides the store URL (as ``--store`` does;
    ``MONDAY_DATABASE_URL`` is applied too). ``readonly`` skips loading the signing key;
    ``store_readonly`` also opens the store read-only (it must exist and be an audit store;
    nothing is created, migrated or written). A key
    that does not match the contract's vkey raises
    :class:`~mondaytest.audit.keys.KeyMismatch` and nothing is written.
    """
    if isinstance(spec, LogConfig):
        config = spec
        if store is not None:
            config = replace(config, store_url=store)
    else:
        if spec is None or isinstance(spec, str | os.PathLike):
            from mondaytest.spec import load_spec

            loaded = load_spec(spec)
        else:
            loaded = spec
        config = LogConfig.from_spec(loaded, store=store)
    if durability is not None:
        config = replace(config, durability=durability)
    if writer is not None:
        config = replace(config, writer=writer)
    signers = [] if readonly else _load_signers(config)
    handle = open_store(config.store_url, base_dir=config.base_dir, readonly=store_readonly)
    try:
        stored = handle.origin()
        if stored is not None and stored != config.origin:
            raise ConfigError(
                f"the store {config.store_url} holds the log {stored!r}, not {config.origin!r}",
                hint="one store holds one log: fix audit.origin or audit.store",
                field="audit.origin",
            )
    except BaseException:
        handle.close()
        raise
    return AuditLog(config, handle, signers)
