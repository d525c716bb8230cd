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

from mondaytest.audit.entries import Entry, EntryFormatError, decode_entry, kinds
from mondaytest.audit.store.interface import StoredCheckpoint
from mondaytest.audit.verify import verify_receipt_bytes
from mondaytest.errors import CheckFailed, InputError, MondayError

if TYPE_CHECKING:
    from mondaytest.audit.log import AuditLog

__all__ = ["Check", "Explanation", "InForce", "explain"]

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
    _check_model(decision, in_force, checks)
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


def _newest_config_before(log: AuditLog, before: int) -> int | None:
    """Index of the newest configuration entry below ``before`` (genesis included)."""
    newest: int | None = None
    for kind in [*_config_kinds(), "log_genesis"]:
        rows = log.store.search(kind=kind, before=before, limit=1)
        if rows and (newest is None or rows[0].idx > newest):
            newest = rows[0].idx
    return newest


def _check_config_idx(log: AuditLog, decision: Entry, checks: list[Check]) -> int:
    """Check the decision's ``config_idx``; return the index the configuration is read at."""
    cfg = decision.config_idx
    newest = _newest_config_before(log, decision.idx)
    if cfg is None:
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
    target = log.entry(cfg)
    if not target.is_config:
        checks.append(
            Check(False, f"config_idx {cfg} is a {target.kind} entry, not a configuration change")
        )
    elif newest != cfg:
        checks.append(
            Check(
                False,
                f"config_idx {cfg} is not the last configuration change before the decision "
                f"(entry {newest} is)",
            )
        )
    else:
        checks.append(
            Check(True, f"config_idx {cfg} is the last configuration change before the decision")
        )
    return cfg


def _entries_back(log: AuditLog, kind: str, at: int) -> Iterator[Entry]:
    """Entries of ``kind`` at or before ``at``, newest first, a page at a time."""
    before = at + 1
    while True:
        rows = log.store.search(kind=kind, before=before, limit=_PAGE)
        for row in rows:
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
            if kind == "waiver" and not _waiver_stands(entry, decision.ts):
                continue
            approvals = _approvals(log, entry) if kind == "model_version" else ()
            out.append(InForce(kind=kind, key=key, entry=entry, approvals=approvals))
    return out


def _key_of(entry: Entry, key_field: str | None) -> str | None:
    if key_field is None:
        return None
    value = entry.payload.get(key_field)
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _waiver_stands(entry: Entry, at_ts: str) -> bool:
    """A waiver's newest entry is in force when it grants and had not expired at ``at_ts``
    (RFC 3339 UTC strings of one format compare in time order)."""
    if entry.payload.get("action") != "grant":
        return False
    expires = entry.payload.get("expires")
    return not (isinstance(expires, str) and expires <= at_ts)


def _approvals(log: AuditLog, release: Entry) -> tuple[Entry, ...]:
    refs: list[int] = []
    gates = release.payload.get("eval_gates")
    if isinstance(gates, list):
        refs.extend(i for i in gates if isinstance(i, int) and not isinstance(i, bool))
    for name in ("eval_gate_idx", "waiver_idx"):
        value = release.payload.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value not in refs:
            refs.append(value)
    out: list[Entry] = []
    for ref in refs:
        if 0 <= ref < release.idx:
            out.append(log.entry(ref))
    return tuple(out)


# -- checks ----------------------------------------------------------------------------------


def _model_of(decision: Entry) -> tuple[str, str | None] | None:
    model = decision.payload.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("id"), str):
        return None
    version = model.get("version")
    return model["id"], version if isinstance(version, str) else None


def _check_model(decision: Entry, in_force: list[InForce], checks: list[Check]) -> None:
    named = _model_of(decision)
    if named is None:
        checks.append(Check(None, "the decision names no model"))
        return
    model, version = named
    release = next((f for f in in_force if f.kind == "model_version" and f.key == model), None)
    if release is None:
        checks.append(Check(False, f"no model_version of {model} was recorded before the decision"))
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
    problems = _release_problems(release)
    gates = [a for a in release.approvals if a.kind == "eval_gate"]
    passed = [g for g in gates if g.payload.get("result") == "pass"]
    waivers = [a for a in release.approvals if a.kind == "waiver"]
    if problems:
        checks.append(Check(False, f"{model} {in_force_version}: {'; '.join(problems)}"))
    elif gates and len(passed) == len(gates):
        names = ", ".join(f"#{g.idx} ({g.payload.get('suite', '?')})" for g in gates)
        checks.append(Check(True, f"{model} {in_force_version} was approved by eval gate {names}"))
    elif gates:
        failed = ", ".join(f"#{g.idx}: {g.payload.get('result')}" for g in gates if g not in passed)
        checks.append(
            Check(
                False,
                f"{model} {in_force_version} is bound to gate verdicts that are not a pass "
                f"({failed})",
            )
        )
    elif waivers:
        w = waivers[0].payload
        checks.append(
            Check(
                None,
                f"{model} {in_force_version} was released under waiver #{waivers[0].idx} "
                f"(approved by {w.get('approver')}, expires {w.get('expires') or 'never'})",
            )
        )
    else:
        checks.append(
            Check(
                False,
                f"{model} {in_force_version} is bound to no eval gate verdict and no waiver",
            )
        )


def _release_problems(release: InForce) -> list[str]:
    problems: list[str] = []
    wanted = {
        "eval_gate_idx": "eval_gate",
        "waiver_idx": "waiver",
    }
    by_idx = {a.idx: a for a in release.approvals}
    payload = release.entry.payload
    refs: list[tuple[int, str]] = [
        (payload[name], kind)
        for name, kind in wanted.items()
        if isinstance(payload.get(name), int) and not isinstance(payload.get(name), bool)
    ]
    gates = payload.get("eval_gates")
    if isinstance(gates, list):
        refs.extend((i, "eval_gate") for i in gates if isinstance(i, int))
    for ref, kind in refs:
        found = by_idx.get(ref)
        if found is None:
            problems.append(f"it references {kind} entry {ref}, which is not before it")
        elif found.kind != kind:
            problems.append(f"it references entry {ref} as {kind}, but that entry is {found.kind}")
    return problems


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
    verifiers = log.verifiers()
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
        others = len(proved) - (1 if decision.idx in proved else 0)
        what = f"entry {decision.idx}" if decision.idx in proved else "the entries"
        if others:
            what += f" and the {others} entr{'y' if others == 1 else 'ies'} it ran under"
        checks.append(
            Check(
                True,
                f"{what}: inclusion proved against checkpoint #{checkpoint.seq} "
                f"(size {checkpoint.size}), signed with the log's key",
            )
        )
    return checkpoint
