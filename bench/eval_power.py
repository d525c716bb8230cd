"""Power and false-fail rate of Monday's regression gate on seeded synthetic paired runs.

The question (issue 4): on a 2,000-case suite, does the gate fail a candidate that is truly
3 points worse in at least 80 % of replications (power), and fail a candidate that is not worse
in at most alpha of them (false-fail rate, with its Wilson upper bound)?

Synthetic design (chosen before looking at the results, and not tuned afterwards):

- a suite of ``n = 2000`` cases, drawn afresh in each replication;
- each case has a latent difficulty ``z ~ N(0, 1)``; a run passes the case when
  ``sqrt(rho)·z + sqrt(1 - rho)·e > t`` with its own noise ``e ~ N(0, 1)``, so baseline and
  candidate outcomes are positively correlated through the shared difficulty, as real paired
  runs are; ``rho = 0.7`` gives about 14 % discordant (flipped) cases, which is on the noisy
  side for two versions of one system on a fixed suite;
- thresholds give a baseline pass rate of 0.85 and a candidate pass rate of 0.82 (a true
  3-point regression) or 0.85 (no regression);
- the gate is the spec's defaults (``alpha`` 0.05, ``margin`` 0.02, ``min_effect`` = margin / 2
  = 0.01) applied by :func:`mondaytest.evals.gate.decide_paired_binary`, the same rule
  :func:`~mondaytest.evals.gate.evaluate_gate` uses for a pass/fail metric (one-sided exact
  McNemar, Newcombe bound); a number of replications is also pushed through the full
  ``evaluate_gate`` on :class:`~mondaytest.evals.gate.CaseOutcome` lists to check they agree;
- a sensitivity sweep over ``rho`` (0 = independent outcomes, the worst case for a paired test)
  is reported alongside.

Run alone: ``python bench/eval_power.py [--quick] [--json]``. ``bench/eval_bench.py`` imports
:func:`gate_power`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

from mondaytest.evals import stats
from mondaytest.evals.gate import CaseOutcome, decide_paired_binary, evaluate_gate
from mondaytest.spec.evals_gate import GateSpec, RegressionSpec

N_CASES = 2000
REPLICATIONS = 1000
QUICK_REPLICATIONS = 300
BASE_RATE = 0.85
DROP = 0.03
RHO = 0.7
SEED = 20260504
FULL_GATE_CHECKS = 40
QUICK_FULL_GATE_CHECKS = 5
_CHUNK = 100


@dataclass(frozen=True)
class Condition:
    """Outcome shares of the gate over the replications of one synthetic condition."""

    drop: float
    rho: float
    replications: int
    fail: int
    inconclusive: int
    passed: int
    discordance: float
    full_gate_checked: int

    @property
    def fail_rate(self) -> float:
        """Share of replications in which the gate failed."""
        return self.fail / self.replications

    def fail_interval(self) -> stats.Interval:
        """Wilson 95 % interval of the fail rate."""
        return stats.wilson_interval(self.fail, self.replications, 0.95)


def _tables(
    rng: np.random.Generator, n: int, reps: int, rho: float, base_rate: float, cand_rate: float
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Paired pass/fail outcomes, shape (reps, n) each, from the latent-threshold model."""
    t_base = sps.norm.ppf(1.0 - base_rate)
    t_cand = sps.norm.ppf(1.0 - cand_rate)
    z = rng.standard_normal((reps, n))
    shared = np.sqrt(rho) * z
    noise = np.sqrt(1.0 - rho)
    base = shared + noise * rng.standard_normal((reps, n)) > t_base
    cand = shared + noise * rng.standard_normal((reps, n)) > t_cand
    return base, cand


def _full_gate(base: np.ndarray[Any, Any], cand: np.ndarray[Any, Any], gate: GateSpec) -> str:
    """Run the complete gate on one replication (CaseOutcome lists) and return its status."""
    ids = [f"case-{i:05d}" for i in range(base.size)]
    b = [CaseOutcome(i, bool(x), {"label": float(x)}) for i, x in zip(ids, base, strict=True)]
    c = [CaseOutcome(i, bool(y), {"label": float(y)}) for i, y in zip(ids, cand, strict=True)]
    verdict = evaluate_gate(c, b, gate)
    return verdict.check("regression:label").status.value


def simulate(
    *,
    drop: float,
    rho: float = RHO,
    n: int = N_CASES,
    replications: int = REPLICATIONS,
    seed: int = SEED,
    full_gate_checks: int = 0,
) -> Condition:
    """Run ``replications`` synthetic paired runs and count the gate's verdicts."""
    spec = RegressionSpec(metrics=["label"])
    alpha, margin = float(spec.alpha), float(spec.margin)
    min_effect = float(spec.effective_min_effect)
    gate = GateSpec(regression=spec)
    rng = np.random.default_rng([seed, round(drop * 1e6), round(rho * 1e6), n])
    counts = {"fail": 0, "inconclusive": 0, "pass": 0}
    discordant = 0
    checked = 0
    for start in range(0, replications, _CHUNK):
        reps = min(_CHUNK, replications - start)
        base, cand = _tables(rng, n, reps, rho, BASE_RATE, BASE_RATE - drop)
        a = np.count_nonzero(base & cand, axis=1)
        b = np.count_nonzero(base & ~cand, axis=1)
        c = np.count_nonzero(~base & cand, axis=1)
        d = n - a - b - c
        verdicts = decide_paired_binary(
            a, b, c, d, alpha=alpha, margin=margin, min_effect=min_effect
        )
        for key in counts:
            counts[key] += int(np.count_nonzero(verdicts == key))
        discordant += int((b + c).sum())
        for r in range(min(reps, full_gate_checks - checked)):
            full = _full_gate(base[r], cand[r], gate)
            if full != str(verdicts[r]):
                raise AssertionError(
                    f"evaluate_gate says {full}, the vectorised rule {verdicts[r]} "
                    f"(a={a[r]}, b={b[r]}, c={c[r]}, d={d[r]})"
                )
            checked += 1
    return Condition(
        drop=drop,
        rho=rho,
        replications=replications,
        fail=counts["fail"],
        inconclusive=counts["inconclusive"],
        passed=counts["pass"],
        discordance=discordant / (replications * n),
        full_gate_checked=checked,
    )


def gate_power(quick: bool = False, *, seed: int = SEED) -> dict[str, float]:
    """The bench figures: power against a 3-point drop, false-fail rate and its Wilson upper bound.

    ``gate_false_fail_upper`` is the same number as ``gate_false_fail_wilson_upper`` (the name
    ``bench/eval_bench.py`` reads).
    """
    reps = QUICK_REPLICATIONS if quick else REPLICATIONS
    checks = QUICK_FULL_GATE_CHECKS if quick else FULL_GATE_CHECKS
    regression = simulate(drop=DROP, replications=reps, seed=seed, full_gate_checks=checks)
    null = simulate(drop=0.0, replications=reps, seed=seed, full_gate_checks=checks)
    upper = null.fail_interval().high
    return {
        "gate_power_3pt": regression.fail_rate,
        "gate_false_fail_rate": null.fail_rate,
        "gate_false_fail_wilson_upper": upper,
        "gate_false_fail_upper": upper,
    }


def _row(cond: Condition) -> str:
    ci = cond.fail_interval()
    return (
        f"  drop {cond.drop:.2f}  rho {cond.rho:.1f}  discordance {cond.discordance:6.1%}  "
        f"fail {cond.fail_rate:6.1%} (95 % CI {ci.low:.1%}–{ci.high:.1%})  "
        f"inconclusive {cond.inconclusive / cond.replications:6.1%}  "
        f"pass {cond.passed / cond.replications:6.1%}"
    )


def main(argv: list[str] | None = None) -> int:
    """Print the table (and with ``--json`` a final JSON line); always exit 0."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_REPLICATIONS} replications")
    ap.add_argument("--smoke", action="store_true", help="same as --quick")
    ap.add_argument("--json", action="store_true", help="end with one flat JSON object")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    quick = args.quick or args.smoke
    reps = QUICK_REPLICATIONS if quick else REPLICATIONS
    checks = QUICK_FULL_GATE_CHECKS if quick else FULL_GATE_CHECKS
    spec = RegressionSpec(metrics=["label"])
    t0 = time.perf_counter()
    print(
        f"gate power: {N_CASES} cases, {reps} replications per condition, baseline pass rate "
        f"{BASE_RATE}, alpha {spec.alpha}, margin {spec.margin}, "
        f"min_effect {spec.effective_min_effect}, seed {args.seed}"
    )
    out: dict[str, Any] = {}
    rhos = [RHO] if quick else [RHO, 0.0, 0.5, 0.9]
    for rho in rhos:
        for drop in (DROP, 0.0):
            cond = simulate(
                drop=drop,
                rho=rho,
                replications=reps,
                seed=args.seed,
                full_gate_checks=checks if rho == RHO else 0,
            )
            print(_row(cond))
            tag = "" if rho == RHO else f"_rho{int(rho * 10)}"
            if drop:
                out[f"gate_power_3pt{tag}"] = cond.fail_rate
            else:
                out[f"gate_false_fail_rate{tag}"] = cond.fail_rate
                out[f"gate_false_fail_wilson_upper{tag}"] = cond.fail_interval().high
            if cond.full_gate_checked:
                print(f"    ({cond.full_gate_checked} replications re-run through evaluate_gate)")
    mde = stats.mde_paired_binary(N_CASES, 0.15, alpha=float(spec.alpha), power=0.8)
    print(f"  MDE at 15 % discordance, 80 % power: {mde:.4f}")
    print(f"  {time.perf_counter() - t0:.1f} s")
    if args.json:
        out["quick"] = quick
        print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
