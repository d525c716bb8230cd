"""From runs to the gate: case outcomes, baselines, comparability, power planning.

The statistics and the verdict live in :mod:`mondaytest.evals.gate` and
:mod:`mondaytest.evals.stats`; the baseline file in :mod:`mondaytest.evals.baseline`. This
module turns a run directory into what they take, checks that a run and a baseline measure the
same thing, and writes the verdict next to the run (``gate.json``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from mondaytest.errors import ConfigError, InputError
from mondaytest.evals.baseline import Baseline, baseline_path, bless, read_baseline, write_baseline
from mondaytest.evals.casesum import CaseSummary, summarize_cases
from mondaytest.evals.compare import MAX_NAMED, NotComparableError, comparability_problems
from mondaytest.evals.gate import evaluate_gate
from mondaytest.evals.gate_model import CaseOutcome, GateVerdict
from mondaytest.evals.runner import SuiteRef
from mondaytest.evals.runs import RunRecord, list_runs

__all__ = [
    "FINGERPRINT_PREFIX",
    "GateResult",
    "MetricPlan",
    "bless_run",
    "case_outcomes",
    "fingerprint_text",
    "gate_run",
    "parse_fingerprint",
    "plan_suite",
    "suite_baseline_path",
]

FINGERPRINT_PREFIX = "monday-fp/1"
"""First word of the fingerprint text stored in baselines."""


def case_outcomes(cases: dict[str, CaseSummary]) -> list[CaseOutcome]:
    """One :class:`CaseOutcome` per case: epochs folded (mean scores, passed in every epoch,
    errored if any epoch errored)."""
    out: list[CaseOutcome] = []
    for summary in cases.values():
        scores = {name: min(1.0, max(0.0, value)) for name, value in summary.scores().items()}
        out.append(
            CaseOutcome(
                id=summary.id,
                passed=summary.passed,
                scores=scores,
                tags=summary.tags,
                cluster=summary.cluster,
                error=summary.error,
                latency_ms=summary.latency_sum / summary.latency_n if summary.latency_n else None,
                cost_usd=None if summary.cost is None else Decimal(repr(summary.cost)),
            )
        )
    return out


def fingerprint_text(run: RunRecord) -> str:
    """The run's comparability fingerprint as one reviewable line, e.g.
    ``monday-fp/1 suite=triage version=3 epochs=1 scorer.label=81dc134c5a00c24f cases=5b0e…``.

    The target is left out on purpose: a baseline is compared with other targets.
    """
    fp = run.data.get("fingerprint") or {}
    parts = [
        FINGERPRINT_PREFIX,
        f"suite={fp.get('suite', run.suite)}",
        f"version={fp.get('suite_version', run.data.get('suite_version'))}",
        f"epochs={fp.get('epochs')}",
    ]
    for name, digest in sorted((fp.get("scorers") or {}).items()):
        parts.append(f"scorer.{name}={str(digest)[:16]}")
    parts.append(f"cases={str((fp.get('cases') or {}).get('digest', ''))[:16]}")
    return " ".join(parts)


def parse_fingerprint(text: str | None) -> dict[str, str]:
    """The ``key=value`` parts of a fingerprint text (empty for None or another format)."""
    if not text or not text.startswith(FINGERPRINT_PREFIX + " "):
        return {}
    out: dict[str, str] = {}
    for part in text.split()[1:]:
        key, _, value = part.partition("=")
        out[key] = value
    return out


def suite_baseline_path(suite: SuiteRef) -> Path:
    """The suite's baseline file (its ``baseline:`` or ``evals/baselines/<suite>.json``)."""
    if suite.spec.baseline:
        return suite.root_dir / suite.spec.baseline
    return baseline_path(suite.root_dir, suite.name)


def bless_run(suite: SuiteRef, run: RunRecord) -> tuple[Baseline, Path]:
    """Make ``run`` the suite's committed baseline; refuses runs that are not complete."""
    if run.suite != suite.name:
        raise InputError(f"run {run.id} is of suite {run.suite!r}, not {suite.name!r}")
    if run.status != "complete":
        raise InputError(
            f"run {run.id} is {run.status}; only a complete run can be blessed",
            hint="finish it with `monday eval run --resume` or start a new one",
        )
    prov = run.data.get("provenance") or {}
    cases = summarize_cases(run)
    hashes = {k: (c.input_hash, c.expected_hash) for k, c in cases.items()}
    complete = all(re.match(r"^[0-9a-f]{64}$", h) for pair in hashes.values() for h in pair)
    baseline = bless(
        case_outcomes(cases),
        suite=suite.name,
        run_id=run.id,
        spec_digest=(prov.get("spec") or {}).get("digest"),
        dataset_hash=(prov.get("dataset") or {}).get("sha256"),
        fingerprint=fingerprint_text(run),
        # a run whose trials lack hashes (an import) can only make a schema /1 baseline
        case_hashes=hashes if complete else None,
    )
    path = write_baseline(suite_baseline_path(suite), baseline)
    return baseline, path


def baseline_problems(
    baseline: Baseline,
    run: RunRecord,
    root: Path,
    cases: dict[str, CaseSummary] | None = None,
    *,
    ignore: frozenset[str] = frozenset(),
) -> tuple[list[str], list[str]]:
    """``(problems, notes)`` comparing a candidate run with a baseline.

    Problems make the comparison meaningless (suite version, a scorer's fingerprint, a case
    whose input or expected value changed under its id: from the baseline's per-case hashes,
    or for an old schema /1 baseline from the blessed run when it is still on disk); notes are
    worth saying (an old baseline that cannot see edits). ``cases`` are the run's summaries
    (read from the run when None); ids in ``ignore`` (quarantined) are not checked for edits.
    """
    problems: list[str] = []
    notes: list[str] = []
    base_fp = parse_fingerprint(baseline.fingerprint)
    run_fp = parse_fingerprint(fingerprint_text(run))
    if not base_fp:
        notes.append("the baseline has no Monday fingerprint; comparability was not checked")
    else:
        if base_fp.get("version") != run_fp.get("version"):
            problems.append(
                f"suite version {base_fp.get('version')} (baseline) vs {run_fp.get('version')}"
            )
        for key in sorted(base_fp):
            if key.startswith("scorer.") and key in run_fp and base_fp[key] != run_fp[key]:
                problems.append(f"scorer {key[7:]!r} changed since the baseline was blessed")
    if baseline.case_hashes is not None:
        current = cases if cases is not None else summarize_cases(run)
        changed: list[str] = []
        for case_id in sorted(current.keys() & baseline.case_hashes.keys() - ignore):
            was_input, was_expected = baseline.case_hashes[case_id]
            now = current[case_id]
            if now.input_hash != was_input:
                changed.append(f"{case_id} (input)")
            elif now.expected_hash != was_expected:
                changed.append(f"{case_id} (expected)")
        if changed:
            shown = ", ".join(changed[:MAX_NAMED])
            more = f" and {len(changed) - MAX_NAMED} more" if len(changed) > MAX_NAMED else ""
            problems.append(
                f"{len(changed)} case(s) changed under the same id since the baseline was "
                f"blessed: {shown}{more}"
            )
        return problems, notes
    blessed = [r for r in list_runs(root, run.suite) if r.id == baseline.run_id]
    if blessed:
        problems.extend(
            p
            for p in comparability_problems(
                blessed[0], run, summarize_cases(blessed[0]), summarize_cases(run)
            )
            if not p.startswith(("suite version", "scorer "))
        )
    elif base_fp and base_fp.get("cases") != run_fp.get("cases"):
        dataset = ((run.data.get("provenance") or {}).get("dataset") or {}).get("sha256")
        if baseline.dataset_hash != dataset:
            notes.append(
                "the cases differ from the baseline's (added, removed or edited); added and "
                "removed cases are not paired, but this schema /1 baseline has no per-case "
                f"hashes, so an edit under the same id cannot be detected without the blessed "
                f"run {baseline.run_id}: re-bless it to record them"
            )
    return problems, notes


def _refuse_weights(suite: SuiteRef, cases: dict[str, CaseSummary]) -> None:
    """Refuse (exit 2) a gate with thresholds or a regression block over weighted cases.

    Thresholds and the paired tests (Wilson, McNemar, bootstraps) count every case once;
    applying them to a dataset that declares other weights would silently ignore them.
    Required cases and budgets do not average over cases, so they are not affected.
    """
    gate = suite.spec.gate
    if not gate.thresholds and gate.regression is None:
        return
    quarantined = {q.case for q in gate.quarantine}
    weighted = sorted(
        case_id for case_id, c in cases.items() if c.weight != 1.0 and case_id not in quarantined
    )
    if not weighted:
        return
    first = cases[weighted[0]]
    more = f" and {len(weighted) - 1} more case(s)" if len(weighted) > 1 else ""
    uses = [
        *(["thresholds"] if gate.thresholds else []),
        *(["regression"] if gate.regression else []),
    ]
    raise ConfigError(
        f"case {first.id!r} has weight {first.weight:g}{more}, but the gate does not support "
        f"case weights yet: its {' and '.join(uses)} would count every case once",
        field=f"evals.suites.{suite.name}.dataset",
        hint="remove `weight` from the cases (or set it to 1) to gate this suite; "
        "`monday eval run` still reports weighted means (metrics.*.weighted_mean)",
    )


@dataclass
class GateResult:
    """A gate verdict with what it judged."""

    verdict: GateVerdict
    """The decision."""
    run: RunRecord
    """The candidate run."""
    baseline: Baseline | None
    """The baseline compared with (None when the gate has no regression block)."""
    baseline_path: Path | None
    """Where the baseline was read from."""
    notes: list[str] = field(default_factory=list)
    """Comparability notes."""

    def to_json(self) -> dict[str, Any]:
        """``gate.json``: the verdict (restricted profile) plus what it was about."""
        return {
            "schema": "monday.eval.gate-result/1",
            "suite": self.run.suite,
            "run_id": self.run.id,
            "baseline": None
            if self.baseline is None
            else {
                "run_id": self.baseline.run_id,
                "path": str(self.baseline_path),
                "digest": self.baseline.digest(),
            },
            "notes": self.notes,
            "verdict": self.verdict.to_dict(),
        }


def gate_run(
    suite: SuiteRef,
    run: RunRecord,
    *,
    baseline_file: Path | None = None,
    today: date | None = None,
    write: bool = True,
) -> GateResult:
    """Judge ``run`` with the suite's gate (against its baseline when the gate has a
    regression block) and write ``gate.json`` into the run directory.

    Raises :class:`NotComparableError` (exit 3) when the baseline measures something else.
    """
    if run.suite != suite.name:
        raise InputError(f"run {run.id} is of suite {run.suite!r}, not {suite.name!r}")
    gate = suite.spec.gate
    cases = summarize_cases(run)
    outcomes = case_outcomes(cases)
    _refuse_weights(suite, cases)
    baseline: Baseline | None = None
    path: Path | None = None
    notes: list[str] = []
    if gate.regression is not None or baseline_file is not None:
        path = baseline_file or suite_baseline_path(suite)
        if path.is_file() or baseline_file is not None:
            baseline = read_baseline(path, suite=suite.name)
            problems, notes = baseline_problems(
                baseline,
                run,
                suite.root_dir,
                cases,
                ignore=frozenset(q.case for q in gate.quarantine),
            )
            if problems:
                raise NotComparableError(problems, baseline.run_id + " (baseline)", run.id)
    verdict = evaluate_gate(
        outcomes, None if baseline is None else list(baseline.outcomes), gate, today=today
    )
    result = GateResult(verdict, run, baseline, path, notes)
    if write:
        (run.dir / "gate.json").write_text(
            json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    return result


# ------------------------------------------------------------------------------------- planning


@dataclass
class MetricPlan:
    """Can this suite see a drop of ``margin`` in one metric?"""

    metric: str
    """The scorer name."""
    binary: bool
    """Pass/fail metric (McNemar) or continuous (mean difference)."""
    n: int
    """Cases the suite has now."""
    margin: float
    """The drop the gate must be able to see."""
    mde: float
    """Smallest drop detectable now at the spec's alpha and power (inf: none)."""
    needed: int | None
    """Cases needed to detect ``margin`` (None when it cannot be estimated)."""
    basis: str
    """Where the variability estimate came from."""
    spread: float
    """The estimate: discordance rate (binary) or SD of per-case differences (continuous)."""

    @property
    def adequate(self) -> bool:
        """The suite can detect a drop of ``margin``."""
        return self.mde <= self.margin

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "metric": self.metric,
            "binary": self.binary,
            "n": self.n,
            "margin": self.margin,
            "mde": None if math.isinf(self.mde) else self.mde,
            "cases_needed": self.needed,
            "adequate": self.adequate,
            "basis": self.basis,
            "spread": self.spread,
        }


DEFAULT_DISCORDANCE = 0.05
"""Assumed share of flipped cases between two runs when no pair of runs exists yet."""


def plan_suite(suite: SuiteRef, root: Path | None = None) -> tuple[list[MetricPlan], list[str]]:
    """Power planning from past runs: for each gated metric, the minimum detectable effect with
    the cases the suite has, and the cases needed to detect the declared margin.

    Variability comes from the baseline paired with the newest comparable run when both exist,
    else from the newest run alone (a conservative proxy), else an assumption that is said.
    """
    from scipy import stats as sps

    from mondaytest.evals import stats

    notes: list[str] = []
    gate = suite.spec.gate
    if gate.regression is not None:
        metrics = list(gate.regression.metrics)
        margin = float(gate.regression.margin)
        alpha = float(gate.regression.alpha)
        power = float(gate.regression.power)
    else:
        metrics = [s.name for s in suite.spec.scorers]
        margin, alpha, power = 0.02, 0.05, 0.8
        notes.append("the gate has no regression block; planning for a margin of 0.02")
    runs = [r for r in list_runs(root or suite.root_dir, suite.name) if r.status == "complete"]
    latest = summarize_cases(runs[-1]) if runs else None
    base: Baseline | None = None
    path = suite_baseline_path(suite)
    if path.is_file():
        base = read_baseline(path, suite=suite.name)
    if latest is None and base is None:
        from mondaytest.evals.dataset import load_dataset

        n_cases = len(load_dataset(suite.root_dir / suite.spec.dataset))
        notes.append("no runs yet: variability is assumed; run the suite to replace assumptions")
    else:
        n_cases = len(latest) if latest is not None else len(base.outcomes)  # type: ignore[union-attr]
    z = float(sps.norm.ppf(1 - alpha) + sps.norm.ppf(power))
    plans: list[MetricPlan] = []
    for metric in metrics:
        cand: dict[str, float] = {}
        for k, v in (latest or {}).items():
            mean = v.mean(metric)
            if mean is not None and not v.error:
                cand[k] = mean
        base_scores = (
            {o.id: o.scores[metric] for o in base.outcomes if metric in o.scores and not o.error}
            if base is not None
            else {}
        )
        values = list(cand.values()) or list(base_scores.values())
        binary = bool(values) and all(v in (0.0, 1.0) for v in values)
        paired = [(base_scores[k], cand[k]) for k in cand.keys() & base_scores.keys()]
        if binary or not values:
            if paired and base is not None and latest is not None:
                flips = sum(1 for a, b in paired if a != b)
                psi, basis = (
                    flips / len(paired),
                    f"discordance between baseline {base.run_id} and the newest run",
                )
                if base.run_id == runs[-1].id:
                    psi, basis = DEFAULT_DISCORDANCE, "assumed (the newest run is the baseline)"
            elif values:
                p = sum(values) / len(values)
                psi = min(1.0, 2 * p * (1 - p))
                basis = "2·p·(1−p) from one run (conservative: assumes independent runs)"
            else:
                psi, basis = DEFAULT_DISCORDANCE, "assumed"
            psi = max(psi, 1e-6)
            mde = stats.mde_paired_binary(n_cases, psi, alpha=alpha, power=power)
            needed = stats.cases_needed_paired_binary(margin, psi, alpha=alpha, power=power)
            plans.append(MetricPlan(metric, True, n_cases, margin, mde, needed, basis, psi))
        else:
            if paired and base is not None and latest is not None and base.run_id != runs[-1].id:
                diffs = [b - a for a, b in paired]
                basis = "SD of per-case differences, baseline vs the newest run"
            else:
                diffs = values
                basis = "SD of per-case scores × √2 (no paired runs yet)"
            mean = sum(diffs) / len(diffs)
            sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / max(1, len(diffs) - 1))
            if diffs is values:
                sd *= math.sqrt(2)
            mde = stats.mde_mean_difference(
                max(sd, 1e-9), max(n_cases, 1), alpha=alpha, power=power
            )
            needed = math.ceil((z * sd / margin) ** 2) if sd > 0 else 1
            plans.append(MetricPlan(metric, False, n_cases, margin, mde, needed, basis, sd))
    return plans, notes
