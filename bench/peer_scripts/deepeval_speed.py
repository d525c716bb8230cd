"""Peer script (runs inside bench/.envs/deepeval): cases/s of ``deepeval.evaluate``.

Usage: ``python deepeval_speed.py CASES [--runs R]``

DeepEval does not call the target itself: user code builds one ``LLMTestCase`` per case with
the target's output, then ``evaluate`` scores them with the deterministic
``ExactMatchMetric``. The timed span is both (calling the target and building the test cases,
then ``evaluate``), with cache reads and writes off, no progress indicator and no printed
results. Telemetry is opted out (``DEEPEVAL_TELEMETRY_OPT_OUT=YES``) and the script runs in a
temporary directory because DeepEval writes ``.deepeval/`` into the working directory. The last
stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _workload import expected_pass_rate, load_cases, target, timed_runs

for _k, _v in {
    "DEEPEVAL_TELEMETRY_OPT_OUT": "YES",
    "DEEPEVAL_UPDATE_WARNING_OPT_IN": "NO",
    "DEEPEVAL_GRPC_LOGGING": "NO",
    "DEEPEVAL_NO_INSPECT_PROMPT": "1",
    "ERROR_REPORTING": "NO",
}.items():
    os.environ.setdefault(_k, _v)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cases")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    cases = load_cases(args.cases)
    work = tempfile.mkdtemp(prefix="deepeval-bench-")
    os.chdir(work)

    t0 = time.perf_counter()
    from deepeval import evaluate
    from deepeval.evaluate.configs import AsyncConfig, CacheConfig, DisplayConfig
    from deepeval.metrics import ExactMatchMetric
    from deepeval.test_case import LLMTestCase

    import_s = time.perf_counter() - t0

    def run() -> float:
        test_cases = [
            LLMTestCase(
                name=c["id"],
                input=c["input"],
                actual_output=target(c["input"]),
                expected_output=c["expected"],
            )
            for c in cases
        ]
        with contextlib.redirect_stdout(io.StringIO()):
            result = evaluate(
                test_cases,
                [ExactMatchMetric()],
                async_config=AsyncConfig(run_async=True),
                display_config=DisplayConfig(
                    show_indicator=False, print_results=False, inspect_after_run=False
                ),
                cache_config=CacheConfig(write_cache=False, use_cache=False),
            )
        return sum(1 for r in result.test_results if r.success) / len(cases)

    try:
        out = timed_runs(run, args.runs)
    finally:
        os.chdir(tempfile.gettempdir())
        shutil.rmtree(work, ignore_errors=True)
    out.update(
        n=len(cases),
        cases_per_s=len(cases) / out["median_s"],
        import_s=import_s,
        expected_pass_rate=expected_pass_rate(cases),
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
