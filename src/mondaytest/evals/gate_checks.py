"""The gate's checks: required cases, thresholds, paired regression, budgets.

Each function takes the already-indexed outcomes and returns :class:`CheckVerdict` objects;
:func:`~mondaytest.evals.gate.evaluate_gate` puts them together. The regression decision rule is
public and vectorised (:func:`decide_regression`, :func:`decide_paired_binary`) so the power
benchmark runs the very rule the gate uses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from mondaytest.errors import ConfigError
from mondaytest.evals import stats
from mondaytest.evals.gate_model import (
    CaseOutcome,
    CheckKind,
    CheckVerdict,
    Status,
    format_number,
)
from mondaytest.spec.evals_gate import BOUND_CONFIDENCE, GateSpec, RegressionSpec

__all__ = [
    "budget_checks",
    "decide_paired_binary",
    "decide_regression",
    "regression_checks",
    "required_check",
    "threshold_check",
]

# --------------------------------------------------------------------------------------------
# Decision rules (shared by the gate and the power benchmark)


def decide_regression(
    p_adjusted: npt.ArrayLike,
    drop: npt.ArrayLike,
    drop_upper: npt.ArrayLike,
    *,
    alpha: float,
    margin: float,
    min_effect: float,
) -> npt.NDArray[np.str_]:
    """The §5.3 rule, vectorised: ``fail`` if significant and the drop exceeds ``min_effect``;
    else ``pass`` if the upper bound on the drop is under ``margin``; else ``inconclusive``."""
    p = np.asarray(p_adjusted, dtype=np.float64)
    dr = np.asarray(drop, dtype=np.float64)
    up = np.asarray(drop_upper, dtype=np.float64)
    fail = (p <= alpha) & (dr > min_effect)
    ok = up < margin
    out: npt.NDArray[np.str_] = np.where(
        fail, Status.FAIL.value, np.where(ok, Status.PASS.value, Status.INCONCLUSIVE.value)
    )
    return out


def decide_paired_binary(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    c: npt.ArrayLike,
    d: npt.ArrayLike,
    *,
    alpha: float,
    margin: float,
    min_effect: float,
    n_metrics: int = 1,
) -> npt.NDArray[np.str_]:
    """Regression verdicts for a pass/fail metric from its paired 2×2 tables, vectorised.

    ``a`` = pass → pass, ``b`` = pass → fail, ``c`` = fail → pass, ``d`` = fail → fail
    (baseline → candidate). This is exactly what the gate computes for one such metric: the
    one-sided exact McNemar p-value (times ``n_metrics``, which is what Holm does to the
    smallest of several p-values), the drop ``(b - c) / n`` and the upper end of Newcombe's
    interval for the drop at confidence ``1 - 2·alpha``, fed to :func:`decide_regression`.
    """
    aa, bb, cc, dd = (np.asarray(x, dtype=np.int64) for x in (a, b, c, d))
    n = aa + bb + cc + dd
    p = np.minimum(stats.mcnemar_exact_many(bb, cc, alternative="greater") * n_metrics, 1.0)
    _, upper = stats.newcombe_paired_many(aa, bb, cc, dd, 1.0 - 2.0 * alpha)
    drop = (bb - cc) / n
    return decide_regression(p, drop, upper, alpha=alpha, margin=margin, min_effect=min_effect)


def _short(ids: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def required_check(
    spec: GateSpec,
    cand: Mapping[str, CaseOutcome],
    quarantine: Mapping[str, object],
    notes: list[str],
) -> list[CheckVerdict]:
    tags = set(spec.required.tags)
    required = sorted(
        o.id for o in cand.values() if o.id not in quarantine and tags.intersection(o.tags)
    )
    listed = [c for c in spec.required.cases if c not in quarantine]
    missing = sorted(c for c in listed if c not in cand)
    required = sorted(set(required) | {c for c in listed if c in cand})
    if not required and not missing:
        notes.append(
            "no required cases: no case carries the tags "
            f"{', '.join(sorted(tags)) or '(none)'} and none is listed by id"
        )
        return []
    failed = [c for c in required if cand[c].error or not cand[c].passed]
    if missing:
        return [
            CheckVerdict(
                name="required",
                kind=CheckKind.REQUIRED,
                status=Status.FAIL,
                reason=f"required case(s) missing from the run: {_short(missing)}",
                n=len(required) + len(missing),
                harness=True,
                cases=tuple(missing + failed),
            )
        ]
    if failed:
        errors = sum(1 for c in failed if cand[c].error)
        extra = f" ({errors} by error)" if errors else ""
        reason = (
            f"{len(failed)} of {len(required)} required case(s) failed{extra}: {_short(failed)}"
        )
        status = Status.FAIL
    else:
        reason = f"all {len(required)} required case(s) passed"
        status = Status.PASS
    return [
        CheckVerdict(
            name="required",
            kind=CheckKind.REQUIRED,
            status=status,
            reason=reason,
            n=len(required),
            estimate=(len(required) - len(failed)) / len(required),
            threshold=Decimal(1),
            cases=tuple(failed),
        )
    ]


def _is_binary(values: npt.NDArray[np.float64]) -> bool:
    return bool(np.all((values == 0.0) | (values == 1.0)))


def _clusters(outcomes: Sequence[CaseOutcome]) -> list[str] | None:
    """Cluster labels (unclustered cases form their own cluster), or None if no case has one."""
    if all(o.cluster is None for o in outcomes):
        return None
    return [o.cluster if o.cluster is not None else f"\x00{o.id}" for o in outcomes]


def _missing_scores(
    name: str, kind: CheckKind, metric: str, missing: list[str], where: str
) -> CheckVerdict:
    return CheckVerdict(
        name=name,
        kind=kind,
        status=Status.FAIL,
        reason=f"{len(missing)} case(s) have no {metric!r} score in the {where}: "
        f"{_short(missing)} — a missing score is never a pass",
        metric=metric,
        harness=True,
        cases=tuple(missing),
    )


def threshold_check(
    metric: str, minimum: Decimal, bound: str, scored: Sequence[CaseOutcome], spec: GateSpec
) -> CheckVerdict:
    name = f"threshold:{metric}"
    missing = sorted(o.id for o in scored if metric not in o.scores)
    if missing:
        return _missing_scores(name, CheckKind.THRESHOLD, metric, missing, "candidate run")
    if not scored:
        return CheckVerdict(
            name=name,
            kind=CheckKind.THRESHOLD,
            status=Status.FAIL,
            reason=f"no scored case for {metric!r}: every case errored",
            metric=metric,
            threshold=minimum,
            harness=True,
        )
    values = np.array([o.scores[metric] for o in scored], dtype=np.float64)
    n = values.size
    mean = float(values.mean())
    clusters = _clusters(scored)
    confidence = BOUND_CONFIDENCE[bound]
    details: dict[str, int | str | float | None] = {"bound": bound}
    if _is_binary(values) and clusters is None:
        method = "wilson"
        k = int(values.sum())
        ci = stats.wilson_interval(k, n, 0.95)
        low95, high95 = ci.low, ci.high
        value = mean if confidence is None else stats.wilson_interval(k, n, confidence).low
        meets = (Decimal(k) >= minimum * n) if confidence is None else value >= float(minimum)
    else:
        seed = spec.regression.seed if spec.regression is not None else 0
        resamples = spec.regression.resamples if spec.regression is not None else 2000
        zeros = np.zeros_like(values)
        if clusters is None:
            method = "bootstrap"
            boot = stats.paired_bootstrap(values, zeros, resamples=resamples, seed=seed)
        else:
            method = "cluster_bootstrap"
            boot = stats.cluster_bootstrap(values, zeros, clusters, resamples=resamples, seed=seed)
            details["clusters"] = boot.clusters
            details["design_effect"] = boot.design_effect
        details["seed"] = seed
        details["resamples"] = resamples
        low95, high95 = boot.low, boot.high
        value = mean if confidence is None else boot.quantile((1.0 - confidence) / 2.0)
        meets = value >= float(minimum)
    what = "mean" if confidence is None else f"lower {bound[5:]} % bound"
    verb = "meets" if meets else "is below"
    reason = (
        f"{metric}: mean {mean:.3f} over {n} case(s) (95 % CI {low95:.3f} to {high95:.3f}); "
        f"the {what} {value:.3f} {verb} the floor {minimum}"
    )
    return CheckVerdict(
        name=name,
        kind=CheckKind.THRESHOLD,
        status=Status.PASS if meets else Status.FAIL,
        reason=reason,
        metric=metric,
        method=method,
        n=n,
        estimate=mean,
        ci_low=low95,
        ci_high=high95,
        threshold=minimum,
        bound=value,
        details=details,
    )


@dataclass
class _Comparison:
    """Numbers of one regression comparison before the multiplicity adjustment."""

    metric: str
    method: str
    n: int
    candidate: float
    baseline: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    drop_upper: float
    mde: float
    details: dict[str, int | str | float | None]


def regression_checks(
    spec: RegressionSpec, pairs: Sequence[tuple[CaseOutcome, CaseOutcome]]
) -> list[CheckVerdict]:
    alpha = float(spec.alpha)
    if not pairs:
        return [
            CheckVerdict(
                name="run:baseline",
                kind=CheckKind.RUN,
                status=Status.FAIL,
                reason="no case can be paired with the baseline (no common ids without errors): "
                "the runs are not comparable — bless a baseline of this suite",
                harness=True,
            )
        ]
    out: list[CheckVerdict] = []
    comparisons: list[_Comparison] = []
    for metric in spec.metrics:
        missing = sorted(
            {c.id for b, c in pairs if metric not in c.scores}
            | {b.id for b, c in pairs if metric not in b.scores}
        )
        if missing:
            out.append(
                _missing_scores(
                    f"regression:{metric}", CheckKind.REGRESSION, metric, missing, "paired runs"
                )
            )
            continue
        comparisons.append(_compare(metric, spec, pairs, n_metrics=len(spec.metrics)))
    adjusted = stats.holm([c.p_value for c in comparisons])
    for comp, p_adj in zip(comparisons, adjusted, strict=True):
        out.append(_regression_verdict(comp, p_adj, spec, alpha))
    return out


def _compare(
    metric: str,
    spec: RegressionSpec,
    pairs: Sequence[tuple[CaseOutcome, CaseOutcome]],
    *,
    n_metrics: int,
) -> _Comparison:
    alpha = float(spec.alpha)
    power = float(spec.power)
    base = np.array([b.scores[metric] for b, _ in pairs], dtype=np.float64)
    cand = np.array([c.scores[metric] for _, c in pairs], dtype=np.float64)
    n = base.size
    binary = _is_binary(base) and _is_binary(cand)
    clusters = _clusters([c for _, c in pairs])
    method = spec.method
    if method == "auto":
        method = (
            "cluster_bootstrap" if clusters is not None else ("mcnemar" if binary else "bootstrap")
        )
    if method == "mcnemar" and not binary:
        raise ConfigError(
            f"metric {metric!r} has scores other than 0 and 1; McNemar needs pass/fail scores",
            field="gate.regression.method",
            hint="use method: auto or bootstrap",
        )
    # The MDE is reported at the strictest level Holm may use (alpha / number of metrics).
    mde_alpha = alpha / n_metrics
    if method == "mcnemar":
        b = int(np.count_nonzero((base == 1.0) & (cand == 0.0)))
        c = int(np.count_nonzero((base == 0.0) & (cand == 1.0)))
        a = int(np.count_nonzero((base == 1.0) & (cand == 1.0)))
        d = n - a - b - c
        ci = stats.newcombe_paired_interval(a, c, b, d, 0.95)  # about candidate - baseline
        upper = stats.newcombe_paired_interval(a, b, c, d, 1.0 - 2.0 * alpha).high
        return _Comparison(
            metric=metric,
            method="mcnemar_exact+newcombe",
            n=n,
            candidate=float(cand.mean()),
            baseline=float(base.mean()),
            delta=(c - b) / n,
            ci_low=ci.low,
            ci_high=ci.high,
            p_value=stats.mcnemar_exact(b, c, alternative="greater"),
            drop_upper=upper,
            mde=stats.mde_paired_binary(n, (b + c) / n, alpha=mde_alpha, power=power),
            details={"pass_to_fail": b, "fail_to_pass": c, "both_pass": a, "both_fail": d},
        )
    if method == "cluster_bootstrap":
        labels = clusters if clusters is not None else [c.id for _, c in pairs]
        boot = stats.cluster_bootstrap(cand, base, labels, resamples=spec.resamples, seed=spec.seed)
    else:
        boot = stats.paired_bootstrap(cand, base, resamples=spec.resamples, seed=spec.seed)
    diff = cand - base
    sd = float(diff.std(ddof=1)) if n > 1 else 0.0
    deff = boot.design_effect if boot.design_effect is not None else 1.0
    details: dict[str, int | str | float | None] = {
        "seed": spec.seed,
        "resamples": spec.resamples,
        "sd_difference": sd,
    }
    if boot.clusters is not None:
        details["clusters"] = boot.clusters
        details["design_effect"] = deff
    return _Comparison(
        metric=metric,
        method=method,
        n=n,
        candidate=float(cand.mean()),
        baseline=float(base.mean()),
        delta=boot.estimate,
        ci_low=boot.low,
        ci_high=boot.high,
        p_value=boot.p_worse,
        drop_upper=-boot.quantile(alpha),
        mde=stats.mde_mean_difference(
            sd, n, alpha=mde_alpha, power=power, design_effect=max(deff, 1e-12)
        ),
        details=details,
    )


def _regression_verdict(
    comp: _Comparison, p_adj: float, spec: RegressionSpec, alpha: float
) -> CheckVerdict:
    margin = float(spec.margin)
    min_effect = spec.effective_min_effect
    drop = -comp.delta
    status = Status(
        str(
            decide_regression(
                p_adj,
                drop,
                comp.drop_upper,
                alpha=alpha,
                margin=margin,
                min_effect=float(min_effect),
            )
        )
    )
    mde = f"MDE {comp.mde:.3f}" if math.isfinite(comp.mde) else "no drop detectable (MDE)"
    head = (
        f"{comp.metric}: {comp.candidate:.3f} vs baseline {comp.baseline:.3f} on {comp.n} "
        f"paired case(s), Δ {comp.delta:+.3f} (95 % CI {comp.ci_low:+.3f} to "
        f"{comp.ci_high:+.3f}, {mde} at {float(spec.power):.0%} power)"
    )
    test = f"one-sided p {_fmt_p(comp.p_value)}"
    if spec.metrics and len(spec.metrics) > 1:
        test += f" (Holm {_fmt_p(p_adj)})"
    bound = f"upper {100 - 100 * alpha:g} % bound on the drop {comp.drop_upper:.3f}"
    if status is Status.FAIL:
        why = (
            f"{test} ≤ α {spec.alpha} and the drop {drop:.3f} exceeds the minimum effect "
            f"{min_effect}: the candidate is worse"
        )
    elif status is Status.PASS:
        why = f"{bound} < margin {spec.margin}: non-inferior"
    else:
        why = f"{bound} ≥ margin {spec.margin} and no significant drop beyond {min_effect}"
        if math.isfinite(comp.mde) and comp.mde > margin:
            why += f"; this suite only detects drops ≥ {comp.mde:.3f} (MDE) — add cases"
        else:
            why += " — inconclusive, not a pass"
    details = dict(comp.details)
    details["min_effect"] = str(min_effect)
    details["alpha"] = str(spec.alpha)
    return CheckVerdict(
        name=f"regression:{comp.metric}",
        kind=CheckKind.REGRESSION,
        status=status,
        reason=f"{head}; {why}",
        metric=comp.metric,
        method=comp.method,
        n=comp.n,
        estimate=comp.candidate,
        baseline=comp.baseline,
        delta=comp.delta,
        ci_low=comp.ci_low,
        ci_high=comp.ci_high,
        p_value=comp.p_value,
        p_adjusted=p_adj,
        mde=comp.mde if math.isfinite(comp.mde) else None,
        threshold=spec.margin,
        bound=comp.drop_upper,
        details=details,
    )


def _fmt_p(p: float) -> str:
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def _nearest_rank(sorted_values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile: the smallest value with at least ``q`` of the data ≤ it."""
    rank = max(1, math.ceil(q * len(sorted_values) - 1e-9))
    return sorted_values[rank - 1]


def budget_checks(spec: GateSpec, judged: Sequence[CaseOutcome]) -> list[CheckVerdict]:
    budgets = spec.budgets
    out: list[CheckVerdict] = []
    errors = sorted(o.id for o in judged if o.error)
    limit = budgets.error_rate.max if budgets.error_rate is not None else Decimal(0)
    rate = len(errors) / len(judged)
    over = Decimal(len(errors)) > limit * len(judged)
    configured = "" if budgets.error_rate is not None else " (no error budget set: none allowed)"
    out.append(
        CheckVerdict(
            name="budget:error_rate",
            kind=CheckKind.BUDGET,
            status=Status.FAIL if over else Status.PASS,
            reason=(
                f"{len(errors)} of {len(judged)} case(s) errored ({rate:.1%}); "
                f"budget {limit}{configured}" + (" — the run is not fit to judge" if over else "")
            ),
            n=len(judged),
            estimate=rate,
            threshold=limit,
            bound=rate,
            harness=over,
            cases=tuple(errors),
        )
    )
    if budgets.latency_ms is not None:
        latencies = sorted(o.latency_ms for o in judged if o.latency_ms is not None)
        caps = {
            "p50": budgets.latency_ms.p50,
            "p95": budgets.latency_ms.p95,
            "p99": budgets.latency_ms.p99,
            "max": budgets.latency_ms.max,
        }
        quantiles = {"p50": 0.50, "p95": 0.95, "p99": 0.99, "max": 1.0}
        for key, cap in caps.items():
            if cap is None:
                continue
            name = f"budget:latency_ms.{key}"
            if not latencies:
                out.append(_no_data(name, "latency", cap))
                continue
            value = _nearest_rank(latencies, quantiles[key])
            ok = value <= float(cap)
            out.append(
                CheckVerdict(
                    name=name,
                    kind=CheckKind.BUDGET,
                    status=Status.PASS if ok else Status.FAIL,
                    reason=f"latency {key} {value:g} ms over {len(latencies)} case(s) "
                    f"{'within' if ok else 'exceeds'} the budget {cap} ms",
                    n=len(latencies),
                    estimate=value,
                    threshold=cap,
                    bound=value,
                    details={"method": "nearest-rank"},
                )
            )
    if budgets.cost_usd is not None:
        costs = [o.cost_usd for o in judged if o.cost_usd is not None]
        total = sum(costs, Decimal(0))
        for key, cap in (("max", budgets.cost_usd.max), ("per_case", budgets.cost_usd.per_case)):
            if cap is None:
                continue
            name = f"budget:cost_usd.{key}"
            if not costs:
                out.append(_no_data(name, "cost", cap))
                continue
            spent = total if key == "max" else total / len(costs)
            ok = spent <= cap
            label = "total cost" if key == "max" else "mean cost per case"
            out.append(
                CheckVerdict(
                    name=name,
                    kind=CheckKind.BUDGET,
                    status=Status.PASS if ok else Status.FAIL,
                    reason=f"{label} ${format_number(spent)} over {len(costs)} case(s) "
                    f"{'within' if ok else 'exceeds'} the budget ${cap}",
                    n=len(costs),
                    estimate=spent,
                    threshold=cap,
                    details={"cases_without_cost": len(judged) - len(costs)},
                )
            )
    return out


def _no_data(name: str, what: str, cap: Decimal) -> CheckVerdict:
    return CheckVerdict(
        name=name,
        kind=CheckKind.BUDGET,
        status=Status.FAIL,
        reason=f"a {what} budget is set but no case recorded a {what}",
        threshold=cap,
        harness=True,
    )
