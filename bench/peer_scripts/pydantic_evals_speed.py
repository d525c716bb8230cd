"""Peer script (runs inside bench/.envs/pydantic-evals): cases/s of ``Dataset.evaluate``.

Usage: ``python pydantic_evals_speed.py CASES [--runs R] [--mode async|sync]``

One ``Dataset`` of the cases with the ``EqualsExpected`` evaluator; the timed call is
``Dataset.evaluate(task, progress=False)`` (default unbounded concurrency, no retries). Imports
and building the dataset are outside the timing. The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _workload import atarget, expected_pass_rate, load_cases, run_coro, target, timed_runs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cases")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mode", choices=["async", "sync"], default="async")
    args = ap.parse_args()

    t0 = time.perf_counter()
    from pydantic_evals import Case, Dataset
    from pydantic_evals.evaluators import EqualsExpected

    import_s = time.perf_counter() - t0
    cases = load_cases(args.cases)
    t0 = time.perf_counter()
    dataset = Dataset(
        name="bench",
        cases=[Case(name=c["id"], inputs=c["input"], expected_output=c["expected"]) for c in cases],
        evaluators=[EqualsExpected()],
    )
    build_s = time.perf_counter() - t0
    task = atarget if args.mode == "async" else target

    def run() -> float:
        report = run_coro(dataset.evaluate(task, progress=False))
        ok = sum(1 for rc in report.cases for a in rc.assertions.values() if a.value)
        if report.failures:
            raise SystemExit(f"{len(report.failures)} task failures")
        return ok / len(cases)

    out = timed_runs(run, args.runs)
    out.update(
        n=len(cases),
        mode=args.mode,
        cases_per_s=len(cases) / out["median_s"],
        import_s=import_s,
        build_s=build_s,
        expected_pass_rate=expected_pass_rate(cases),
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
