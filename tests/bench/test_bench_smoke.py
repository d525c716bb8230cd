"""The benchmark scripts keep working: each runs its Monday-only path at a tiny size.

``--smoke`` skips every peer (no bench venvs are created) and times nothing meaningful; this
only checks that the script runs against the current APIs and ends with the JSON line that
``--json`` promises (ARCHITECTURE.md, "Benchmarks").
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

KEYS = {
    "audit_bench.py": [
        "append_vs_pymerkle",
        "proof_vs_pymerkle",
        "pipeline_vs_floor",
        "fsck_vs_floor",
        "receipt_bytes_1m",
        "decisions_per_s",
    ],
    "eval_bench.py": [
        "speed_vs_pydantic_evals",
        "speed_vs_inspect",
        "async_wall_vs_ideal",
        "rss_mb_200k",
        "gate_power_3pt",
        "gate_false_fail_rate",
    ],
}

MEASURED_IN_SMOKE = {
    "audit_bench.py": ["pipeline_vs_floor", "fsck_vs_floor", "receipt_bytes_1m", "decisions_per_s"],
    "eval_bench.py": ["async_wall_vs_ideal", "rss_mb_200k"],
}


@pytest.mark.parametrize("script", sorted(KEYS))
def test_bench_smoke(script: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--smoke", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert not (BENCH / ".envs").exists() or "preparing" not in done.stderr
    last = [line for line in done.stdout.splitlines() if line.strip()][-1]
    out = json.loads(last)
    for key in KEYS[script]:
        assert key in out, f"{script} --json lacks {key!r}"
    for key in MEASURED_IN_SMOKE[script]:
        assert isinstance(out[key], int | float), f"{script}: {key} = {out[key]!r}"
    assert out["quick"] is True
    assert isinstance(out["versions"], dict)
    flat = {k: v for k, v in out.items() if k != "versions"}
    assert all(not isinstance(v, dict | list) for v in flat.values()), "JSON must be flat"
    assert "receipt" in done.stdout or "RSS" in done.stdout  # the human table is printed too
