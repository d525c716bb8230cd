"""Statistics of the gate, checked against scipy/statsmodels as oracles and published values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_confint

from mondaytest.evals import stats

# ------------------------------------------------------------------------------------ Wilson


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 5000),
    frac=st.floats(0, 1),
    confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_wilson_matches_statsmodels(n: int, frac: float, confidence: float) -> None:
    k = round(frac * n)
    got = stats.wilson_interval(k, n, confidence)
    low, high = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    assert got.low == pytest.approx(low, abs=1e-12)
    assert got.high == pytest.approx(high, abs=1e-12)
    assert got.low <= k / n <= got.high


def test_wilson_edges() -> None:
    assert stats.wilson_interval(0, 10).low == 0.0
    assert stats.wilson_interval(10, 10).high == 1.0
    # zero failures in n: Wilson's upper bound is z²/(n + z²), a little under the rule of three
    z2 = stats.z_value(0.9) ** 2
    assert stats.wilson_interval(0, 1000, 0.9).high == pytest.approx(z2 / (1000 + z2))
    assert stats.wilson_interval(0, 1000, 0.9).high < 3 / 1000
    with pytest.raises(ValueError):
        stats.wilson_interval(1, 0)
    with pytest.raises(ValueError):
        stats.wilson_interval(5, 4)
    with pytest.raises(ValueError):
        stats.wilson_interval(1, 4, 1.0)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 2000), frac=st.floats(0, 1))
def test_wilson_nested_by_confidence(n: int, frac: float) -> None:
    k = round(frac * n)
    narrow = stats.wilson_interval(k, n, 0.9)
    wide = stats.wilson_interval(k, n, 0.99)
    assert wide.low <= narrow.low + 1e-15
    assert narrow.high <= wide.high + 1e-15


# ------------------------------------------------------------------------------------ McNemar


@settings(max_examples=300, deadline=None)
@given(b=st.integers(0, 400), c=st.integers(0, 400))
def test_mcnemar_two_sided_matches_statsmodels(b: int, c: int) -> None:
    expected = sm_mcnemar([[10, b], [c, 10]], exact=True).pvalue
    assert stats.mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9, abs=1e-300)


@settings(max_examples=300, deadline=None)
@given(b=st.integers(0, 400), c=st.integers(0, 400))
def test_mcnemar_one_sided_matches_scipy_binomtest(b: int, c: int) -> None:
    if b + c == 0:
        assert stats.mcnemar_exact(b, c, alternative="greater") == 1.0
        return
    greater = sps.binomtest(b, b + c, 0.5, alternative="greater").pvalue
    less = sps.binomtest(b, b + c, 0.5, alternative="less").pvalue
    assert stats.mcnemar_exact(b, c, alternative="greater") == pytest.approx(greater, rel=1e-9)
    assert stats.mcnemar_exact(b, c, alternative="less") == pytest.approx(less, rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(b=st.integers(0, 300), c=st.integers(0, 300))
def test_mcnemar_mid_p_properties(b: int, c: int) -> None:
    m = b + c
    pmf = sps.binom.pmf(b, m, 0.5) if m else 1.0
    exact = stats.mcnemar_exact(b, c, alternative="greater")
    mid = stats.mcnemar_exact(b, c, alternative="greater", mid_p=True)
    if m:
        assert mid == pytest.approx(exact - pmf / 2, abs=1e-12)
        # one-sided mid-p values of the two directions add up to exactly 1
        other = stats.mcnemar_exact(b, c, alternative="less", mid_p=True)
        assert mid + other == pytest.approx(1.0, abs=1e-12)
    assert 0.0 <= mid <= exact <= 1.0


def test_mcnemar_published_values() -> None:
    # Cavo et al. (2012) table as analysed by Fagerland, Lydersen & Laake (2017), chapter 8:
    # exact conditional P = 0.052479, mid-P = 0.034690 (b = 6, c = 16).
    assert stats.mcnemar_exact(6, 16) == pytest.approx(0.052479, abs=5e-7)
    assert stats.mcnemar_exact(6, 16, mid_p=True) == pytest.approx(0.034690, abs=5e-7)


def test_mcnemar_vectorised_equals_scalar() -> None:
    rng = np.random.default_rng(3)
    b = rng.integers(0, 50, 200)
    c = rng.integers(0, 50, 200)
    many = stats.mcnemar_exact_many(b, c, alternative="greater")
    for i in range(200):
        assert many[i] == stats.mcnemar_exact(int(b[i]), int(c[i]), alternative="greater")
    with pytest.raises(ValueError):
        stats.mcnemar_exact(-1, 3)


# ------------------------------------------------------------------------------------ Newcombe


def test_newcombe_published_value() -> None:
    # Fagerland, Lydersen & Laake (2017), Cavo et al. (2012): Newcombe square-and-add interval
    # estimate -0.0621, 95 % CI -0.1186 to -0.0046.
    ci = stats.newcombe_paired_interval(59, 6, 16, 80)
    assert ci.estimate == pytest.approx(-0.0621, abs=5e-5)
    assert ci.low == pytest.approx(-0.1186, abs=5e-5)
    assert ci.high == pytest.approx(-0.0046, abs=5e-5)


@settings(max_examples=300, deadline=None)
@given(
    a=st.integers(0, 300),
    b=st.integers(0, 60),
    c=st.integers(0, 60),
    d=st.integers(0, 300),
    confidence=st.sampled_from([0.8, 0.9, 0.95]),
)
def test_newcombe_properties(a: int, b: int, c: int, d: int, confidence: float) -> None:
    if a + b + c + d == 0:
        return
    ci = stats.newcombe_paired_interval(a, b, c, d, confidence)
    assert -1.0 <= ci.low <= ci.estimate + 1e-12
    assert ci.estimate - 1e-12 <= ci.high <= 1.0
    mirrored = stats.newcombe_paired_interval(a, c, b, d, confidence)
    assert mirrored.low == pytest.approx(-ci.high, abs=1e-12)
    assert mirrored.high == pytest.approx(-ci.low, abs=1e-12)
    wider = stats.newcombe_paired_interval(a, b, c, d, 0.99)
    assert wider.low <= ci.low + 1e-12
    assert wider.high >= ci.high - 1e-12


def test_newcombe_coverage_near_nominal() -> None:
    # Paired outcomes with 10 % discordance and a true drop of 0.02, n = 300.
    rng = np.random.default_rng(11)
    probs = [0.78, 0.06, 0.04, 0.12]  # a, b, c, d
    tables = rng.multinomial(300, probs, size=4000)
    low, high = stats.newcombe_paired_many(*tables.T, confidence=0.95)
    covered = np.mean((low <= 0.02) & (high >= 0.02))
    assert 0.93 <= covered <= 0.975


# ------------------------------------------------------------------------------------ bootstrap


def test_paired_bootstrap_constant_difference() -> None:
    base = np.linspace(0, 0.8, 50)
    res = stats.paired_bootstrap(base + 0.1, base, seed=1)
    assert res.estimate == pytest.approx(0.1)
    assert res.low == pytest.approx(0.1)
    assert res.high == pytest.approx(0.1)
    assert res.p_worse == 1.0  # better in every replicate: no evidence at all of "worse"
    worse = stats.paired_bootstrap(base, base + 0.1, seed=1)
    assert worse.p_worse == pytest.approx(1 / (1 + worse.resamples))


def test_paired_bootstrap_is_seeded_and_matches_theory() -> None:
    rng = np.random.default_rng(5)
    base = rng.random(2000)
    cand = np.clip(base + rng.normal(-0.01, 0.1, 2000), 0, 1)
    first = stats.paired_bootstrap(cand, base, seed=42, resamples=4000)
    again = stats.paired_bootstrap(cand, base, seed=42, resamples=4000)
    assert (first.low, first.high, first.p_worse) == (again.low, again.high, again.p_worse)
    diff = cand - base
    assert first.se == pytest.approx(diff.std() / math.sqrt(diff.size), rel=0.08)
    # oracle: scipy's percentile bootstrap of the mean difference agrees to Monte Carlo error
    oracle = sps.bootstrap(
        (diff,), np.mean, n_resamples=4000, method="percentile", random_state=1
    ).confidence_interval
    assert first.low == pytest.approx(oracle.low, abs=first.se * 0.2)
    assert first.high == pytest.approx(oracle.high, abs=first.se * 0.2)
    assert first.p_worse < 0.05  # a 0.01 drop with SE ~0.0022 is clearly detected


def test_bootstrap_input_errors() -> None:
    with pytest.raises(ValueError):
        stats.paired_bootstrap([], [])
    with pytest.raises(ValueError):
        stats.paired_bootstrap([0.1, 0.2], [0.1])
    with pytest.raises(ValueError):
        stats.paired_bootstrap([0.1, float("nan")], [0.1, 0.2])
    with pytest.raises(ValueError):
        stats.paired_bootstrap([0.1], [0.1], resamples=10)
    with pytest.raises(ValueError):
        stats.cluster_bootstrap([0.1, 0.2], [0.1, 0.2], ["a"])


def test_cluster_bootstrap_sees_correlation() -> None:
    rng = np.random.default_rng(9)
    clusters = np.repeat(np.arange(100), 20)  # 100 clusters of 20 cases
    shared = rng.normal(0, 0.1, 100)[clusters]  # each cluster moves together
    diff = shared + rng.normal(0, 0.05, 2000)
    base = np.full(2000, 0.5)
    clustered = stats.cluster_bootstrap(base + diff, base, clusters, seed=3, resamples=3000)
    naive = stats.paired_bootstrap(base + diff, base, seed=3, resamples=3000)
    # analytic cluster-robust SE of the mean: sd of cluster means / sqrt(clusters)
    cluster_means = np.bincount(clusters, weights=diff) / 20
    analytic = cluster_means.std() / math.sqrt(100)
    assert clustered.se == pytest.approx(analytic, rel=0.1)
    assert clustered.design_effect is not None
    assert clustered.design_effect > 5
    assert clustered.se > 2 * naive.se
    assert clustered.clusters == 100


def test_cluster_bootstrap_singletons_match_case_bootstrap() -> None:
    rng = np.random.default_rng(4)
    base = rng.random(1000)
    cand = np.clip(base + rng.normal(0, 0.1, 1000), 0, 1)
    singles = stats.cluster_bootstrap(cand, base, [str(i) for i in range(1000)], seed=1)
    plain = stats.paired_bootstrap(cand, base, seed=1)
    assert singles.se == pytest.approx(plain.se, rel=0.1)
    assert singles.design_effect == pytest.approx(1.0, abs=0.15)


def test_cluster_bootstrap_unequal_sizes_is_case_weighted() -> None:
    # One big cluster of +0.2 differences and many small ones of 0: the estimate is the case mean.
    diff = np.array([0.2] * 50 + [0.0] * 50)
    clusters = ["big"] * 50 + [f"s{i}" for i in range(50)]
    res = stats.cluster_bootstrap(diff, np.zeros(100), clusters, seed=0)
    assert res.estimate == pytest.approx(0.1)
    assert res.low < 0.1 < res.high


# ------------------------------------------------------------------------------------ Holm


@settings(max_examples=40, deadline=None)  # statsmodels' multipletests is slow (~50 ms a call)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
def test_holm_matches_statsmodels(pvalues: list[float]) -> None:
    expected = multipletests(pvalues, method="holm")[1]
    got = stats.holm(pvalues)
    assert got == pytest.approx(list(expected), abs=1e-12)
    assert all(g >= p - 1e-15 for g, p in zip(got, pvalues, strict=True))


def test_holm_edges() -> None:
    assert stats.holm([]) == []
    assert stats.holm([0.03]) == [0.03]
    with pytest.raises(ValueError):
        stats.holm([1.5])


# ------------------------------------------------------------------------------------ power


def test_cases_needed_gives_the_promised_power_by_simulation() -> None:
    effect, discordance, alpha = 0.05, 0.15, 0.05
    n = stats.cases_needed_paired_binary(effect, discordance, alpha=alpha, power=0.8)
    # b and c rates with b - c = effect and b + c = discordance
    p_b = (discordance + effect) / 2
    p_c = (discordance - effect) / 2
    rng = np.random.default_rng(21)
    tables = rng.multinomial(n, [p_b, p_c, 1 - p_b - p_c], size=4000)
    p = stats.mcnemar_exact_many(tables[:, 0], tables[:, 1], alternative="greater")
    power = float(np.mean(p <= alpha))
    assert 0.74 <= power <= 0.86  # exact test is a little conservative; ±MC error


def test_mde_inverts_power_and_cases_needed() -> None:
    for n, psi in [(2000, 0.1), (500, 0.3), (150, 0.05), (2000, 0.0)]:
        mde = stats.mde_paired_binary(n, psi, alpha=0.05, power=0.8)
        assert stats.power_paired_binary(mde, psi, n, alpha=0.05) == pytest.approx(0.8, abs=1e-6)
        needed = stats.cases_needed_paired_binary(mde, psi, alpha=0.05, power=0.8)
        assert abs(needed - n) <= 1
    assert stats.mde_paired_binary(2, 0.5) == math.inf
    assert stats.mde_paired_binary(0, 0.5) == math.inf
    # more discordance, larger MDE; more cases, smaller MDE
    assert stats.mde_paired_binary(1000, 0.3) > stats.mde_paired_binary(1000, 0.1)
    assert stats.mde_paired_binary(4000, 0.1) < stats.mde_paired_binary(1000, 0.1)


def test_mde_mean_difference_matches_statsmodels() -> None:
    for n, sd, alpha, power in [(2000, 0.2, 0.05, 0.8), (300, 0.35, 0.025, 0.9)]:
        es = NormalIndPower().solve_power(
            effect_size=None, nobs1=n, alpha=alpha, power=power, ratio=0, alternative="larger"
        )
        expected = es * sd
        assert stats.mde_mean_difference(sd, n, alpha=alpha, power=power) == pytest.approx(
            expected, rel=1e-5
        )
    assert stats.mde_mean_difference(0.2, 100, design_effect=4.0) == pytest.approx(
        2 * stats.mde_mean_difference(0.2, 100)
    )


def test_power_argument_checks() -> None:
    with pytest.raises(ValueError):
        stats.cases_needed_paired_binary(0.0, 0.1)
    with pytest.raises(ValueError):
        stats.mde_paired_binary(100, 1.5)
    with pytest.raises(ValueError):
        stats.mde_paired_binary(100, 0.1, alpha=0.7)
    with pytest.raises(ValueError):
        stats.mde_paired_binary(100, 0.1, power=1.0)
