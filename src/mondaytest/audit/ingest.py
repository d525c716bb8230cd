"""Entries from JSON lines (``monday audit append``): one object per line, checked before any write.

Each line is ``{"kind": "<registered kind>" | "decision", "payload": {…}}`` with optional
``"actor"`` (a ``tok:`` token), ``"id"`` and ``"ts"``; ``{"type": "decision", …}`` is accepted
for decisions too. Blank lines are skipped. The first bad line raises
:class:`~mondaytest.errors.InputError` naming its line number, and nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mondaytest.audit.entries import EntryDraft
from mondaytest.errors import InputError, Location, MondayError

__all__ = ["drafts_from_lines"]

_ALLOWED = {"kind", "type", "payload", "actor", "id", "ts"}

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
    if obj.get("type") == "decision" and kind in (None, "decision"):
        kind = "decision"
    elif "type" in obj and obj["type"] != "state_change":
        raise _line_error(
            source, number, f"type must be decision or state_change, not {obj['type']!r}"
        )
    if not isinstance(kind, str):
        raise _line_error(
            source, number, 'missing "kind"', hint='e.g. {"kind": "decision", "payload": {...}}'
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


def drafts_from_lines(
    lines: Iterable[str | bytes], draft: Drafter, *, source: str = "<stdin>"
) -> list[EntryDraft]:
    """Validate every line into a draft (``draft`` is :meth:`AuditLog.draft`)."""
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
            obj = json.loads(raw, parse_constant=_reject_constant)
        except ValueError as exc:
            raise _line_error(source, number, f"not JSON: {exc}") from None
        out.append(_one(obj, source, number, draft))
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
