"""Entries from JSON lines (``monday audit append``): one object per line, checked before any write.

Each line is ``{"kind": "<registered kind>" | "decision", "payload": {…}}`` with optional
``"actor"`` (a ``tok:`` token), ``"id"`` and ``"ts"``; ``{"type": "decision", …}`` is accepted
for decisions too. Blank lines are skipped. The first bad line raises
:class:`~mondaytest.errors.InputError` naming its line number, and nothing is written.

Kinds that record what Monday itself did to the log (:data:`RESERVED_KINDS`: its creation, a
key rotation, an erasure, a retention cut) are refused: each is written by its own command,
together with the act it records, and a line claiming one would record an act that never
happened. A line with a duplicate key is refused too (which value would count?).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mondaytest.audit.entries import EntryDraft, draft_entry
from mondaytest.audit.store.interface import AuditStore
from mondaytest.errors import InputError, Location, MondayError

__all__ = ["RESERVED_KINDS", "drafter_for", "drafts_from_lines", "refuse_taken_ids"]

_ALLOWED = {"kind", "type", "payload", "actor", "id", "ts"}

RESERVED_KINDS: dict[str, str] = {
    "log_genesis": "the log writes it once, when the store is created",
    "key_rotation": "`monday audit rotate-key` writes it, signed by both keys",
    "erasure": "`monday audit erase SUBJECT` writes it, together with the erasure",
    "retention": "`monday audit retention` writes it, together with the pruning",
}
"""Kinds ``monday audit append`` refuses, and what writes each of them."""

Drafter = Callable[..., EntryDraft]


def _line_error(source: str, number: int, message: str, hint: str | None = None) -> InputError:
    return InputError(message, hint=hint, location=Location(source, number))


def _one(obj: Any, source: str, number: int, draft: Drafter) -> EntryDraft:
    if not isinstance(obj, Mapping):
        raise _line_error(source, number, "each line must be a JSON object")
    unknown = sorted(set(obj) - _ALLOWED)
    if unknown:
        raise _line_error(
            source,
            number,
            f"unknown field {unknown[0]!r}",
            hint='write {"kind": "...", "payload": {...}} (optional: actor, id, ts)',
        )
    kind = obj.get("kind")
    etype = obj.get("type")
    if "type" in obj and etype not in ("decision", "state_change"):
        raise _line_error(source, number, f"type must be decision or state_change, not {etype!r}")
    if etype == "decision" and kind is None:
        kind = "decision"
    elif "type" in obj and isinstance(kind, str) and (kind == "decision") != (etype == "decision"):
        raise _line_error(
            source,
            number,
            f'"type": {etype!r} and "kind": {kind!r} disagree',
            hint='a decision is {"kind": "decision", …}; a state change names its kind '
            '(the "type" field can be left out)',
        )
    if not isinstance(kind, str):
        raise _line_error(
            source, number, 'missing "kind"', hint='e.g. {"kind": "decision", "payload": {...}}'
        )
    if kind in RESERVED_KINDS:
        raise _line_error(
            source,
            number,
            f"{kind} entries cannot be appended: {RESERVED_KINDS[kind]}",
            hint="append decisions and the state changes of your system (`monday audit log "
            "--kind` lists the kinds)",
        )
    if "payload" not in obj:
        raise _line_error(source, number, 'missing "payload" (a JSON object)')
    for name in ("actor", "id", "ts"):
        if name in obj and not isinstance(obj[name], str):
            raise _line_error(source, number, f'"{name}" must be a string')
    try:
        return draft(
            kind, obj["payload"], actor=obj.get("actor"), entry_id=obj.get("id"), ts=obj.get("ts")
        )
    except MondayError as exc:
        raise InputError(
            exc.message, hint=exc.hint, field=exc.field, location=Location(source, number)
        ) from None


def drafter_for(origin: str) -> Drafter:
    """A drafter for the log ``origin`` that needs no open store: lines are checked before the
    store is opened (or created), so bad input leaves nothing behind."""
    return functools.partial(draft_entry, origin=origin)


def drafts_from_lines(
    lines: Iterable[str | bytes], draft: Drafter, *, source: str = "<stdin>"
) -> list[EntryDraft]:
    """Validate every line into a draft (``draft`` is :meth:`AuditLog.draft`, or
    :func:`drafter_for` the log's origin)."""
    out: list[EntryDraft] = []
    for number, raw in enumerate(lines, 1):
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _line_error(source, number, f"not UTF-8 (byte {exc.start})") from None
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw, parse_constant=_reject_constant, object_pairs_hook=_object)
        except _DuplicateKeyError as exc:
            raise _line_error(
                source, number, f"the key {exc.key!r} appears twice in one object"
            ) from None
        except ValueError as exc:
            if "integer string conversion" in str(exc):  # CPython's digit limit
                raise _line_error(
                    source,
                    number,
                    "a number has thousands of digits",
                    hint="entries hold integers between -(2^53-1) and 2^53-1; write larger "
                    "values as strings",
                ) from None
            raise _line_error(source, number, f"not JSON: {exc}") from None
        except RecursionError:
            raise _line_error(
                source,
                number,
                "the JSON is nested too deeply",
                hint="entries hold at most 64 levels of nesting",
            ) from None
        out.append(_one(obj, source, number, draft))
    return out


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def refuse_taken_ids(drafts: Iterable[EntryDraft], store: AuditStore | None) -> None:
    """Refuse drafts whose id an earlier draft, or an entry of ``store``, already has: an id
    two entries share can no longer name either (lookups by id refuse it as ambiguous)."""
    seen: set[str] = set()
    for d in drafts:
        taken = store is not None and bool(store.find_entry_ids(d.entry_id, limit=1))
        if d.entry_id in seen or taken:
            raise InputError(
                f"the id {d.entry_id!r} is taken: "
                + ("another line has it" if d.entry_id in seen else "an entry of the log has it"),
                hint="give each entry its own id, or leave the id out for a fresh UUIDv7",
                field="id",
            )
        seen.add(d.entry_id)
