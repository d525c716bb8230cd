"""Gate verdicts as audit evidence: the ``eval_gate`` entry.

Every ``monday eval gate`` whose contract has an audit log writes its verdict into that log as
one ``eval_gate`` state change, so an auditor (and ``monday release record``) can later see
which run approved which model version, under which contract, with which numbers::

    from mondaytest.audit import open_log
    from mondaytest.evals.evidence import record_gate_verdict

    with open_log(loaded_spec) as log:
        idx = record_gate_verdict(log, result.verdict, suite="triage", run=result.run,
                                  spec_digest=loaded_spec.digest)

The payload (:class:`EvalGateEvidence`) replaces the small pre-registered one of
:mod:`mondaytest.audit.entries` when this module is imported. It carries the verdict
(``result``, ``exit_code``), the hashes that pin what was judged (``candidate`` and
``baseline`` outcome digests, ``gate_spec``, the contract's ``spec.digest``, the dataset's
hash, ``report`` = SHA-256 of ``run.json``, ``verdict`` = SHA-256 of the canonical verdict
JSON written to ``gate.json``), the target's fingerprint, the run id and its git commit and
dirty flag, and one summary per check. Numbers are decimal strings (no floats in entries), and
the payload is trimmed (fewer case ids per list, shorter reasons) until the entry fits a leaf.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from mondaytest._util.canonical import ProfileError, canonical_json
from mondaytest.audit.entries import MAX_ENTRY_BYTES, Payload, SpecRef, register_kind
from mondaytest.errors import InputError, StoreError
from mondaytest.evals.gate_model import GateVerdict

if TYPE_CHECKING:
    from mondaytest.audit.log import AuditLog
    from mondaytest.audit.writer import Durability
    from mondaytest.evals.gating import GateResult
    from mondaytest.evals.runs import RunRecord
    from mondaytest.spec.loader import LoadedSpec

__all__ = [
    "EVIDENCE_BUDGET",
    "BaselineRef",
    "CheckSummary",
    "EvalGateEvidence",
    "GateCounts",
    "GitRef",
    "IdListSummary",
    "QuarantineSummary",
    "TargetRef",
    "audit_configured",
    "gate_evidence",
    "record_gate_result",
    "record_gate_verdict",
    "verdict_digest",
]

EVIDENCE_BUDGET = MAX_ENTRY_BYTES - 4096
"""Most canonical bytes an ``eval_gate`` payload may take (the envelope needs the rest)."""

_CASE_LIMITS = (50, 20, 5, 0)
"""Case ids kept per list, tried in turn until the payload fits :data:`EVIDENCE_BUDGET`."""
_REASON_LIMITS = (1000, 1000, 300, 120)
"""Longest check reason kept at each step (characters)."""

Number = str | int | None
"""A number in an entry: a decimal string, an integer, or absent."""


class IdListSummary(Payload):
    """A list of case ids: how many, the first few, and a digest of all of them."""

    count: int = Field(ge=0)
    """How many ids the list has."""
    ids: list[str] = Field(default_factory=list)
    """The first ids, sorted."""
    truncated: bool = False
    """True when ``ids`` holds fewer than ``count``."""
    sha256: str
    """Hex SHA-256 of all ids, sorted, joined by ``\\n``."""


class CheckSummary(Payload):
    """One gate check as recorded: its verdict, the numbers behind it, and why."""

    name: str
    """Stable check name (``regression:label``, ``threshold:label``, ``budget:error_rate``)."""
    kind: str
    """``required``, ``threshold``, ``regression``, ``budget`` or ``run``."""
    status: Literal["pass", "fail", "inconclusive"]
    """The check's verdict."""
    reason: str
    """One sentence saying why."""
    metric: str | None = None
    """Scorer name, for threshold and regression checks."""
    method: str | None = None
    """How it was computed (``wilson``, ``mcnemar_exact+newcombe``, ``bootstrap`` …)."""
    n: int = 0
    """Cases (or pairs) the check was computed on."""
    estimate: Number = None
    """The candidate's value."""
    baseline: Number = None
    """The baseline's value (regression checks)."""
    delta: Number = None
    """candidate - baseline."""
    ci95: list[Number] | None = None
    """95 % interval (of ``delta`` for regression checks, else of ``estimate``)."""
    p_value: Number = None
    """One-sided p-value for "candidate worse"."""
    p_adjusted: Number = None
    """Holm-adjusted p-value."""
    mde: Number = None
    """Minimum detectable effect at the spec's power."""
    threshold: Number = None
    """The configured number (min, margin, budget)."""
    bound: Number = None
    """The number compared with ``threshold``."""
    harness: bool = False
    """True when a failure means the run is unusable (exit 3), not the system worse."""
    cases: IdListSummary | None = None
    """Cases behind the verdict (failed required cases …)."""
    details: dict[str, Number] = Field(default_factory=dict)
    """Extra numbers (discordant counts, seed, resamples …)."""


class TargetRef(Payload):
    """What was evaluated: the target's comparability fingerprint (from ``run.json``)."""

    fingerprint: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9:._-]+$")
    """The target fingerprint (SHA-256 hex of what the target is; ``run.json`` ``target``)."""
    kind: str | None = None
    """``python``, ``http``, ``cmd`` or ``replay``."""
    ref: str | None = None
    """Entry point as written in the contract."""


class GitRef(Payload):
    """Where in version control the judged run was made."""

    commit: str | None = None
    """Commit of the repository holding the contract."""
    dirty: bool | None = None
    """True when the working tree had uncommitted changes."""
    branch: str | None = None
    """Branch name, if known."""


class BaselineRef(Payload):
    """The committed baseline the candidate was paired with."""

    digest: str
    """``sha256:`` of the baseline's outcomes (:func:`~mondaytest.evals.gate.outcomes_digest`)."""
    run: str | None = None
    """Id of the blessed run."""


class GateCounts(Payload):
    """How many cases the verdict is about."""

    cases: int = Field(ge=0)
    """Cases in the candidate run, quarantined ones included."""
    judged: int = Field(ge=0)
    """Cases judged (not quarantined)."""
    paired: int = Field(ge=0)
    """Cases paired with the baseline."""


class QuarantineSummary(Payload):
    """A case left out of the gate by quarantine."""

    case: str
    """The case id."""
    expires: str
    """Last day of the quarantine (ISO date)."""
    passed: bool | None = None
    """Its result in the candidate run, if it ran."""


class EvalGateEvidence(Payload):
    """The verdict of an eval gate run, with the hashes that pin what it judged.

    A superset of the pre-registered ``EvalGatePayload`` (``suite``, ``run``, ``result``,
    ``report``, ``spec``): a payload valid before this module is imported stays valid after.
    :func:`gate_evidence` always fills every field it can.
    """

    suite: str = Field(min_length=1)
    """Suite name."""
    run: str = Field(min_length=1)
    """Id of the judged (candidate) run."""
    result: Literal["pass", "fail", "inconclusive", "error"]
    """Gate verdict (the worst check status)."""
    exit_code: int | None = Field(default=None, ge=0, le=3)
    """Exit code of ``monday eval gate`` for this verdict (0 pass, 1 worse, 3 unusable run)."""
    strict: bool | None = None
    """True when inconclusive checks were treated as failures (``--strict``)."""
    inconclusive: Literal["warn", "fail"] | None = None
    """The suite's policy for inconclusive checks."""
    candidate: str | None = None
    """``sha256:`` of the candidate's per-case outcomes."""
    baseline: BaselineRef | None = None
    """The baseline it was paired with (None when the gate has no regression block)."""
    gate_spec: str | None = None
    """``sha256:`` of the suite's ``gate`` block."""
    verdict: str | None = None
    """``sha256:`` of the canonical JSON of the whole verdict (``gate.json`` → ``verdict``)."""
    spec: SpecRef | None = None
    """The contract the gate judged under (digest) and its git commit."""
    run_spec: str | None = None
    """Digest of the contract the run was made under, when it differs from ``spec.digest``."""
    target: TargetRef | None = None
    """What was evaluated; ``monday release record`` binds to its fingerprint."""
    git: GitRef | None = None
    """Git commit and dirty flag of the run."""
    dataset: str | None = None
    """``sha256:`` of the dataset file the run read."""
    report: str | None = None
    """``sha256:`` of the run's ``run.json``."""
    counts: GateCounts | None = None
    """Cases in the run, judged, paired."""
    checks: list[CheckSummary] | None = None
    """Every check, in order."""
    flipped_to_fail: IdListSummary | None = None
    """Paired cases that passed in the baseline and fail now."""
    flipped_to_pass: IdListSummary | None = None
    """Paired cases that failed in the baseline and pass now."""
    errored: IdListSummary | None = None
    """Candidate cases that ended in an error."""
    added: IdListSummary | None = None
    """Cases not in the baseline."""
    removed: IdListSummary | None = None
    """Baseline cases not in the candidate."""
    quarantined: list[QuarantineSummary] | None = None
    """Cases excluded by quarantine."""
    case_limit: int | None = Field(default=None, ge=0)
    """How many ids each list kept (lists are trimmed to keep the entry under 64 KiB)."""


register_kind("eval_gate", EvalGateEvidence, config=False, replace=True)


# --------------------------------------------------------------------------------------------


def verdict_digest(verdict: GateVerdict) -> str:
    """``sha256:`` of the canonical JSON of ``verdict.to_dict()`` (``gate.json``'s ``verdict``)."""
    return "sha256:" + hashlib.sha256(canonical_json(verdict.to_dict())).hexdigest()


def _sha256_prefixed(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value if value.startswith("sha256:") else f"sha256:{value}"


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _run_data(run: RunRecord | Mapping[str, Any] | None) -> tuple[dict[str, Any], str | None]:
    """``run.json`` data and the digest of its bytes (when the run is on disk)."""
    if run is None:
        return {}, None
    if isinstance(run, Mapping):
        return dict(run), None
    report: str | None = None
    try:
        report = "sha256:" + hashlib.sha256((run.dir / "run.json").read_bytes()).hexdigest()
    except OSError:
        report = None
    return dict(run.data), report


def _summary_list(value: Mapping[str, Any]) -> IdListSummary:
    return IdListSummary(
        count=int(value["count"]),
        ids=[str(i) for i in value["ids"]],
        truncated=bool(value["truncated"]),
        sha256=str(value["sha256"]),
    )


def _check(data: Mapping[str, Any], reason_limit: int, keep_details: bool) -> CheckSummary:
    reason = str(data["reason"])
    if len(reason) > reason_limit:
        reason = reason[: max(reason_limit - 1, 0)] + "…"
    return CheckSummary(
        name=data["name"],
        kind=data["kind"],
        status=data["status"],
        reason=reason,
        metric=data.get("metric"),
        method=data.get("method"),
        n=int(data.get("n") or 0),
        estimate=data.get("estimate"),
        baseline=data.get("baseline"),
        delta=data.get("delta"),
        ci95=list(data["ci95"]) if data.get("ci95") is not None else None,
        p_value=data.get("p_value"),
        p_adjusted=data.get("p_adjusted"),
        mde=data.get("mde"),
        threshold=data.get("threshold"),
        bound=data.get("bound"),
        harness=bool(data.get("harness")),
        cases=_summary_list(data["cases"]) if data.get("cases") else None,
        details=dict(data.get("details") or {}) if keep_details else {},
    )


def gate_evidence(
    verdict: GateVerdict,
    *,
    suite: str,
    run: RunRecord | Mapping[str, Any] | None = None,
    run_id: str | None = None,
    target_fingerprint: str | None = None,
    spec_digest: str | None = None,
    spec_commit: str | None = None,
    baseline_run: str | None = None,
    strict: bool = False,
) -> EvalGateEvidence:
    """The ``eval_gate`` payload for ``verdict``.

    ``run`` is the judged run (a :class:`~mondaytest.evals.runs.RunRecord` or its ``run.json``
    data): its id, target, git provenance, dataset hash and ``run.json`` digest are read from
    it. Explicit arguments win over what the run says; ``spec_digest`` should be the digest of
    the contract the gate judged under (default: the one the run was made under).
    """
    data, report = _run_data(run)
    rid = run_id or _str_or_none(data.get("run_id"))
    if rid is None:
        raise InputError("an eval_gate entry needs the run id (pass run= or run_id=)")
    prov = data.get("provenance") if isinstance(data.get("provenance"), Mapping) else {}
    assert isinstance(prov, Mapping)
    run_spec = _str_or_none((prov.get("spec") or {}).get("digest"))
    git_data = prov.get("git") if isinstance(prov.get("git"), Mapping) else None
    target_data = data.get("target") if isinstance(data.get("target"), Mapping) else {}
    assert isinstance(target_data, Mapping)
    fingerprint = target_fingerprint or _str_or_none(target_data.get("fingerprint"))
    if fingerprint is None:
        fp = data.get("fingerprint")
        fingerprint = _str_or_none(fp.get("target")) if isinstance(fp, Mapping) else None
    digest = spec_digest or run_spec
    git = (
        GitRef(
            commit=_str_or_none(git_data.get("commit")),
            dirty=git_data.get("dirty") if isinstance(git_data.get("dirty"), bool) else None,
            branch=_str_or_none(git_data.get("branch")),
        )
        if git_data is not None
        else None
    )
    commit = spec_commit or (git.commit if git is not None else None)
    inputs = verdict.inputs
    base_digest = inputs.get("baseline")
    full_digest = verdict_digest(verdict)
    common: dict[str, Any] = {
        "suite": suite,
        "run": rid,
        "result": verdict.status.value,
        "exit_code": verdict.exit_code(strict=strict),
        "strict": strict,
        "inconclusive": verdict.inconclusive,
        "candidate": inputs.get("candidate"),
        "baseline": BaselineRef(digest=base_digest, run=baseline_run) if base_digest else None,
        "gate_spec": inputs.get("gate_spec"),
        "verdict": full_digest,
        "spec": SpecRef(commit=commit, digest=digest) if (commit or digest) else None,
        "run_spec": run_spec if run_spec and run_spec != digest else None,
        "target": (
            TargetRef(
                fingerprint=fingerprint,
                kind=_str_or_none(target_data.get("kind")),
                ref=_str_or_none(target_data.get("ref")),
            )
            if fingerprint
            else None
        ),
        "git": git,
        "dataset": _sha256_prefixed((prov.get("dataset") or {}).get("sha256")),
        "report": report,
        "counts": GateCounts(
            cases=verdict.n_cases, judged=verdict.n_judged, paired=verdict.n_paired
        ),
    }
    payload: EvalGateEvidence | None = None
    for limit, reason_limit in zip(_CASE_LIMITS, _REASON_LIMITS, strict=True):
        full = verdict.to_dict(case_limit=limit)
        payload = EvalGateEvidence(
            **common,
            checks=[_check(c, reason_limit, keep_details=limit > 0) for c in full["checks"]],
            flipped_to_fail=_summary_list(full["flipped_to_fail"]),
            flipped_to_pass=_summary_list(full["flipped_to_pass"]),
            errored=_summary_list(full["errored"]),
            added=_summary_list(full["added"]),
            removed=_summary_list(full["removed"]),
            quarantined=[
                QuarantineSummary(case=q["case"], expires=q["expires"], passed=q["passed"])
                for q in full["quarantined"]
            ][:limit],
            case_limit=limit,
        )
        if _size(payload) <= EVIDENCE_BUDGET:
            return payload
    assert payload is not None
    raise ProfileError(
        f"the eval_gate entry of run {rid} is {_size(payload)} bytes even with no case ids "
        f"(at most {EVIDENCE_BUDGET} fit)",
        hint="the gate has too many checks to record; the verdict itself is in gate.json",
    )


def _size(payload: EvalGateEvidence) -> int:
    return len(canonical_json(payload.model_dump(mode="json", exclude_none=True)))


def record_gate_verdict(
    log: AuditLog,
    verdict: GateVerdict,
    *,
    suite: str,
    run: RunRecord | Mapping[str, Any] | None = None,
    run_id: str | None = None,
    target_fingerprint: str | None = None,
    spec_digest: str | None = None,
    spec_commit: str | None = None,
    baseline_run: str | None = None,
    strict: bool = False,
    actor: str | None = None,
) -> int:
    """Append ``verdict`` as an ``eval_gate`` entry and return its index.

    See :func:`gate_evidence` for the arguments. The append waits until the entry is committed
    (or checkpointed, when the log's durability is ``published``), so the index is real; a
    write lost under ``fail_mode: open`` raises :class:`~mondaytest.errors.StoreError` rather
    than leaving the verdict without its evidence unnoticed.
    """
    payload = gate_evidence(
        verdict,
        suite=suite,
        run=run,
        run_id=run_id,
        target_fingerprint=target_fingerprint,
        spec_digest=spec_digest,
        spec_commit=spec_commit,
        baseline_run=baseline_run,
        strict=strict,
    )
    durability: Durability = "published" if log.config.durability == "published" else "sequenced"
    idx = log.append("eval_gate", payload, actor=actor, durability=durability)
    if idx is None:
        raise StoreError(
            f"the eval_gate entry of run {payload.run} could not be written to the audit log",
            hint="the log is in fail_mode: open and the store refused the write; fix the "
            "store and re-run `monday eval gate --run RUN`",
        )
    return idx


def audit_configured(spec: LoadedSpec) -> bool:
    """True when the contract's audit log is set up (``monday audit keygen`` recorded a vkey)."""
    return spec.model.audit.vkey is not None


def record_gate_result(
    spec: LoadedSpec,
    result: GateResult,
    *,
    strict: bool = False,
    store: str | None = None,
    log: AuditLog | None = None,
) -> int:
    """Record a :class:`~mondaytest.evals.gating.GateResult` in the contract's audit log.

    Opens the log of ``spec`` (``store`` overrides its URL, as ``--store`` does) unless an open
    ``log`` is given, appends the ``eval_gate`` entry under the contract's current digest and
    git commit, and returns its index. This is the one call ``monday eval gate`` makes.
    """
    from mondaytest.spec.provenance import git_info

    commit = git_info(spec.root_dir).commit
    kwargs: dict[str, Any] = {
        "suite": result.run.suite,
        "run": result.run,
        "spec_digest": spec.digest,
        "spec_commit": commit,
        "baseline_run": result.baseline.run_id if result.baseline is not None else None,
        "strict": strict,
    }
    if log is not None:
        return record_gate_verdict(log, result.verdict, **kwargs)
    from mondaytest.audit.log import open_log

    with open_log(spec, store=store) as opened:
        return record_gate_verdict(opened, result.verdict, **kwargs)
