"""Replay the log and check that every decision is bound to approved configuration.

``monday audit monitor`` turns the log from passive evidence into checked evidence: one pass
over every entry, in order, keeping the configuration in force, and for every decision:

- ``config_idx``: its ``config_idx`` is the index of the last configuration change before it
  (the store fills it in; a rewritten or re-ordered entry breaks it);
- ``model``: the model it names had been announced by a ``model_version`` entry, and the version
  it names is the one in force;
- ``approval``: that ``model_version`` entry is bound to passing ``eval_gate`` verdicts, or to a
  waiver still in force at the decision's time (decisions under a waiver are counted, not
  failed; see :mod:`mondaytest.audit.binding`).

It reads entries as they are stored; whether they are intact is ``monday audit fsck``'s job
(run both: fsck proves the bytes, the monitor proves what they say fits together). Entries
below the log's retention minimum are not served and are skipped, so a pruned log is
monitored from its minimum index with the configuration recorded after it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from mondaytest.audit.binding import approval, approval_refs, decision_model
from mondaytest.audit.store.interface import AuditStore

__all__ = ["MonitorReport", "Violation", "monitor"]

RULES = ("config_idx", "model", "approval")
"""The rules, in the order they are checked."""


@dataclass(frozen=True)
class Violation:
    """A decision that breaks a rule."""

    idx: int
    """The decision's index."""
    rule: str
    """One of :data:`RULES`."""
    text: str
    """What is wrong, in one sentence."""


@dataclass
class MonitorReport:
    """What one pass over the log found."""

    start: int = 0
    """First index read."""
    end: int = 0
    """One past the last index read (the log's size)."""
    decisions: int = 0
    """Decisions checked."""
    waived: int = 0
    """Decisions whose model version stood on a waiver instead of a passing gate."""
    unreadable: int = 0
    """Entries that could not be decoded (fsck names them)."""
    unchecked: int = 0
    """Decisions of a pruned log whose model was announced, or approved, below the minimum
    index (that configuration is no longer served, so they cannot be checked)."""
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RULES, 0))
    """Violations per rule."""
    violations: list[Violation] = field(default_factory=list)
    """The first violations (up to ``max_violations``)."""

    @property
    def ok(self) -> bool:
        """True when no decision breaks a rule and every entry could be read."""
        return not any(self.counts.values()) and not self.unreadable

    def to_json(self) -> dict[str, Any]:
        """JSON form (what ``monday audit monitor --format json`` prints)."""
        return {
            "ok": self.ok,
            "start": self.start,
            "end": self.end,
            "decisions": self.decisions,
            "waived": self.waived,
            "unchecked": self.unchecked,
            "unreadable": self.unreadable,
            "counts": dict(self.counts),
            "violations": [{"idx": v.idx, "rule": v.rule, "text": v.text} for v in self.violations],
        }


@dataclass
class _Release:
    idx: int
    version: Any
    verdict: bool | None
    how: str
    refs: dict[int, tuple[str, Mapping[str, Any]]]
    payload: Mapping[str, Any]
    pruned: bool
    """Bound to entries below the minimum index: its approval cannot be checked."""


_DECODE = msgspec.json.Decoder()


def monitor(
    store: AuditStore,
    *,
    start: int = 0,
    max_violations: int = 200,
    progress: Callable[[int, int], None] | None = None,
) -> MonitorReport:
    """Replay ``store`` from ``start`` (at least its minimum served index) and check every
    decision; ``progress(done, total)`` is called every 65,536 entries."""
    size = store.size()
    floor = _min_index(store)
    report = MonitorReport(start=max(start, floor), end=size)
    last_config: int | None = None
    releases: dict[str, _Release] = {}
    approvals: dict[int, tuple[str, Mapping[str, Any]]] = {}  # state changes by index
    waivers: dict[str, Mapping[str, Any]] = {}  # the newest waiver entry per target

    def violation(idx: int, rule: str, text: str) -> None:
        report.counts[rule] += 1
        if len(report.violations) < max_violations:
            report.violations.append(Violation(idx, rule, text))

    done = 0
    for row in store.entries(report.start, size):
        done += 1
        if progress is not None and done % 65536 == 0:
            progress(done, size - report.start)
        try:
            fields = _DECODE.decode(row.body)
        except msgspec.DecodeError:
            report.unreadable += 1
            continue
        if not isinstance(fields, dict) or not isinstance(fields.get("payload"), dict):
            report.unreadable += 1
            continue
        payload: dict[str, Any] = fields["payload"]
        idx = row.idx
        if fields.get("type") == "decision":
            report.decisions += 1
            _check_decision(idx, fields, payload, last_config, releases, waivers, report, violation)
            continue
        kind = fields.get("kind")
        if not isinstance(kind, str):
            continue
        # every state change's kind (a reference to the wrong kind is named as such); the
        # payloads of the kinds that approve releases
        approvals[idx] = (kind, payload if kind in ("eval_gate", "waiver") else {})
        if kind == "waiver" and isinstance(payload.get("target"), str):
            waivers[payload["target"]] = payload
        if fields.get("config") is not True:  # the entry's own mark: any domain's kind counts
            continue
        last_config = idx
        if kind == "model_version" and isinstance(payload.get("model"), str):
            verdict, how = approval(payload, idx, approvals.get)
            pruned = any(0 <= ref < report.start for ref, _ in approval_refs(payload))
            releases[payload["model"]] = _Release(
                idx, payload.get("version"), verdict, how, approvals, payload, pruned
            )
    if progress is not None:
        progress(done, size - report.start)
    return report


def _check_decision(
    idx: int,
    fields: Mapping[str, Any],
    payload: Mapping[str, Any],
    last_config: int | None,
    releases: Mapping[str, _Release],
    waivers: Mapping[str, Mapping[str, Any]],
    report: MonitorReport,
    violation: Callable[[int, str, str], None],
) -> None:
    cfg = fields.get("config_idx")
    if (last_config is not None or report.start == 0) and cfg != last_config:
        violation(
            idx,
            "config_idx",
            f"config_idx is {cfg}, but the last configuration change before it is {last_config}",
        )
    named = decision_model(payload)
    if named is None:
        return
    model, version = named
    release = releases.get(model)
    if release is None:
        if report.start > 0:  # announced below the minimum index, perhaps: not served any more
            report.unchecked += 1
        else:
            violation(idx, "model", f"{model} had not been announced by a model_version entry")
        return
    if version is not None and version != release.version:
        violation(
            idx,
            "model",
            f"the decision used {model} {version}, but {release.version} was in force "
            f"(entry {release.idx})",
        )
    if release.pruned:
        report.unchecked += 1
        return
    verdict, how = release.verdict, release.how
    if verdict is None:  # a waiver: it must still stand (granted, unexpired) at the decision
        ts = fields.get("ts")
        verdict, how = approval(
            release.payload,
            release.idx,
            release.refs.get,
            at_ts=ts if isinstance(ts, str) else "",
            newest_waiver=waivers.get,
        )
        if verdict is None:
            report.waived += 1
            return
    if verdict is False:
        violation(idx, "approval", f"{model} {release.version} {how}")


def _min_index(store: AuditStore) -> int:
    value = store.get_meta("min_index")
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0
