"""The eval workload every harness shares (stdlib only): peers import it inside their venvs and
Monday's runner imports the same functions as ``_workload:target`` / ``_workload:atarget``.

Cases are JSON lines ``{"id", "input", "expected"}`` written by ``bench/eval_bench.py``. The
target upper-cases its input and deliberately answers inputs starting with ``delta`` wrong
(returns them unchanged), so about a fifth of the cases fail and every harness must report
the same pass rate — a cross-check that they all ran the same thing.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

WORDS = ("alpha", "bravo", "charlie", "delta", "echo")


def write_cases(path: str, n: int, seed: int = 2026) -> None:
    """``n`` seeded cases of five random words each, one JSON object per line."""
    import random

    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            text = " ".join(rng.choice(WORDS) for _ in range(5))
            fh.write(json.dumps({"id": f"c{i:06d}", "input": text, "expected": text.upper()}))
            fh.write("\n")


def load_cases(path: str) -> list[dict[str, Any]]:
    """The cases of a JSONL file."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def target(text: str) -> str:
    """The deterministic target (synchronous)."""
    return text if text.startswith("delta") else text.upper()


async def atarget(text: str) -> str:
    """The same target as a coroutine."""
    return text if text.startswith("delta") else text.upper()


LATENCY_S = 0.020
"""Simulated I/O latency of :func:`slow_atarget`."""


async def slow_atarget(text: str) -> str:
    """The same target behind 20 ms of simulated I/O (the latency-bound workload)."""
    await asyncio.sleep(LATENCY_S)
    return text if text.startswith("delta") else text.upper()


def expected_pass_rate(cases: list[dict[str, Any]]) -> float:
    """The pass rate every harness should report."""
    return sum(target(c["input"]) == c["expected"] for c in cases) / len(cases)


def timed_runs(run: Callable[[], float], runs: int) -> dict[str, Any]:
    """Call ``run`` (returns the pass rate) ``runs`` times; wall seconds of each call."""
    walls: list[float] = []
    rate = float("nan")
    for _ in range(runs):
        t0 = time.perf_counter()
        rate = run()
        walls.append(time.perf_counter() - t0)
    ordered = sorted(walls)
    mid = len(ordered) // 2
    med = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return {"walls_s": walls, "median_s": med, "pass_rate": rate}


def run_coro(coro: Any) -> Any:
    """Run a coroutine to completion on a fresh event loop."""
    return asyncio.run(coro)
