"""Statistics for the eval gate: intervals, paired tests, resampling, multiplicity and power.

Everything here is deterministic (resampling takes an explicit seed) and vectorised with numpy;
scipy supplies the distributions. The paired-binary vocabulary used throughout, for a baseline
run and a candidate run on the same cases:

====  =========================================  ====================
cell  baseline → candidate                        meaning
====  =========================================  ====================
a     pass → pass                                 concordant
b     pass → fail                                 regression (flip)
c     fail → pass                                 improvement (flip)
d     fail → fail                                 concordant
====  =========================================  ====================

Only the discordant pairs ``b`` and ``c`` carry information about the difference; the
"discordance rate" is ``(b + c) / n``.

References: Wilson (1927); McNemar (1947); Newcombe, *Statistics in Medicine* 17 (1998)
2635-2650, method 10; Holm (1979); Connor, *Biometrics* 43 (1987) 207-211 for paired-binary
power; Efron & Tibshirani (1993) for the percentile bootstrap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import optimize, stats

__all__ = [
    "Alternative",
    "BootstrapResult",
    "Interval",
    "cases_needed_paired_binary",
    "cluster_bootstrap",
    "holm",
    "mcnemar_exact",
    "mcnemar_exact_many",
    "mde_mean_difference",
    "mde_paired_binary",
    "newcombe_paired_interval",
    "newcombe_paired_many",
    "paired_bootstrap",
    "power_paired_binary",
    "wilson_interval",
    "wilson_many",
    "z_value",
]

FloatArray = npt.NDArray[np.float64]
Alternative = Literal["two-sided", "greater", "less"]
"""For McNemar: ``greater`` means more ``b`` (pass → fail) than ``c``, i.e. the second run worse."""

_CHUNK_ELEMENTS = 2_000_000  # resampling works in blocks of about this many drawn indices


@dataclass(frozen=True, slots=True)
class Interval:
    """A two-sided confidence interval ``[low, high]`` at ``confidence`` (e.g. 0.95)."""

    estimate: float
    """The point estimate the interval is about."""
    low: float
    """Lower end."""
    high: float
    """Upper end."""
    confidence: float
    """Two-sided coverage, e.g. 0.95."""


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def z_value(confidence: float) -> float:
    """The two-sided normal quantile for ``confidence``: 1.96 for 0.95."""
    _check_confidence(confidence)
    return float(stats.norm.ppf(1.0 - (1.0 - confidence) / 2.0))


# --------------------------------------------------------------------------------------------
# Wilson score interval


def wilson_many(
    successes: npt.ArrayLike, n: npt.ArrayLike, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Vectorised Wilson score interval; returns ``(low, high)`` arrays. ``n`` must be > 0."""
    k = np.asarray(successes, dtype=np.float64)
    total = np.asarray(n, dtype=np.float64)
    if np.any(total <= 0):
        raise ValueError("Wilson interval needs n > 0")
    if np.any((k < 0) | (k > total)):
        raise ValueError("successes must lie in [0, n]")
    z = z_value(confidence)
    z2 = z * z
    denom = total + z2
    centre = (k + z2 / 2.0) / denom
    half = z * np.sqrt(k * (total - k) / total + z2 / 4.0) / denom
    low = np.where(k == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(k == total, 1.0, np.clip(centre + half, 0.0, 1.0))
    return low, high


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a binomial proportion ``successes / n`` (two-sided)."""
    low, high = wilson_many(successes, n, confidence)
    return Interval(successes / n, float(low), float(high), confidence)


# --------------------------------------------------------------------------------------------
# Exact McNemar test


def mcnemar_exact_many(
    b: npt.ArrayLike,
    c: npt.ArrayLike,
    *,
    alternative: Alternative = "two-sided",
    mid_p: bool = False,
) -> FloatArray:
    """Vectorised exact (conditional binomial) McNemar p-values.

    Conditional on ``b + c`` discordant pairs, ``b ~ Binomial(b + c, 1/2)`` under the null.
    ``greater`` tests whether ``b`` is larger than chance (the second run is worse), ``less``
    the reverse. The two-sided value doubles the smaller tail (capped at 1), as statsmodels'
    ``mcnemar(exact=True)`` does. ``mid_p`` counts only half the probability of the observed
    value. No discordant pairs gives p = 1.
    """
    bb = np.asarray(b, dtype=np.int64)
    cc = np.asarray(c, dtype=np.int64)
    if np.any(bb < 0) or np.any(cc < 0):
        raise ValueError("McNemar counts must be non-negative")
    m = bb + cc
    half_obs = 0.5 * stats.binom.pmf(bb, m, 0.5) if mid_p else 0.0
    if alternative == "greater":
        p = stats.binom.sf(bb - 1, m, 0.5) - half_obs
    elif alternative == "less":
        p = stats.binom.cdf(bb, m, 0.5) - half_obs
    elif alternative == "two-sided":
        k = np.minimum(bb, cc)
        tail = stats.binom.cdf(k, m, 0.5)
        if mid_p:
            tail = tail - 0.5 * stats.binom.pmf(k, m, 0.5)
        p = 2.0 * tail
    else:
        raise ValueError(f"unknown alternative {alternative!r}")
    out: FloatArray = np.clip(np.where(m == 0, 1.0, p), 0.0, 1.0).astype(np.float64)
    return out


def mcnemar_exact(
    b: int, c: int, *, alternative: Alternative = "two-sided", mid_p: bool = False
) -> float:
    """Exact McNemar p-value for ``b`` (pass → fail) and ``c`` (fail → pass) discordant pairs."""
    return float(mcnemar_exact_many(b, c, alternative=alternative, mid_p=mid_p))


# --------------------------------------------------------------------------------------------
# Newcombe's paired interval (1998, method 10)


def newcombe_paired_many(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    c: npt.ArrayLike,
    d: npt.ArrayLike,
    confidence: float = 0.95,
) -> tuple[FloatArray, FloatArray]:
    """Vectorised Newcombe method-10 interval for ``p1 - p2 = (b - c) / n`` on paired data.

    ``p1 = (a + b) / n`` is the first run's proportion and ``p2 = (a + c) / n`` the second's.
    Wilson intervals for ``p1`` and ``p2`` are combined by "square and add", corrected for the
    correlation of the pair by ``phi`` (with Newcombe's adjustment of ``ad - bc`` towards 0
    by ``n / 2`` when it is positive; ``phi = 0`` when a margin is empty).
    Returns ``(low, high)``.
    """
    aa, bb, cc, dd = (np.asarray(x, dtype=np.float64) for x in (a, b, c, d))
    n = aa + bb + cc + dd
    if np.any(n <= 0):
        raise ValueError("Newcombe's interval needs at least one pair")
    p1 = (aa + bb) / n
    p2 = (aa + cc) / n
    l1, u1 = wilson_many(aa + bb, n, confidence)
    l2, u2 = wilson_many(aa + cc, n, confidence)
    margins = (aa + bb) * (cc + dd) * (aa + cc) * (bb + dd)
    cross = aa * dd - bb * cc
    adjusted = np.where(cross > n / 2.0, cross - n / 2.0, np.where(cross >= 0, 0.0, cross))
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.where(margins > 0, adjusted / np.sqrt(np.where(margins > 0, margins, 1.0)), 0.0)
    theta = p1 - p2
    dl = np.sqrt(np.maximum((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0))
    du = np.sqrt(np.maximum((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0))
    return np.maximum(theta - dl, -1.0), np.minimum(theta + du, 1.0)


def newcombe_paired_interval(a: int, b: int, c: int, d: int, confidence: float = 0.95) -> Interval:
    """Newcombe (1998) method-10 interval for the paired difference ``(b - c) / n``.

    With the cells as in this module (``b`` pass → fail), the interval is about the *drop* from
    the first run to the second; swap ``b`` and ``c`` for the change ``second - first``.
    """
    low, high = newcombe_paired_many(a, b, c, d, confidence)
    n = a + b + c + d
    return Interval((b - c) / n, float(low), float(high), confidence)


# --------------------------------------------------------------------------------------------
# Paired and cluster bootstrap of a mean difference


@dataclass(frozen=True)
class BootstrapResult:
    """A seeded percentile bootstrap of the mean difference ``candidate - baseline``."""

    estimate: float
    """Observed mean difference (candidate minus baseline; negative = candidate worse)."""
    low: float
    """Lower end of the two-sided percentile interval at ``confidence``."""
    high: float
    """Upper end of the two-sided percentile interval at ``confidence``."""
    confidence: float
    """Two-sided coverage of ``low``/``high``."""
    se: float
    """Standard deviation of the bootstrap replicates."""
    p_worse: float
    """One-sided p-value for "candidate worse": ``(1 + #{replicates >= 0}) / (1 + B)``."""
    resamples: int
    """Number of bootstrap replicates ``B``."""
    seed: int
    """Seed of numpy's ``default_rng`` that drew them."""
    n: int
    """Number of paired cases."""
    clusters: int | None = None
    """Number of clusters resampled (None for the case-level bootstrap)."""
    design_effect: float | None = None
    """Variance inflation from clustering: cluster SE² / case-level SE² (None if unclustered)."""
    replicates: FloatArray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)
    """The replicates themselves, for further quantiles."""

    def quantile(self, q: float) -> float:
        """The ``q`` quantile of the replicates (e.g. 0.95 for a one-sided upper bound)."""
        return float(np.quantile(self.replicates, q))


def _differences(candidate: npt.ArrayLike, baseline: npt.ArrayLike) -> FloatArray:
    cand = np.asarray(candidate, dtype=np.float64)
    base = np.asarray(baseline, dtype=np.float64)
    if cand.ndim != 1 or cand.shape != base.shape:
        raise ValueError("candidate and baseline must be 1-D arrays of the same length")
    if cand.size == 0:
        raise ValueError("the bootstrap needs at least one paired case")
    if not (np.all(np.isfinite(cand)) and np.all(np.isfinite(base))):
        raise ValueError("scores must be finite numbers")
    out: FloatArray = cand - base
    return out


def _resample_sums(
    rng: np.random.Generator, sums: FloatArray, sizes: FloatArray, resamples: int
) -> FloatArray:
    """Means of ``resamples`` bootstrap draws of units with totals ``sums`` over ``sizes``."""
    k = sums.size
    if k >= 2**31:
        raise ValueError("too many resampling units")
    out = np.empty(resamples, dtype=np.float64)
    block = max(1, _CHUNK_ELEMENTS // k)
    for start in range(0, resamples, block):
        stop = min(resamples, start + block)
        idx = rng.integers(0, k, size=(stop - start, k), dtype=np.int32)
        out[start:stop] = sums[idx].sum(axis=1) / sizes[idx].sum(axis=1)
    return out


def _summarise(
    diff: FloatArray,
    replicates: FloatArray,
    *,
    confidence: float,
    seed: int,
    clusters: int | None,
    design_effect: float | None,
) -> BootstrapResult:
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(replicates, [tail, 1.0 - tail])
    worse = int(np.count_nonzero(replicates >= 0.0))
    return BootstrapResult(
        estimate=float(diff.mean()),
        low=float(low),
        high=float(high),
        confidence=confidence,
        se=float(replicates.std(ddof=1)) if replicates.size > 1 else 0.0,
        p_worse=(1.0 + worse) / (1.0 + replicates.size),
        resamples=int(replicates.size),
        seed=seed,
        n=int(diff.size),
        clusters=clusters,
        design_effect=design_effect,
        replicates=replicates,
    )


def _check_resamples(resamples: int) -> None:
    if resamples < 100:
        raise ValueError(f"use at least 100 resamples, got {resamples}")


def paired_bootstrap(
    candidate: npt.ArrayLike,
    baseline: npt.ArrayLike,
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapResult:
    """Percentile bootstrap of the mean paired difference, resampling cases with replacement."""
    _check_confidence(confidence)
    _check_resamples(resamples)
    diff = _differences(candidate, baseline)
    rng = np.random.default_rng(seed)
    ones = np.ones_like(diff)
    reps = _resample_sums(rng, diff, ones, resamples)
    return _summarise(
        diff, reps, confidence=confidence, seed=seed, clusters=None, design_effect=None
    )


def cluster_bootstrap(
    candidate: npt.ArrayLike,
    baseline: npt.ArrayLike,
    clusters: Sequence[object] | npt.ArrayLike,
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapResult:
    """Percentile bootstrap of the mean paired difference, resampling whole clusters.

    Each replicate draws clusters with replacement and takes the case-weighted mean of their
    differences (total difference / total cases), so clusters of different sizes are handled.
    The design effect compares the replicate variance with the case-level variance
    ``var(diff) / n``; a value well above 1 means cases in a cluster move together.
    """
    _check_confidence(confidence)
    _check_resamples(resamples)
    diff = _differences(candidate, baseline)
    labels = np.asarray(clusters, dtype=object)
    if labels.shape != diff.shape:
        raise ValueError("clusters must give one label per paired case")
    _, inverse = np.unique(labels.astype(str), return_inverse=True)
    k = int(inverse.max()) + 1
    sums = np.bincount(inverse, weights=diff, minlength=k).astype(np.float64)
    sizes = np.bincount(inverse, minlength=k).astype(np.float64)
    rng = np.random.default_rng(seed)
    reps = _resample_sums(rng, sums, sizes, resamples)
    iid_var = float(diff.var()) / diff.size
    boot_var = float(reps.var(ddof=1))
    deff = boot_var / iid_var if iid_var > 0 else 1.0
    return _summarise(diff, reps, confidence=confidence, seed=seed, clusters=k, design_effect=deff)


# --------------------------------------------------------------------------------------------
# Multiplicity


def holm(pvalues: Sequence[float] | npt.ArrayLike) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control), in the input order."""
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError("holm expects a 1-D sequence of p-values")
    if p.size == 0:
        return []
    if np.any((p < 0) | (p > 1)) or not np.all(np.isfinite(p)):
        raise ValueError("p-values must lie in [0, 1]")
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = (m - np.arange(m)) * p[order]
    adjusted_sorted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    adjusted = np.empty(m, dtype=np.float64)
    adjusted[order] = adjusted_sorted
    return [float(x) for x in adjusted]


# --------------------------------------------------------------------------------------------
# Power and minimum detectable effect for a paired binary design


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha}")


def _check_alpha_power(alpha: float, power: float) -> None:
    _check_alpha(alpha)
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be in (0, 1), got {power}")


def power_paired_binary(effect: float, discordance: float, n: int, *, alpha: float = 0.05) -> float:
    """Approximate power of the one-sided McNemar test to see a drop of ``effect``.

    Connor's (1987) normal approximation: the test statistic on ``n`` pairs with discordance
    rate ``psi`` has null SD ``sqrt(psi)`` and alternative SD ``sqrt(psi - effect²)``. A drop of
    ``effect`` needs at least ``effect`` discordance, so ``psi`` is raised to ``effect`` if lower.
    """
    _check_alpha(alpha)
    if n <= 0:
        return 0.0
    if effect <= 0:
        return alpha
    if effect >= 1:
        return 1.0
    psi = max(discordance, effect)
    z_a = float(stats.norm.ppf(1.0 - alpha))
    num = effect * math.sqrt(n) - z_a * math.sqrt(psi)
    return float(stats.norm.cdf(num / math.sqrt(psi - effect * effect)))


def cases_needed_paired_binary(
    effect: float, discordance: float, *, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Pairs needed for the one-sided McNemar test to see a drop of ``effect`` (Connor 1987)."""
    _check_alpha_power(alpha, power)
    if not 0.0 < effect < 1.0:
        raise ValueError(f"effect must be in (0, 1), got {effect}")
    psi = max(discordance, effect)
    z_a = float(stats.norm.ppf(1.0 - alpha))
    z_b = float(stats.norm.ppf(power))
    root = z_a * math.sqrt(psi) + z_b * math.sqrt(psi - effect * effect)
    return math.ceil((root / effect) ** 2)


def mde_paired_binary(
    n: int, discordance: float, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Smallest drop in pass rate the one-sided McNemar test detects with ``power`` on ``n`` pairs.

    Inverts :func:`power_paired_binary`. ``discordance`` is the expected share of flipped
    cases; with none observed the bound ``psi >= effect`` still gives a finite answer. Returns
    ``inf`` when even a drop of (almost) 1 is not detectable, e.g. for a handful of cases.
    """
    _check_alpha_power(alpha, power)
    if n <= 0:
        return math.inf
    if not 0.0 <= discordance <= 1.0:
        raise ValueError(f"discordance must be in [0, 1], got {discordance}")
    hi = 1.0 - 1e-9
    if power_paired_binary(hi, discordance, n, alpha=alpha) < power:
        return math.inf
    lo = 1e-12

    def gap(effect: float) -> float:
        return power_paired_binary(effect, discordance, n, alpha=alpha) - power

    return float(optimize.brentq(gap, lo, hi, xtol=1e-10))


def mde_mean_difference(
    sd: float, n: int, *, alpha: float = 0.05, power: float = 0.8, design_effect: float = 1.0
) -> float:
    """MDE of a one-sided test on a mean paired difference.

    ``(z_{1-alpha} + z_{power}) · sd · sqrt(design_effect / n)``, where ``sd`` is the standard
    deviation of the per-case differences.
    """
    _check_alpha_power(alpha, power)
    if n <= 0:
        return math.inf
    if sd < 0 or design_effect <= 0:
        raise ValueError("sd must be >= 0 and design_effect > 0")
    z = float(stats.norm.ppf(1.0 - alpha)) + float(stats.norm.ppf(power))
    return z * sd * math.sqrt(design_effect / n)
