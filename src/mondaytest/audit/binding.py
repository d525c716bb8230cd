"""The rules that bind a decision to the configuration it ran under.

Shared by ``monday audit why`` (one decision, read back through the store's search) and
``monday audit monitor`` (every decision, in one pass over the log). They read payloads as the
log holds them: the field names are part of the log's format.

- A decision names its model as ``model: {id, version}``; the version in force for that id is
  the newest ``model_version`` entry of it at or before the decision's ``config_idx``.
- A ``model_version`` entry is **approved** when every ``eval_gate`` entry it is bound to
  (``eval_gate_idx``, ``eval_gates``) is a ``pass``; it is **waived** when a ``waiver`` entry
  (``waiver_idx``) stands in instead; otherwise it is not approved. A reference must point at
  an earlier entry of the right kind.
- A ``waiver`` is in force while its newest entry grants it and it has not expired.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

__all__ = [
    "Lookup",
    "approval",
    "approval_refs",
    "decision_model",
    "waiver_stands",
]

_LEAP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:)60(.*)$")

Lookup = Callable[[int], tuple[str, Mapping[str, Any]] | None]
"""Entry index → (kind, payload) of an earlier entry, or None when there is none."""


def decision_model(payload: Mapping[str, Any]) -> tuple[str, str | None] | None:
    """The ``(model id, version)`` a decision names, or None."""
    model = payload.get("model")
    if not isinstance(model, Mapping) or not isinstance(model.get("id"), str):
        return None
    version = model.get("version")
    return model["id"], version if isinstance(version, str) else None


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def approval_refs(release: Mapping[str, Any]) -> list[tuple[int, str]]:
    """The ``(index, kind)`` entries a ``model_version`` payload says approved it."""
    refs: list[tuple[int, str]] = []
    gates = release.get("eval_gates")
    if isinstance(gates, list):
        refs.extend((i, "eval_gate") for i in gates if _int(i))
    gate = release.get("eval_gate_idx")
    if isinstance(gate, int) and _int(gate) and (gate, "eval_gate") not in refs:
        refs.append((gate, "eval_gate"))
    waiver = release.get("waiver_idx")
    if isinstance(waiver, int) and _int(waiver):
        refs.append((waiver, "waiver"))
    return refs


def approval(
    release: Mapping[str, Any],
    release_idx: int,
    lookup: Lookup,
    *,
    at_ts: str | None = None,
    newest_waiver: Callable[[str], Mapping[str, Any] | None] | None = None,
) -> tuple[bool | None, str]:
    """Whether a ``model_version`` entry (at ``release_idx``) was approved.

    Returns ``(True, how)`` for passing gate verdicts, ``(None, how)`` for a waiver still in
    force at ``at_ts`` (a decision's time; any time when None), ``(False, why)`` otherwise;
    ``how``/``why`` completes a sentence starting with the model and version. A waiver is in
    force while the newest waiver entry of its target (``newest_waiver(target)``, as of the
    decision) grants it and has not expired.
    """
    refs = approval_refs(release)
    problems: list[str] = []
    gates: list[tuple[int, Mapping[str, Any]]] = []
    waivers: list[tuple[int, Mapping[str, Any]]] = []
    for ref, kind in refs:
        found = lookup(ref) if 0 <= ref < release_idx else None
        if found is None:
            problems.append(f"it references {kind} entry {ref}, which is not before it")
        elif found[0] != kind:
            problems.append(f"it references entry {ref} as {kind}, but that entry is {found[0]}")
        elif kind == "eval_gate":
            gates.append((ref, found[1]))
        else:
            waivers.append((ref, found[1]))
    if problems:
        return False, "; ".join(problems)
    if gates:
        failed = [(i, g) for i, g in gates if g.get("result") != "pass"]
        if failed:
            listed = ", ".join(f"#{i}: {g.get('result')}" for i, g in failed)
            return False, f"is bound to gate verdicts that are not a pass ({listed})"
        names = ", ".join(f"#{i} ({g.get('suite', '?')})" for i, g in gates)
        return True, f"was approved by eval gate {names}"
    if waivers:
        i, w = waivers[0]
        if w.get("action") != "grant":
            return False, f"is bound to waiver entry #{i}, which revokes a waiver, not grants one"
        current = w
        target = w.get("target")
        if newest_waiver is not None and isinstance(target, str):
            current = newest_waiver(target) or w
        if current.get("action") != "grant":
            return False, f"was released under waiver #{i}, revoked before the decision"
        if at_ts is not None and not waiver_stands(current, at_ts):
            return False, (
                f"was released under waiver #{i}, which had expired ({current.get('expires')}) "
                f"by the decision's time {at_ts}"
            )
        w = current
        return None, (
            f"was released under waiver #{i} (approved by {w.get('approver')}, expires "
            f"{w.get('expires') or 'never'})"
        )
    return False, "is bound to no eval gate verdict and no waiver"


def _instant(text: str) -> datetime | None:
    """An RFC 3339 date-time (``T``/``Z`` in either case, any offset, a leap second read as the
    next instant); None when it is not one."""
    norm = text.strip().upper().replace("Z", "+00:00")
    leap = _LEAP.match(norm)
    if leap is not None:  # 23:59:60 → 23:59:59 plus one second
        norm = leap.group(1) + "59" + leap.group(2)
    try:
        moment = datetime.fromisoformat(norm)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None  # RFC 3339 requires an offset
    return moment + timedelta(seconds=1) if leap is not None else moment


def waiver_stands(waiver: Mapping[str, Any], at_ts: str) -> bool:
    """True when a waiver's newest entry grants it and it had not expired at ``at_ts``
    (RFC 3339). An expiry that cannot be read counts as expired: fail closed."""
    if waiver.get("action") != "grant":
        return False
    expires = waiver.get("expires")
    if expires is None:
        return True
    until = _instant(expires) if isinstance(expires, str) else None
    at = _instant(at_ts)
    return until is not None and at is not None and at < until
