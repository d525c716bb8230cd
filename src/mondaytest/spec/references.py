"""Checks across sections: unique ids, references that resolve, files that exist.

Field-level rules live on the models; these need the whole contract (and its directory), so
they run after the models validate and report every problem with its path in the document.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mondaytest.spec.model import MondaySpec

__all__ = ["Problem", "check_references"]

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One cross-section problem: where (document path), what, and how to fix it."""

    path: Path_
    message: str
    hint: str | None = None


def _suggest(name: str, known: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f"did you mean {close[0]!r}?" if close else None


def _unknown(path: Path_, what: str, name: str, known: Iterable[str]) -> Problem:
    known = sorted(known)
    hint = _suggest(name, known) or (
        f"known {what}s: {', '.join(known)}" if known else f"declare the {what} first"
    )
    return Problem(path, f"unknown {what} {name!r}", hint)


def _duplicates(section: str, ids: list[str], id_key: str = "id") -> list[Problem]:
    seen: dict[str, int] = {}
    out: list[Problem] = []
    for i, item_id in enumerate(ids):
        if item_id in seen:
            out.append(
                Problem(
                    (section, i, id_key),
                    f"duplicate id {item_id!r} (first used at {section}[{seen[item_id]}])",
                    "give every entry its own id",
                )
            )
        else:
            seen[item_id] = i
    return out


def check_references(spec: MondaySpec, root_dir: Path) -> list[Problem]:
    """Return every cross-section problem in ``spec``; empty when the contract is consistent."""
    problems: list[Problem] = []
    people_ids = [p.id for p in spec.owners.original_team] + [p.id for p in spec.owners.operations]
    n_orig = len(spec.owners.original_team)
    seen_people: dict[str, Path_] = {}
    for i, pid in enumerate(people_ids):
        path: Path_ = (
            ("owners", "original_team", i, "id")
            if i < n_orig
            else ("owners", "operations", i - n_orig, "id")
        )
        if pid in seen_people:
            first = ".".join(str(p) for p in seen_people[pid][:-1])
            problems.append(
                Problem(path, f"duplicate id {pid!r} (first used at {first})", "ids are unique")
            )
        else:
            seen_people[pid] = path
    people = set(people_ids)

    problems += _duplicates("decisions", [d.id for d in spec.decisions])
    problems += _duplicates("failure_modes", [f.id for f in spec.failure_modes])
    problems += _duplicates("guardrails", [g.id for g in spec.guardrails])

    guard_ids = {g.id for g in spec.guardrails}
    for i, d in enumerate(spec.decisions):
        for j, gid in enumerate(d.guardrails):
            if gid not in guard_ids:
                problems.append(
                    _unknown(("decisions", i, "guardrails", j), "guardrail", gid, guard_ids)
                )

    decision_ids = {d.id for d in spec.decisions}
    for i, fm in enumerate(spec.failure_modes):
        runbook = root_dir / fm.runbook
        if not runbook.is_file():
            problems.append(
                Problem(
                    ("failure_modes", i, "runbook"),
                    f"runbook file {fm.runbook!r} does not exist",
                    f"create {runbook} (see `monday init` for a template) or fix the path",
                )
            )
        for j, did in enumerate(fm.decisions):
            if did not in decision_ids:
                problems.append(
                    _unknown(("failure_modes", i, "decisions", j), "decision", did, decision_ids)
                )
    if spec.system.risk in ("high", "limited") and len(spec.failure_modes) < 3:
        problems.append(
            Problem(
                ("failure_modes",),
                f"a {spec.system.risk}-risk system needs at least three failure modes, "
                f"found {len(spec.failure_modes)}",
                "list the top three ways it fails in production, each with a runbook",
            )
        )

    for name, suite in spec.evals.suites.items():
        dataset = root_dir / suite.dataset
        if not dataset.is_file():
            problems.append(
                Problem(
                    ("evals", "suites", name, "dataset"),
                    f"dataset file {suite.dataset!r} does not exist",
                    f"create {dataset} or fix the path",
                )
            )

    for i, g in enumerate(spec.guardrails):
        for j, w in enumerate(g.waivers):
            if w.approver not in people:
                problems.append(
                    _unknown(
                        ("guardrails", i, "waivers", j, "approver"), "person", w.approver, people
                    )
                )

    oc = spec.oncall
    for rname, rot in oc.rotations.items():
        for j, member in enumerate(rot.members):
            if member not in people:
                problems.append(
                    _unknown(("oncall", "rotations", rname, "members", j), "person", member, people)
                )
    for i, ov in enumerate(oc.overrides):
        if ov.rotation not in oc.rotations:
            problems.append(
                _unknown(
                    ("oncall", "overrides", i, "rotation"), "rotation", ov.rotation, oc.rotations
                )
            )
        if ov.who not in people:
            problems.append(_unknown(("oncall", "overrides", i, "who"), "person", ov.who, people))
        if ov.end <= ov.start:
            problems.append(
                Problem(
                    ("oncall", "overrides", i, "to"),
                    "override ends before it starts",
                    "make `to` later than `from`",
                )
            )
    for pname, policy in oc.escalation.items():
        for li, level in enumerate(policy.levels):
            for j, target in enumerate(level.notify):
                kind, _, name = target.partition(":")
                where: Path_ = ("oncall", "escalation", pname, "levels", li, "notify", j)
                if kind == "rotation" and name not in oc.rotations:
                    problems.append(_unknown(where, "rotation", name, oc.rotations))
                elif kind == "person" and name not in people:
                    problems.append(_unknown(where, "person", name, people))
    for i, route in enumerate(oc.routes):
        if route.policy not in oc.escalation:
            problems.append(
                _unknown(
                    ("oncall", "routes", i, "policy"),
                    "escalation policy",
                    route.policy,
                    oc.escalation,
                )
            )
        fm_ids = {f.id for f in spec.failure_modes}
        wanted = route.match.get("failure_mode")
        if wanted is not None and wanted not in fm_ids:
            problems.append(
                _unknown(
                    ("oncall", "routes", i, "match", "failure_mode"), "failure mode", wanted, fm_ids
                )
            )

    if spec.drift is not None:
        if spec.drift.decision not in decision_ids:
            problems.append(
                _unknown(("drift", "decision"), "decision", spec.drift.decision, decision_ids)
            )
        if spec.drift.reference.suite not in spec.evals.suites:
            problems.append(
                _unknown(
                    ("drift", "reference", "suite"),
                    "eval suite",
                    spec.drift.reference.suite,
                    spec.evals.suites,
                )
            )
    return problems
