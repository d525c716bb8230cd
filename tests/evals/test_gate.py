"""The gate: per-check semantics (evals.md §5.3), exit codes, quarantine, evidence dict."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from mondaytest._util.canonical import canonical_json, check_profile
from mondaytest.errors import ConfigError, HarnessError
from mondaytest.evals import stats
from mondaytest.evals.gate import (
    CaseOutcome,
    CheckKind,
    GateVerdict,
    Status,
    decide_paired_binary,
    evaluate_gate,
    outcomes_digest,
)
from mondaytest.spec.evals_gate import GateSpec

TODAY = date(2026, 6, 1)


def spec(**data: Any) -> GateSpec:
    return GateSpec.model_validate(data)


def binary_runs(
    table: tuple[int, int, int, int], metric: str = "label", cluster_size: int = 0
) -> tuple[list[CaseOutcome], list[CaseOutcome]]:
    """Baseline and candidate runs realising the paired table (a, b, c, d)."""
    a, b, c, d = table
    pairs = [(1, 1)] * a + [(1, 0)] * b + [(0, 1)] * c + [(0, 0)] * d
    base, cand = [], []
    for i, (x, y) in enumerate(pairs):
        cluster = f"k{i // cluster_size}" if cluster_size else None
        base.append(CaseOutcome(f"c{i:05d}", bool(x), {metric: float(x)}, cluster=cluster))
        cand.append(CaseOutcome(f"c{i:05d}", bool(y), {metric: float(y)}, cluster=cluster))
    return base, cand


REG = {"regression": {"metrics": ["label"], "margin": 0.02, "alpha": 0.05}}


def run(cand: list[CaseOutcome], base: list[CaseOutcome] | None, gate: GateSpec) -> GateVerdict:
    return evaluate_gate(cand, base, gate, today=TODAY)


# ------------------------------------------------------------------------------ zero cases


def test_zero_cases_never_pass() -> None:
    verdict = run([], None, GateSpec())
    assert verdict.status is Status.FAIL
    assert verdict.exit_code() == 3
    assert verdict.checks[0].name == "run:cases"


def test_all_cases_quarantined_is_zero_cases() -> None:
    cand = [CaseOutcome("a", True)]
    gate = spec(quarantine=[{"case": "a", "reason": "flaky", "expires": "2026-12-31"}])
    verdict = run(cand, None, gate)
    assert verdict.status is Status.FAIL
    assert verdict.n_judged == 0
    assert [q.id for q in verdict.quarantined] == ["a"]


# ------------------------------------------------------------------------------ required


def test_critical_case_must_pass() -> None:
    cand = [
        CaseOutcome("ok", True, tags=("critical",)),
        CaseOutcome("bad", False, tags=("critical", "pii")),
        CaseOutcome("other", False),
    ]
    verdict = run(cand, None, GateSpec())
    check = verdict.check("required")
    assert check.status is Status.FAIL
    assert check.cases == ("bad",)
    assert "1 of 2 required" in check.reason
    assert verdict.exit_code() == 1


def test_errored_critical_case_fails_and_listed_ids_count() -> None:
    cand = [
        CaseOutcome("crit", False, tags=("critical",), error=True),
        CaseOutcome("named", True),
    ]
    gate = spec(required={"cases": ["named"]}, budgets={"error_rate": {"max": 1}})
    check = run(cand, None, gate).check("required")
    assert check.status is Status.FAIL
    assert check.cases == ("crit",)
    assert "by error" in check.reason
    assert check.n == 2


def test_required_case_missing_from_run_is_harness_failure() -> None:
    verdict = run([CaseOutcome("a", True)], None, spec(required={"cases": ["ghost"]}))
    check = verdict.check("required")
    assert check.status is Status.FAIL
    assert check.harness
    assert verdict.exit_code() == 3


def test_no_required_cases_is_a_note_not_a_check() -> None:
    verdict = run([CaseOutcome("a", True)], None, GateSpec())
    assert "required" not in [c.name for c in verdict.checks]
    assert any("no required cases" in note for note in verdict.notes)
    assert verdict.status is Status.PASS


# ------------------------------------------------------------------------------ thresholds


def test_threshold_on_wilson_lower_bound() -> None:
    # 870/1000 = 0.87 ≥ 0.86, but the Wilson 95 % lower bound 0.848 is below it
    cand = [CaseOutcome(f"c{i}", i < 870, {"label": float(i < 870)}) for i in range(1000)]
    lower = run(cand, None, spec(thresholds={"label": {"min": 0.86}})).check("threshold:label")
    point = run(cand, None, spec(thresholds={"label": {"min": 0.86, "bound": "point"}}))
    wilson = stats.wilson_interval(870, 1000, 0.95)
    assert lower.status is Status.FAIL
    assert lower.method == "wilson"
    assert lower.bound == pytest.approx(wilson.low)
    assert (lower.ci_low, lower.ci_high) == pytest.approx((wilson.low, wilson.high))
    assert "below the floor 0.86" in lower.reason
    assert point.check("threshold:label").status is Status.PASS
    assert point.check("threshold:label").bound == pytest.approx(0.87)


def test_threshold_point_is_exact_at_the_boundary() -> None:
    cand = [CaseOutcome(f"c{i}", i < 85, {"m": float(i < 85)}) for i in range(100)]
    check = run(cand, None, spec(thresholds={"m": {"min": 0.85, "bound": "point"}}))
    assert check.check("threshold:m").status is Status.PASS


def test_threshold_on_continuous_and_clustered_scores_uses_bootstrap() -> None:
    rng = np.random.default_rng(1)
    values = np.clip(rng.normal(0.9, 0.05, 400), 0, 1)
    cand = [CaseOutcome(f"c{i}", True, {"sim": float(v)}) for i, v in enumerate(values)]
    check = run(cand, None, spec(thresholds={"sim": {"min": 0.85, "bound": "lower99"}}))
    plain = check.check("threshold:sim")
    assert plain.method == "bootstrap"
    assert plain.status is Status.PASS
    assert plain.bound is not None
    assert plain.bound < values.mean()
    clustered = [
        CaseOutcome(c.id, c.passed, c.scores, cluster=f"k{i % 20}") for i, c in enumerate(cand)
    ]
    check2 = run(clustered, None, spec(thresholds={"sim": {"min": 0.85}})).check("threshold:sim")
    assert check2.method == "cluster_bootstrap"
    assert check2.details["clusters"] == 20


def test_threshold_missing_score_is_harness_failure_and_unknown_metric_is_config() -> None:
    cand = [CaseOutcome("a", True, {"m": 1.0}), CaseOutcome("b", True, {})]
    verdict = run(cand, None, spec(thresholds={"m": {"min": 0.5}}))
    check = verdict.check("threshold:m")
    assert check.harness
    assert check.cases == ("b",)
    assert verdict.exit_code() == 3
    with pytest.raises(ConfigError) as info:
        run(cand, None, spec(thresholds={"typo": {"min": 0.5}}))
    assert info.value.field == "gate.thresholds.typo"
    assert "m" in (info.value.hint or "")


# ------------------------------------------------------------------------------ regression


def test_no_regression_on_a_big_suite_passes() -> None:
    base, cand = binary_runs((1650, 60, 70, 220))
    verdict = run(cand, base, spec(**REG))
    check = verdict.check("regression:label")
    assert check.status is Status.PASS
    assert check.method == "mcnemar_exact+newcombe"
    assert check.bound is not None
    assert check.bound < 0.02
    assert verdict.exit_code() == 0


def test_clear_regression_fails_with_oracle_numbers() -> None:
    table = (1600, 120, 50, 230)
    base, cand = binary_runs(table)
    verdict = run(cand, base, spec(**REG))
    check = verdict.check("regression:label")
    assert check.status is Status.FAIL
    assert verdict.exit_code() == 1
    assert check.p_value == pytest.approx(sps.binomtest(120, 170, 0.5, "greater").pvalue)
    ci = stats.newcombe_paired_interval(1600, 50, 120, 230)  # candidate - baseline
    assert (check.ci_low, check.ci_high) == pytest.approx((ci.low, ci.high))
    assert check.delta == pytest.approx(-70 / 2000)
    assert check.details["pass_to_fail"] == 120
    assert check.mde is not None
    assert 0 < check.mde < 0.03
    assert "the candidate is worse" in check.reason
    assert len(verdict.flipped_to_fail) == 120
    assert len(verdict.flipped_to_pass) == 50


def test_small_suite_is_inconclusive_never_pass() -> None:
    base, cand = binary_runs((40, 1, 0, 9))  # 50 cases, one flip
    verdict = run(cand, base, spec(**REG))
    check = verdict.check("regression:label")
    assert check.status is Status.INCONCLUSIVE
    assert check.mde is not None
    assert check.mde > 0.02
    assert "MDE" in check.reason
    assert verdict.status is Status.INCONCLUSIVE
    assert verdict.exit_code() == 0  # warn
    assert verdict.exit_code(strict=True) == 1
    strict = spec(regression={**REG["regression"], "inconclusive": "fail"})
    assert run(cand, base, strict).exit_code() == 1


def test_identical_tiny_runs_are_inconclusive() -> None:
    base, cand = binary_runs((5, 0, 0, 0))
    assert run(cand, base, spec(**REG)).status is Status.INCONCLUSIVE


def test_significant_but_trivial_drop_does_not_fail() -> None:
    # 20,000 cases, drop of 0.006: significant, but under min_effect (0.01)
    base, cand = binary_runs((16500, 260, 140, 3100))
    check = run(cand, base, spec(**REG)).check("regression:label")
    assert check.p_value is not None
    assert check.p_value < 0.001
    assert check.status is Status.PASS  # upper bound on the drop is under the margin
    tight = spec(regression={"metrics": ["label"], "margin": 0.002, "min_effect": 0.001})
    assert run(cand, base, tight).check("regression:label").status is Status.FAIL


def test_improvement_passes_and_flips_are_listed() -> None:
    base, cand = binary_runs((1700, 30, 90, 180))
    verdict = run(cand, base, spec(**REG))
    assert verdict.check("regression:label").status is Status.PASS
    assert len(verdict.flipped_to_fail) == 30  # listed even though nothing is significant
    assert len(verdict.flipped_to_pass) == 90


@settings(max_examples=60, deadline=None)
@given(
    a=st.integers(0, 400),
    b=st.integers(0, 40),
    c=st.integers(0, 40),
    d=st.integers(0, 100),
)
def test_gate_agrees_with_the_vectorised_rule(a: int, b: int, c: int, d: int) -> None:
    if a + b + c + d == 0:
        return
    base, cand = binary_runs((a, b, c, d))
    check = run(cand, base, spec(**REG)).check("regression:label")
    expected = decide_paired_binary(a, b, c, d, alpha=0.05, margin=0.02, min_effect=0.01)
    assert check.status.value == str(expected)
    # the §5.3 invariants
    assert check.p_adjusted is not None
    assert check.bound is not None
    if check.status is Status.FAIL:
        assert check.p_adjusted <= 0.05
        assert (b - c) / (a + b + c + d) > 0.01
    if check.status is Status.PASS:
        assert check.bound < 0.02


def test_continuous_and_clustered_regression_use_bootstraps() -> None:
    rng = np.random.default_rng(2)
    n = 600
    base_s = rng.random(n)
    cand_s = np.clip(base_s - 0.05 + rng.normal(0, 0.05, n), 0, 1)
    base = [CaseOutcome(f"c{i}", True, {"sim": float(v)}) for i, v in enumerate(base_s)]
    cand = [CaseOutcome(f"c{i}", True, {"sim": float(v)}) for i, v in enumerate(cand_s)]
    gate = spec(regression={"metrics": ["sim"], "seed": 7, "resamples": 1000})
    check = run(cand, base, gate).check("regression:sim")
    assert check.method == "bootstrap"
    assert check.status is Status.FAIL
    assert check.details["seed"] == 7
    again = run(cand, base, gate).check("regression:sim")
    assert again == check  # seeded: the same verdict, to the last digit
    clustered_cand = [
        CaseOutcome(o.id, o.passed, o.scores, cluster=f"k{i // 30}") for i, o in enumerate(cand)
    ]
    ccheck = run(clustered_cand, base, gate).check("regression:sim")
    assert ccheck.method == "cluster_bootstrap"
    assert ccheck.details["clusters"] == 20
    with pytest.raises(ConfigError) as info:
        run(cand, base, spec(regression={"metrics": ["sim"], "method": "mcnemar"}))
    assert info.value.field == "gate.regression.method"


def test_clustered_binary_metric_uses_cluster_bootstrap() -> None:
    base, cand = binary_runs((900, 40, 20, 40), cluster_size=10)
    check = run(cand, base, spec(**REG)).check("regression:label")
    assert check.method == "cluster_bootstrap"


def test_holm_across_regression_metrics() -> None:
    base_a, cand_a = binary_runs((800, 72, 50, 78), metric="a")  # one-sided p 0.028
    _, cand_b = binary_runs((800, 72, 50, 78), metric="b")
    base = [CaseOutcome(x.id, x.passed, {"a": x.scores["a"], "b": x.scores["a"]}) for x in base_a]
    cand = [
        CaseOutcome(x.id, x.passed, {"a": x.scores["a"], "b": y.scores["b"]})
        for x, y in zip(cand_a, cand_b, strict=True)
    ]
    one = run(cand, base, spec(regression={"metrics": ["a"], "margin": 0.02}))
    two = run(cand, base, spec(regression={"metrics": ["a", "b"], "margin": 0.02}))
    raw = one.check("regression:a").p_value
    assert raw is not None
    assert raw < 0.05
    pa, pb = two.check("regression:a").p_adjusted, two.check("regression:b").p_adjusted
    assert [pa, pb] == pytest.approx(stats.holm([raw, raw]))
    assert pa is not None
    assert pa > 0.05  # significant alone, not after Holm over two metrics
    assert one.check("regression:a").status is Status.FAIL
    assert two.check("regression:a").status is not Status.FAIL


def test_added_removed_and_errored_cases_are_left_out_of_pairs() -> None:
    base, cand = binary_runs((1000, 10, 10, 100))
    cand = [*cand[:-5], CaseOutcome("new", True, {"label": 1.0})]
    cand[0] = CaseOutcome(cand[0].id, False, {}, error=True)
    gate = spec(**REG, budgets={"error_rate": {"max": 0.01}})
    verdict = run(cand, base, gate)
    assert verdict.added == ("new",)
    assert len(verdict.removed) == 5
    assert verdict.errored == (cand[0].id,)
    assert verdict.n_paired == 1120 - 5 - 1
    assert verdict.check("budget:error_rate").status is Status.PASS


def test_missing_or_unusable_baseline_is_a_harness_failure() -> None:
    base, cand = binary_runs((100, 0, 0, 0))
    no_base = run(cand, None, spec(**REG))
    assert no_base.check("run:baseline").harness
    assert no_base.exit_code() == 3
    other = [CaseOutcome("x" + o.id, o.passed, o.scores) for o in base]
    assert run(cand, other, spec(**REG)).exit_code() == 3
    base_without = [CaseOutcome(o.id, o.passed, {"other": 1.0}) for o in base]
    check = run(cand, base_without, spec(**REG)).check("regression:label")
    assert check.harness
    assert check.status is Status.FAIL


# ------------------------------------------------------------------------------ budgets


def test_errors_fail_by_default_and_mean_an_unusable_run() -> None:
    cand = [CaseOutcome("a", True), CaseOutcome("b", False, error=True)]
    verdict = run(cand, None, GateSpec())
    check = verdict.check("budget:error_rate")
    assert check.status is Status.FAIL
    assert check.harness
    assert check.cases == ("b",)
    assert verdict.exit_code() == 3
    ok = run(cand, None, spec(budgets={"error_rate": {"max": 0.5}}))
    assert ok.check("budget:error_rate").status is Status.PASS


def test_latency_and_cost_budgets() -> None:
    cand = [
        CaseOutcome(f"c{i}", True, latency_ms=float(i + 1), cost_usd=Decimal("0.01"))
        for i in range(100)
    ]
    gate = spec(budgets={"latency_ms": {"p95": 95, "p50": 49, "max": 200}, "cost_usd": {"max": 1}})
    verdict = run(cand, None, gate)
    assert verdict.check("budget:latency_ms.p95").status is Status.PASS  # nearest rank: 95
    assert verdict.check("budget:latency_ms.p95").estimate == 95.0
    assert verdict.check("budget:latency_ms.p50").status is Status.FAIL  # 50 > 49
    assert verdict.check("budget:latency_ms.max").status is Status.PASS
    assert verdict.check("budget:cost_usd.max").estimate == Decimal("1.00")
    assert verdict.check("budget:cost_usd.max").status is Status.PASS
    assert verdict.exit_code() == 1
    per_case = run(cand, None, spec(budgets={"cost_usd": {"per_case": 0.009}}))
    assert per_case.check("budget:cost_usd.per_case").status is Status.FAIL
    no_data = run([CaseOutcome("a", True)], None, spec(budgets={"latency_ms": {"p95": 1}}))
    assert no_data.check("budget:latency_ms.p95").harness


# ------------------------------------------------------------------------------ quarantine


def test_quarantined_cases_are_excluded_but_listed() -> None:
    cand = [CaseOutcome("flaky", False, tags=("critical",)), CaseOutcome("ok", True)]
    gate = spec(quarantine=[{"case": "flaky", "reason": "#12", "expires": "2026-06-01"}])
    verdict = run(cand, None, gate)
    assert verdict.status is Status.PASS
    assert verdict.quarantined[0].id == "flaky"
    assert verdict.quarantined[0].passed is False
    assert verdict.n_judged == 1


def test_expired_quarantine_is_a_config_error_naming_the_case() -> None:
    gate = spec(
        quarantine=[
            {"case": "fine", "reason": "x", "expires": "2027-01-01"},
            {"case": "stale", "reason": "#7", "expires": "2026-05-31"},
        ]
    )
    with pytest.raises(ConfigError) as info:
        run([CaseOutcome("a", True)], None, gate)
    assert "'stale'" in str(info.value)
    assert info.value.field == "gate.quarantine[1].expires"
    assert info.value.exit_code == 2


# ------------------------------------------------------------------------------ input checks


def test_duplicate_ids_are_a_harness_error() -> None:
    with pytest.raises(HarnessError):
        run([CaseOutcome("a", True), CaseOutcome("a", False)], None, GateSpec())
    with pytest.raises(HarnessError):
        run([CaseOutcome("a", True)], [CaseOutcome("b", True)] * 2, spec(**REG))


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan"), "0.5"])
def test_case_outcome_rejects_bad_scores(bad: Any) -> None:
    with pytest.raises(HarnessError):
        CaseOutcome("a", True, {"m": bad})


def test_case_outcome_normalises() -> None:
    outcome = CaseOutcome("a", True, {"m": True, "n": 0}, tags=["x"], cost_usd=0.1)  # type: ignore[arg-type]
    assert outcome.scores == {"m": 1.0, "n": 0.0}
    assert outcome.tags == ("x",)
    assert outcome.cost_usd == Decimal("0.1")
    with pytest.raises(HarnessError):
        CaseOutcome("", True)
    with pytest.raises(HarnessError):
        CaseOutcome("a", True, latency_ms=-1.0)


# ------------------------------------------------------------------------------ evidence


def test_verdict_dict_is_in_the_restricted_profile_and_deterministic() -> None:
    base, cand = binary_runs((1600, 120, 50, 230))
    cand[0] = CaseOutcome(cand[0].id, True, cand[0].scores, tags=("critical",), latency_ms=3.5)
    gate = spec(
        thresholds={"label": {"min": 0.8}},
        budgets={"latency_ms": {"max": 10}},
        quarantine=[{"case": "c01600", "reason": "r", "expires": "2026-12-31"}],
        **REG,
    )
    first = run(cand, base, gate).to_dict(case_limit=10)
    second = run(cand, base, gate).to_dict(case_limit=10)
    check_profile(first)
    assert canonical_json(first) == canonical_json(second)
    assert first["status"] == "fail"
    assert first["exit_code"] == 1
    flips = first["flipped_to_fail"]
    assert flips["count"] == 119  # one flip is quarantined
    assert len(flips["ids"]) == 10
    assert flips["truncated"] is True
    reg = next(c for c in first["checks"] if c["name"] == "regression:label")
    assert isinstance(reg["p_value"], str)
    assert isinstance(reg["ci95"][0], str)
    assert reg["threshold"] == "0.02"
    assert first["inputs"]["gate_spec"].startswith("sha256:")
    assert first["quarantined"][0]["expires"] == "2026-12-31"
    assert len(canonical_json(first)) < 64 * 1024  # fits one audit leaf


def test_outcomes_digest_equals_canonical_json_of_the_records() -> None:
    import hashlib

    items = [
        CaseOutcome("é-2", False, {"b": 0.25, "a": 1 / 3}, ("t",), "k", True, 1.5, Decimal("2")),
        CaseOutcome("a-1", True),
    ]
    records = [o.to_record() for o in sorted(items, key=lambda o: o.id)]
    expected = "sha256:" + hashlib.sha256(canonical_json(records)).hexdigest()
    assert outcomes_digest(items) == expected
    assert outcomes_digest(list(reversed(items))) == expected
    with pytest.raises(HarnessError):
        CaseOutcome("a", True, {"ü": 1.0})


@settings(max_examples=200, deadline=None)
@given(
    case_id=st.text(min_size=1, max_size=10),
    passed=st.booleans(),
    scores=st.dictionaries(
        st.text(alphabet=st.characters(max_codepoint=127), min_size=1, max_size=5),
        st.floats(0, 1),
        max_size=3,
    ),
    tags=st.lists(st.text(max_size=5), max_size=3),
    cluster=st.none() | st.text(max_size=5),
    latency=st.none() | st.floats(0, 1e9),
    cost=st.none() | st.decimals(0, 1000, allow_nan=False, places=6),
)
def test_record_json_is_the_canonical_json_of_the_record(
    case_id: str,
    passed: bool,
    scores: dict[str, float],
    tags: list[str],
    cluster: str | None,
    latency: float | None,
    cost: Decimal | None,
) -> None:
    outcome = CaseOutcome(case_id, passed, scores, tuple(tags), cluster, False, latency, cost)
    assert outcome.record_json().encode("utf-8") == canonical_json(outcome.to_record())


def test_check_kinds_in_order() -> None:
    base, cand = binary_runs((100, 0, 0, 0))
    cand[0] = CaseOutcome(cand[0].id, True, cand[0].scores, tags=("critical",))
    gate = spec(thresholds={"label": {"min": 0.5}}, **REG)
    kinds = [c.kind for c in run(cand, base, gate).checks]
    assert kinds == [
        CheckKind.REQUIRED,
        CheckKind.THRESHOLD,
        CheckKind.REGRESSION,
        CheckKind.BUDGET,
    ]


def test_power_bench_runs_the_real_gate() -> None:
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / "eval_power.py"
    module_spec = importlib.util.spec_from_file_location("eval_power_under_test", path)
    assert module_spec is not None
    assert module_spec.loader is not None
    power = importlib.util.module_from_spec(module_spec)
    sys.modules["eval_power_under_test"] = power  # dataclasses look their module up
    module_spec.loader.exec_module(power)
    worse = power.simulate(drop=0.03, replications=200, full_gate_checks=3)
    same = power.simulate(drop=0.0, replications=200, full_gate_checks=3)
    assert worse.full_gate_checked == 3  # evaluate_gate agreed with the vectorised rule
    assert worse.fail_rate >= 0.8
    assert same.fail_rate <= 0.1
