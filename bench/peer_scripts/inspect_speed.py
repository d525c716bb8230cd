"""Peer script (runs inside bench/.envs/inspect-ai): cases/s of ``inspect_ai.eval``.

Usage: ``python inspect_speed.py CASES [--runs R] [--max-samples M] [--log-dir DIR]
[--no-log-samples]``

A ``Task`` over the cases with a custom ``@solver`` that computes the output itself (no model
call; the task's model is ``mockllm/model`` and is never asked), scored with
``match(location="exact", ignore_case=False)``. Settings favour speed: ``display="none"``,
``log_realtime=False``, ``score_display=False``. inspect-ai cannot skip writing its log
file: it goes to ``--log-dir`` (default: a temporary directory, deleted at the end), and that
write is part of the timed ``eval`` call. ``--no-log-samples`` passes ``log_samples=False``
(no per-sample records in the log: less work than Monday, which always streams per-trial
results). The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _workload import expected_pass_rate, load_cases, target, timed_runs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cases")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--max-samples", type=int, default=None)
    ap.add_argument("--log-dir", default=None)
    ap.add_argument("--no-log-samples", action="store_true")
    args = ap.parse_args()
    own_dir = args.log_dir is None
    log_dir = args.log_dir or tempfile.mkdtemp(prefix="inspect-bench-")

    t0 = time.perf_counter()
    from inspect_ai import Task, eval
    from inspect_ai.dataset import MemoryDataset, Sample
    from inspect_ai.scorer import match
    from inspect_ai.solver import Generate, Solver, TaskState, solver

    import_s = time.perf_counter() - t0
    cases = load_cases(args.cases)

    @solver
    def deterministic() -> Solver:
        async def solve(state: TaskState, generate: Generate) -> TaskState:
            state.output.completion = target(state.input_text)
            return state

        return solve

    def run() -> float:
        task = Task(
            dataset=MemoryDataset(
                [Sample(id=c["id"], input=c["input"], target=c["expected"]) for c in cases]
            ),
            solver=deterministic(),
            scorer=match(location="exact", ignore_case=False),
        )
        logs = eval(
            task,
            model="mockllm/model",
            display="none",
            log_realtime=False,
            score_display=False,
            log_dir=log_dir,
            max_samples=args.max_samples,
            log_samples=not args.no_log_samples,
        )
        log = logs[0]
        if log.status != "success":
            raise SystemExit(f"inspect eval status {log.status}: {log.error}")
        assert log.results is not None
        return float(log.results.scores[0].metrics["accuracy"].value)

    try:
        out = timed_runs(run, args.runs)
    finally:
        if own_dir:
            shutil.rmtree(log_dir, ignore_errors=True)
    out.update(
        n=len(cases),
        cases_per_s=len(cases) / out["median_s"],
        import_s=import_s,
        max_samples=args.max_samples,
        log_samples=not args.no_log_samples,
        expected_pass_rate=expected_pass_rate(cases),
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
