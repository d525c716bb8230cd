"""Eval harness benchmark: Monday's runner against pydantic-evals, inspect-ai and DeepEval.

Same data for all (``bench/peer_scripts/_workload.py``): cases of five random words; the
deterministic target upper-cases the input and answers inputs starting with ``delta`` wrong,
so every harness must report the same pass rate (checked). Exact-match scorer, no cache.

- **speed**: cases/s of one whole evaluate call, imports and interpreter start excluded; the
  median of several calls. Monday runs ``mondaytest.evals.runner.run_suite`` with the async
  target ``_workload:atarget`` (as pydantic-evals does), cache off, and writes its
  ``trials.jsonl``/``run.json`` as always. Peers run in their own venvs (see their scripts for
  the exact settings). When a peer runs fewer cases (``--quick``), Monday is measured on the
  same cases for that ratio;
- **latency-bound**: an async target with 20 ms of simulated I/O, 2,000 cases at concurrency
  64; wall time over the ideal ``2000 / 64 × 20 ms``;
- **memory**: peak RSS (``VmHWM``) of a child process running Monday on 200,000 cases
  (``--quick`` measures 2,000 and 40,000 cases and extrapolates linearly, and says so);
- **gate**: power against a true 3-point regression and the false-fail rate with none, from
  ``bench/eval_power.py`` (seeded synthetic paired runs on 2,000 cases).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "peer_scripts"))

import _workload  # noqa: E402

import peers  # noqa: E402
from benchlib import Report, bench_args, run_peer  # noqa: E402
from mondaytest.evals.runner import RunOptions, SuiteRef, run_suite  # noqa: E402
from mondaytest.spec.evals import SuiteSpec  # noqa: E402

N_CASES = 2_000
CONCURRENCY_LATENCY = 64


# -- Monday ----------------------------------------------------------------------------------


def suite(root: Path, dataset: str, target: str, concurrency: int | None = None) -> SuiteRef:
    """A suite over ``root/dataset`` with a Python target and the exact scorer, cache off."""
    body: dict[str, Any] = {
        "dataset": dataset,
        "target": {"python": target},
        "scorers": [{"name": "exact", "kind": "exact"}],
        "cache": "off",
    }
    if concurrency is not None:
        body["concurrency"] = concurrency
    return SuiteRef("bench", SuiteSpec.model_validate(body), root)


def monday_run(ref: SuiteRef, runs_root: Path) -> tuple[float, float]:
    """Wall seconds of one ``run_suite`` call and its pass rate."""
    t0 = time.perf_counter()
    result = run_suite(ref, RunOptions(cache="off", runs_root=runs_root))
    wall = time.perf_counter() - t0
    result.raise_for_status()
    shutil.rmtree(result.dir, ignore_errors=True)
    return wall, float(result.data["counts"]["pass_rate"])


def monday_speed(root: Path, dataset: str, target: str, runs: int) -> dict[str, float]:
    """Median cases/s over ``runs`` calls (plus one untimed warm-up call)."""
    ref = suite(root, dataset, target)
    n = sum(1 for line in (root / dataset).open() if line.strip())
    monday_run(ref, root / "runs")  # warm-up: imports the target, fills caches
    walls = []
    rate = 0.0
    for _ in range(runs):
        wall, rate = monday_run(ref, root / "runs")
        walls.append(wall)
    return {"cases_per_s": n / peers.median(walls), "pass_rate": rate, "n": n}


def rss_child(root: Path, dataset: str) -> dict[str, Any]:
    """Run Monday on ``dataset`` in a fresh interpreter; its peak RSS in MB."""
    done = subprocess.run(
        [sys.executable, __file__, "--child-rss", str(root), dataset],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"RSS child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _vm(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child_rss(root: str, dataset: str) -> None:
    """(In the child) run the suite once and print peak RSS as JSON."""
    base = _vm("VmRSS")
    ref = suite(Path(root), dataset, "_workload:atarget")
    wall, rate = monday_run(ref, Path(root) / "runs")
    print(json.dumps({"rss_mb": _vm("VmHWM"), "base_mb": base, "wall_s": wall, "pass": rate}))


# -- peers -----------------------------------------------------------------------------------


def peer_speed(name: str, script: str, cases: Path, runs: int, *extra: str) -> Any:
    """The peer script's JSON (it runs ``runs`` timed calls and reports the median)."""
    python, version = peers.try_peer(name)
    if python is None:
        raise RuntimeError(version)
    return peers.run_json(
        python, HERE / "peer_scripts" / script, str(cases), "--runs", str(runs), *extra
    )


# -- gate ------------------------------------------------------------------------------------


def gate_figures(report: Report, quick: bool, smoke: bool) -> None:
    """Power and false-fail rate from ``bench/eval_power.py`` (owned by the evals team)."""
    try:
        import eval_power
        from eval_power import gate_power
    except ImportError as exc:
        report.notes.append(f"gate figures missing: cannot import bench/eval_power.py ({exc})")
        return
    if smoke:
        report.notes.append("gate figures skipped in a smoke run (eval_power imports fine)")
        return
    out = gate_power(quick=quick)
    reps = getattr(eval_power, "QUICK_REPLICATIONS" if quick else "REPLICATIONS", 0)
    report.add("gate_power_3pt", out["gate_power_3pt"], runs=reps)
    report.add("gate_false_fail_rate", out["gate_false_fail_rate"], runs=reps)
    report.add("gate_false_fail_upper", out.get("gate_false_fail_upper"), runs=reps)
    report.figures["gate_power_3pt"].note = f"{reps} seeded replications, 2,000 cases"


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child-rss":
        child_rss(sys.argv[2], sys.argv[3])
        return
    ap = bench_args(__doc__)
    ap.add_argument("--rss-n", type=int, default=None, help="cases in the memory run")
    args = ap.parse_args()
    smoke = args.smoke
    quick = args.quick or smoke
    runs = args.runs or (1 if smoke else 3)
    n_speed = 200 if smoke else N_CASES
    # peers: cases per run and calls per figure (inspect-ai needs ~10 ms a case)
    peer_plan: dict[str, tuple[str, str, int, int]] = {
        "pydantic-evals": ("pydantic_evals_speed.py", "speed_vs_pydantic_evals", N_CASES, runs),
        "inspect-ai": (
            "inspect_speed.py",
            "speed_vs_inspect",
            200 if quick else N_CASES,
            1 if quick else runs,
        ),
        "deepeval": (
            "deepeval_speed.py",
            "speed_vs_deepeval",
            500 if quick else N_CASES,
            2 if quick else runs,
        ),
    }

    report = Report("eval_bench", quick=quick, smoke=smoke)
    report.figure(
        "speed_vs_pydantic_evals", "speed vs pydantic-evals (cases/s ratio)", unit="×", target=1.0
    )
    report.figure("speed_vs_inspect", "speed vs inspect-ai (cases/s ratio)", unit="×", target=20)
    report.figure(
        "speed_vs_inspect_lean",
        "  … vs inspect-ai with log_samples=False",
        key=None,
        unit="×",
    )
    report.figure("speed_vs_deepeval", "speed vs DeepEval (cases/s ratio)", key=None, unit="×")
    report.figure(
        "async_wall_vs_ideal",
        "20 ms async target, conc. 64: wall / ideal",
        unit="×",
        target=1.3,
        better="lower",
    )
    report.figure("rss_mb_200k", "peak RSS, 200,000 cases", unit=" MB", target=250, better="lower")
    report.figure("gate_power_3pt", "gate power, true 3-pt regression", target=0.8)
    report.figure(
        "gate_false_fail_rate",
        "gate false-fail rate, no regression",
        target=0.05,
        better="lower",
        note="target = alpha",
    )
    report.figure("gate_false_fail_upper", "  … its Wilson 95 % upper bound", key=None)
    report.figure("monday_cps", "Monday cases/s (async target)", key=None, unit="/s")
    report.figure("monday_sync_cps", "Monday cases/s (sync target)", key=None, unit="/s")
    report.figure("pydantic_cps", "pydantic-evals cases/s (async task)", key=None, unit="/s")
    report.figure("pydantic_sync_cps", "pydantic-evals cases/s (sync task)", key=None, unit="/s")
    report.figure("inspect_cps", "inspect-ai cases/s", key=None, unit="/s")
    report.figure(
        "inspect_lean_cps",
        "  … with log_samples=False",
        key=None,
        unit="/s",
        note="no per-sample log: less work than Monday; full run only",
    )
    report.figure("deepeval_cps", "DeepEval cases/s", key=None, unit="/s")
    report.figure("async_wall_s", "20 ms async target: wall", key=None, unit=" s")

    root = Path(tempfile.mkdtemp(prefix="monday-eval-bench-"))
    try:
        sizes = {n_speed} | ({n for (_s, _k, n, _r) in peer_plan.values()} if not smoke else set())
        for n in sizes:
            _workload.write_cases(str(root / f"cases_{n}.jsonl"), n)
        expected = _workload.expected_pass_rate(
            _workload.load_cases(str(root / f"cases_{n_speed}.jsonl"))
        )

        report.log(f"Monday speed, {n_speed:,} cases × {runs}")
        mine = {n: monday_speed(root, f"cases_{n}.jsonl", "_workload:atarget", runs) for n in sizes}
        if abs(mine[n_speed]["pass_rate"] - expected) > 1e-9:
            raise SystemExit(f"Monday pass rate {mine[n_speed]['pass_rate']} != {expected}")
        report.add("monday_cps", mine[n_speed]["cases_per_s"], runs=runs)
        sync = monday_speed(root, f"cases_{n_speed}.jsonl", "_workload:target", runs)
        report.add("monday_sync_cps", sync["cases_per_s"], runs=runs)

        if not smoke:
            for name, (script, key, n, peer_runs) in peer_plan.items():
                report.log(f"{name}: {n:,} cases × {peer_runs}")
                cases = root / f"cases_{n}.jsonl"
                got = run_peer(report, name, peer_speed, name, script, cases, peer_runs)
                report.versions[name] = peers.try_peer(name)[1]
                if got is None:
                    continue
                if abs(got["pass_rate"] - got["expected_pass_rate"]) > 1e-9:
                    want = got["expected_pass_rate"]
                    report.notes.append(f"{name} reported pass rate {got['pass_rate']}, not {want}")
                short = {
                    "pydantic-evals": "pydantic",
                    "inspect-ai": "inspect",
                    "deepeval": "deepeval",
                }[name]
                report.add(f"{short}_cps", got["cases_per_s"], runs=peer_runs)
                report.add(key, mine[n]["cases_per_s"] / got["cases_per_s"], runs=peer_runs)
                if n != n_speed:
                    report.figures[key].note = f"{n:,} cases each (quick)"
            sync_peer = run_peer(
                report,
                "pydantic-evals (sync)",
                peer_speed,
                "pydantic-evals",
                "pydantic_evals_speed.py",
                root / f"cases_{N_CASES}.jsonl",
                runs,
                "--mode",
                "sync",
            )
            if sync_peer is not None:
                report.add("pydantic_sync_cps", sync_peer["cases_per_s"], runs=runs)
            if not quick:
                lean = run_peer(
                    report,
                    "inspect-ai (log_samples=False)",
                    peer_speed,
                    "inspect-ai",
                    "inspect_speed.py",
                    root / f"cases_{N_CASES}.jsonl",
                    runs,
                    "--no-log-samples",
                )
                if lean is not None:
                    report.add("inspect_lean_cps", lean["cases_per_s"], runs=runs)
                    report.add(
                        "speed_vs_inspect_lean",
                        mine[N_CASES]["cases_per_s"] / lean["cases_per_s"],
                        runs=runs,
                    )

        report.log(
            f"latency-bound run: {n_speed:,} cases, 20 ms, concurrency {CONCURRENCY_LATENCY}"
        )
        ref = suite(root, f"cases_{n_speed}.jsonl", "_workload:slow_atarget", CONCURRENCY_LATENCY)
        ideal = n_speed / CONCURRENCY_LATENCY * _workload.LATENCY_S
        for _ in range(runs):
            wall, _rate = monday_run(ref, root / "runs")
            report.add("async_wall_s", wall)
            report.add("async_wall_vs_ideal", wall / ideal)
        report.figures["async_wall_vs_ideal"].note = f"ideal {ideal:.3f} s"

        if args.rss_n or not quick:
            n_rss = args.rss_n or 200_000
            report.log(f"memory: {n_rss:,} cases in a child process")
            _workload.write_cases(str(root / "rss.jsonl"), n_rss)
            got = rss_child(root, "rss.jsonl")
            value = got["rss_mb"] if n_rss == 200_000 else None
            report.add("rss_mb_200k", value)
            report.figures["rss_mb_200k"].note = (
                f"measured at {n_rss:,} cases: {got['rss_mb']:.0f} MB (after imports "
                f"{got['base_mb']:.0f} MB), {n_rss / got['wall_s']:,.0f} cases/s"
            )
        elif smoke:
            _workload.write_cases(str(root / "rss.jsonl"), 1_000)
            got = rss_child(root, "rss.jsonl")
            report.add("rss_mb_200k", got["rss_mb"])
            report.figures["rss_mb_200k"].note = "smoke: measured at 1,000 cases only"
        else:
            small, big = 2_000, 40_000
            points = []
            for n in (small, big):
                _workload.write_cases(str(root / f"rss_{n}.jsonl"), n)
                points.append(rss_child(root, f"rss_{n}.jsonl")["rss_mb"])
            slope = max(0.0, (points[1] - points[0]) / (big - small))
            report.add("rss_mb_200k", points[1] + slope * (200_000 - big))
            report.figures["rss_mb_200k"].note = (
                f"EXTRAPOLATED (linear) from {points[0]:.0f} MB at {small:,} and "
                f"{points[1]:.0f} MB at {big:,} cases; run without --quick to measure 200,000"
            )

        report.log("gate power")
        gate_figures(report, quick, smoke)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    report.notes.append(
        f"{runs} runs per figure; Monday concurrency 8 (suite default) for speed; "
        "peers: see bench/peer_scripts/*_speed.py for their exact settings"
    )
    if smoke:
        report.notes.append("smoke run: Monday only, tiny sizes; the figures mean nothing")
    report.print(as_json=args.json)


if __name__ == "__main__":
    os.environ.setdefault("CI", "true")
    main()
