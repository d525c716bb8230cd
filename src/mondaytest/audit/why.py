"""Why a decision was made: the decision, the configuration it ran under, and the proof.

``monday audit why INDEX|ID`` answers the auditor's question from the log alone:

- the **decision** entry itself (what was decided, by which model, under which guardrails);
- the **configuration in force** when it was sequenced: for every configuration kind (model
  versions, guardrail configurations, waivers, prompts, thresholds, and any kind a domain
  registers with ``config=True``), the newest entry of each configured thing (the kind's
  ``config_key``) at or before the decision's ``config_idx``; waivers only while granted and
  not expired at the decision's time;
- what **approved** each model version in force: the ``eval_gate`` verdict(s) or the waiver its
  ``model_version`` entry is bound to;
- **checks**, each holding or not: ``config_idx`` is the last configuration change before the
  decision (the store filled it in; a rewritten entry would break it), the decision's model is
  the version in force, that version was approved by a passing gate (a waiver is reported, not
  failed), every guardrail the decision names has a configuration on record, and every entry
  shown is proved to be in the log by an inclusion proof against the newest signed checkpoint,
  verified with the log's key.

This module reads payloads as the log holds them (field names are part of the log's format), so
it needs no domain's code; kinds are known through the registry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from mondaytest.audit.binding import approval, approval_refs, decision_model, waiver_stands
from mondaytest.audit.entries import Entry, EntryFormatError, decode_entry, kinds
from mondaytest.audit.store.interface import StoredCheckpoint
from mondaytest.audit.verify import follow_rotations, verify_receipt_bytes
from mondaytest.errors import CheckFailed, InputError, MondayError

if TYPE_CHECKING:
    from mondaytest.audit.log import AuditLog

__all__ = ["Check", "Explanation", "InForce", "explain"]

_DECODE = msgspec.json.Decoder()

_PAGE = 500
"""Entries read per query while walking back through one configuration kind."""
_MAX_PER_KIND = 20_000
"""Most entries of one configuration kind read back (the explanation says when it stopped)."""


@dataclass(frozen=True)
class Check:
    """One thing the explanation checked."""

    ok: bool | None
    """True: it holds. False: it does not (exit 1). None: worth knowing, not a failure."""
    text: str
    """What was checked, in one sentence."""

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"ok": self.ok, "text": self.text}


@dataclass(frozen=True)
class InForce:
    """A configuration entry in force for the decision."""

    kind: str
    """The configuration kind (``model_version`` …)."""
    key: str | None
    """What it configures (the model id, the guardrail id …); None for a one-of-a-kind."""
    entry: Entry
    """The entry."""
    approvals: tuple[Entry, ...] = ()
    """For a model version: the ``eval_gate`` and ``waiver`` entries it is bound to."""

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "kind": self.kind,
            "key": self.key,
            "idx": self.entry.idx,
            "ts": self.entry.ts,
            "payload": self.entry.payload,
            "approvals": [
                {"idx": a.idx, "kind": a.kind, "payload": a.payload} for a in self.approvals
            ],
        }


@dataclass(frozen=True)
class Explanation:
    """Everything the log says about one decision."""

    decision: Entry
    """The decision entry."""
    in_force: tuple[InForce, ...]
    """The configuration in force, by kind then key."""
    checks: tuple[Check, ...]
    """What was checked."""
    checkpoint: StoredCheckpoint | None
    """The signed checkpoint the proofs were verified against (None: none covers it yet)."""
    truncated: tuple[str, ...] = field(default=())
    """Configuration kinds whose history was longer than the explanation reads back."""

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return all(c.ok is not False for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        """JSON form (what ``monday audit why --format json`` prints)."""
        return {
            "ok": self.ok,
            "decision": {
                "idx": self.decision.idx,
                "id": self.decision.id,
                "ts": self.decision.ts,
                "config_idx": self.decision.config_idx,
                "payload": self.decision.payload,
            },
            "in_force": [f.to_json() for f in self.in_force],
            "checks": [c.to_json() for c in self.checks],
            "checkpoint": None
            if self.checkpoint is None
            else {"seq": self.checkpoint.seq, "size": self.checkpoint.size},
            "truncated": list(self.truncated),
        }


def explain(log: AuditLog, index_or_id: str | int) -> Explanation:
    """Explain one decision of ``log`` (by index or entry id).

    Raises :class:`~mondaytest.errors.InputError` when there is no such entry or it is not a
    decision. Checks that do not hold are reported in the result, not raised.
    """
    idx = log.find(index_or_id)
    decision = log.entry(idx)
    if decision.type != "decision":
        raise InputError(
            f"entry {idx} is a {decision.kind} state change, not a decision",
            hint="list decisions with `monday audit log --kind decision`",
        )
    checks: list[Check] = []
    truncated: list[str] = []
    at = _check_config_idx(log, decision, checks)
    in_force = _in_force(log, decision, at, truncated)
    _add_unregistered(log, decision, in_force)
    _check_model(log, decision, at, in_force, checks)
    _check_guardrails(decision, in_force, checks)
    checkpoint = _check_proofs(log, decision, in_force, checks)
    return Explanation(
        decision=decision,
        in_force=tuple(in_force),
        checks=tuple(checks),
        checkpoint=checkpoint,
        truncated=tuple(truncated),
    )


# -- configuration in force ------------------------------------------------------------------


def _config_kinds() -> list[str]:
    return sorted(name for name, info in kinds().items() if info.config and name != "log_genesis")


_CONFIG_MARK = b'"config":true'
"""What the envelope of a configuration entry holds (the bytes are canonical: no spaces)."""


def _says_config(body: bytes) -> bool:
    """True when the entry's own envelope marks it configuration (whatever kinds this process
    knows: a domain whose code is not installed here still marks its entries)."""
    if _CONFIG_MARK not in body:
        return False
    try:
        fields = _DECODE.decode(body)
    except msgspec.DecodeError:
        return False
    return isinstance(fields, dict) and fields.get("config") is True


def _config_between(log: AuditLog, first: int, end: int) -> int | None:
    """The newest entry in ``[first, end)`` whose envelope marks it configuration (the store
    finds candidates by their bytes; each is confirmed by decoding its envelope)."""
    before = end
    while True:
        rows = log.store.search(text=_CONFIG_MARK.decode(), before=before, limit=_PAGE)
        for row in rows:
            if row.idx < first:
                return None
            if _says_config(row.body):
                return row.idx
        if len(rows) < _PAGE:
            return None
        before = rows[-1].idx


def _check_config_idx(log: AuditLog, decision: Entry, checks: list[Check]) -> int:
    """Check the decision's ``config_idx``; return the index the configuration is read at.

    The store filled ``config_idx`` in with the last configuration entry before the decision,
    so no entry between the two may be configuration: the entries in between are read (their
    own envelopes say whether they are, so a kind this process does not know counts too)."""
    cfg = decision.config_idx
    floor = log.min_index()
    if cfg is None:
        newest = _config_between(log, floor, decision.idx)
        if newest is None:
            checks.append(Check(None, "no configuration change was recorded before the decision"))
        else:
            checks.append(
                Check(
                    False,
                    f"the decision has no config_idx, but configuration entry {newest} was "
                    "recorded before it",
                )
            )
        return decision.idx - 1
    if cfg >= decision.idx:
        checks.append(Check(False, f"config_idx {cfg} is not before the decision"))
        return decision.idx - 1
    if cfg < floor:
        checks.append(
            Check(
                None,
                f"config_idx {cfg} is below the log's minimum index {floor} (pruned by "
                "retention): the entry it names is no longer served",
            )
        )
        later = _config_between(log, floor, decision.idx)
        if later is not None:
            checks.append(
                Check(
                    False,
                    f"config_idx {cfg} is not the last configuration change before the decision "
                    f"(entry {later} is)",
                )
            )
        return cfg
    target = log.entry(cfg)
    later = _config_between(log, cfg + 1, decision.idx)
    if not target.is_config:
        checks.append(
            Check(False, f"config_idx {cfg} is a {target.kind} entry, not a configuration change")
        )
    elif later is not None:
        checks.append(
            Check(
                False,
                f"config_idx {cfg} is not the last configuration change before the decision "
                f"(entry {later} is)",
            )
        )
    else:
        checks.append(
            Check(True, f"config_idx {cfg} is the last configuration change before the decision")
        )
    return cfg


def _entries_back(log: AuditLog, kind: str, at: int) -> Iterator[Entry]:
    """Entries of ``kind`` at or before ``at`` and at or above the log's minimum index, newest
    first, a page at a time."""
    before = at + 1
    floor = log.min_index()
    while True:
        rows = log.store.search(kind=kind, before=before, limit=_PAGE)
        for row in rows:
            if row.idx < floor:
                return
            try:
                yield decode_entry(row.body, full_check=False)
            except EntryFormatError:
                continue  # fsck names it; the explanation goes on with the rest
        if len(rows) < _PAGE:
            return
        before = rows[-1].idx


def _in_force(log: AuditLog, decision: Entry, at: int, truncated: list[str]) -> list[InForce]:
    registry = kinds()
    out: list[InForce] = []
    for kind in _config_kinds():
        key_field = registry[kind].config_key
        seen: dict[str | None, Entry] = {}
        read = 0
        for entry in _entries_back(log, kind, at):
            read += 1
            if read > _MAX_PER_KIND:
                truncated.append(kind)
                break
            key = _key_of(entry, key_field)
            if key in seen:
                continue
            seen[key] = entry
            if key_field is None:
                break
        for key, entry in sorted(seen.items(), key=lambda kv: kv[0] or ""):
            if kind == "waiver" and not waiver_stands(entry.payload, decision.ts):
                continue
            approvals = _approvals(log, entry) if kind == "model_version" else ()
            out.append(InForce(kind=kind, key=key, entry=entry, approvals=approvals))
    return out


def _add_unregistered(log: AuditLog, decision: Entry, in_force: list[InForce]) -> None:
    """Show the entry at ``config_idx`` when its kind is configuration this process has no
    model for (a domain whose code is not installed): its newest entry is all that is known."""
    cfg = decision.config_idx
    if cfg is None or not log.min_index() <= cfg < decision.idx:
        return
    target = log.entry(cfg)
    known = set(_config_kinds()) | {"log_genesis"}
    if target.is_config and target.kind not in known:
        in_force.append(InForce(kind=target.kind, key=None, entry=target))


def _key_of(entry: Entry, key_field: str | None) -> str | None:
    if key_field is None:
        return None
    value = entry.payload.get(key_field)
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _approvals(log: AuditLog, release: Entry) -> tuple[Entry, ...]:
    """The earlier entries a ``model_version`` entry says approved it (as they are; those
    below the log's minimum index are no longer served)."""
    floor = log.min_index()
    return tuple(
        log.entry(ref)
        for ref, _kind in approval_refs(release.payload)
        if floor <= ref < release.idx
    )


# -- checks ----------------------------------------------------------------------------------


def _check_model(
    log: AuditLog, decision: Entry, at: int, in_force: list[InForce], checks: list[Check]
) -> None:
    named = decision_model(decision.payload)
    if named is None:
        checks.append(Check(None, "the decision names no model"))
        return
    model, version = named
    release = next((f for f in in_force if f.kind == "model_version" and f.key == model), None)
    if release is None:
        floor = log.min_index()
        if floor > 0:
            checks.append(
                Check(
                    None,
                    f"no model_version of {model} at or after the log's minimum index {floor}: "
                    "it was announced before (pruned by retention), or never; not checked",
                )
            )
        else:
            checks.append(
                Check(False, f"no model_version of {model} was recorded before the decision")
            )
        return
    in_force_version = release.entry.payload.get("version")
    if version is not None and version != in_force_version:
        checks.append(
            Check(
                False,
                f"the decision used {model} {version}, but {in_force_version} was in force "
                f"(entry {release.entry.idx})",
            )
        )
    else:
        checks.append(
            Check(True, f"{model} {in_force_version} was in force (entry {release.entry.idx})")
        )
    floor = log.min_index()
    pruned = [ref for ref, _ in approval_refs(release.entry.payload) if 0 <= ref < floor]
    if pruned:
        checks.append(
            Check(
                None,
                f"{model} {in_force_version} is bound to entries below the log's minimum index "
                f"{floor} ({', '.join(map(str, pruned))}; pruned by retention): not checked",
            )
        )
        return
    found = {a.idx: (a.kind, a.payload) for a in release.approvals}

    def newest_waiver(target: str) -> dict[str, Any] | None:
        for entry in _entries_back(log, "waiver", at):
            if entry.payload.get("target") == target:
                return entry.payload
        return None

    ok, how = approval(
        release.entry.payload,
        release.entry.idx,
        found.get,
        at_ts=decision.ts,
        newest_waiver=newest_waiver,
    )
    checks.append(Check(ok, f"{model} {in_force_version} {how}"))


def _check_guardrails(decision: Entry, in_force: list[InForce], checks: list[Check]) -> None:
    ran = decision.payload.get("guardrails")
    if not isinstance(ran, list) or not ran:
        return
    configured = {f.key for f in in_force if f.kind == "guardrail_config"}
    for item in ran:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        gid = item["id"]
        base = gid.split("@", 1)[0]
        if gid in configured or base in configured:
            checks.append(
                Check(True, f"guardrail {gid} ({item.get('result')}) has a configuration on record")
            )
        else:
            checks.append(
                Check(
                    None,
                    f"guardrail {gid} ({item.get('result')}) has no guardrail_config entry "
                    "before the decision",
                )
            )


def _check_proofs(
    log: AuditLog, decision: Entry, in_force: list[InForce], checks: list[Check]
) -> StoredCheckpoint | None:
    checkpoint = log.store.latest_checkpoint()
    if checkpoint is None or checkpoint.size <= decision.idx:
        checks.append(
            Check(
                None,
                f"entry {decision.idx} is not yet covered by a signed checkpoint "
                "(run `monday audit checkpoint`)",
            )
        )
        return None
    verifiers = follow_rotations(log.store, log.verifiers(), log.origin)  # across rotations
    if not verifiers:
        checks.append(Check(None, "no log key to verify the proofs with (pass --vkey)"))
        return checkpoint
    shown = [decision.idx, *(f.entry.idx for f in in_force)]
    shown.extend(a.idx for f in in_force for a in f.approvals)
    proved: list[int] = []
    for idx in dict.fromkeys(shown):
        try:
            verify_receipt_bytes(log.receipt(idx), verifiers, origin=log.origin)
        except CheckFailed as exc:
            checks.append(Check(False, f"entry {idx} does not verify: {exc.message}"))
            continue
        except MondayError as exc:  # e.g. below the retention minimum: no longer served
            checks.append(Check(None, f"entry {idx} could not be proved: {exc.message}"))
            continue
        proved.append(idx)
    if proved:
        own = decision.idx in proved
        others = len(proved) - (1 if own else 0)
        ran_under = f"the {others} entr{'y' if others == 1 else 'ies'} it ran under"
        if own:
            what = f"entry {decision.idx}" + (f" and {ran_under}" if others else "")
        else:  # the decision itself failed above: only what it ran under was proved
            what = ran_under
        checks.append(
            Check(
                True,
                f"{what}: inclusion proved against checkpoint #{checkpoint.seq} "
                f"(size {checkpoint.size}), signed with the log's key",
            )
        )
    return checkpoint
