"""Audit log benchmark: Monday's signed Merkle log against pymerkle 7 and a plain SQLite floor.

Every run, on the same bytes:

- **Monday bulk append**: N decision payloads (about 500 bytes of leaf each) through the bulk
  API ``AuditLog.append_many`` — its two halves timed apart: ``AuditLog.draft_many``
  (validation against the payload model in one pass, restricted-JSON profile, 64 KiB limit,
  canonical bytes; the same bytes as ``AuditLog.draft`` one by one) and ``append_drafts``
  (sequenced, verify-before-sign checkpoints) — timed until ``close()`` has signed the final
  checkpoint;
- **pymerkle** 7 ``SqliteTree.append_entries`` of the exact leaf bytes Monday stored, in its own
  venv (``bench/peer_scripts/pymerkle_audit.py``); its root must equal Monday's;
- **floor**: plain ``sqlite3`` ``executemany`` of the same bytes plus their SHA-256, one
  transaction, WAL and ``synchronous=FULL`` like Monday's store;
- **proofs** at size N: ``mondaytest.audit.merkle.inclusion_proof`` read from the store vs
  pymerkle ``prove_inclusion`` (its subroot cache warm: the conservative comparison; the cold
  first proof is shown too);
- **pipeline**: decisions recorded one call each through the public API, sequenced (every call
  returns once its entry is committed; checkpoints signed at most once a second, and at close),
  two ways: ``--tasks`` concurrent coroutines on one event loop awaiting
  ``AuditLog.adecision`` (how an ASGI service records them; the key figure), and ``--threads``
  threads calling ``AuditLog.decision`` (a threaded server);
- **fsck**: ``mondaytest.audit.verify.fsck`` of the N-entry store (recompute every leaf, node,
  root and checkpoint signature);
- **receipt at 1M entries**: the byte size of a ``tlog-proof`` receipt (entry included, as
  ``monday audit receipt`` writes it by default) for an entry of a 1,000,000-entry log.

Ratios are computed within each run, then the median over runs is reported.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import peers  # noqa: E402
from benchlib import Report, bench_args, run_peer, stopwatch  # noqa: E402
from mondaytest.audit import LogConfig, open_log  # noqa: E402
from mondaytest.audit.checkpoint import Checkpoint, sign_checkpoint  # noqa: E402
from mondaytest.audit.keys import generate_key_file, load_signer, vkey_of  # noqa: E402
from mondaytest.audit.merkle import inclusion_proof, leaf_hash, node_hash  # noqa: E402
from mondaytest.audit.monitor import monitor  # noqa: E402
from mondaytest.audit.receipt import build_receipt  # noqa: E402
from mondaytest.audit.verify import fsck, verify_receipt_bytes  # noqa: E402

ORIGIN = "bench.monday.example/audit"
ONE_MILLION = 1_000_000


# -- data ------------------------------------------------------------------------------------


def payloads(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` seeded decision payloads; with the envelope each leaf is about 500 bytes."""
    rng = random.Random(seed)
    codes = ("refer", "approve", "deny", "escalate")
    out = []
    for _ in range(n):
        out.append(
            {
                "decision": "triage",
                "env": "prod",
                "model": {"id": "scorer", "version": "2026.11.2"},
                "guardrails": [{"id": "pii@3", "result": "pass"}],
                "subject": f"tok:{rng.getrandbits(128):032x}",
                "input": f"c:{rng.getrandbits(256):064x}",
                "outcome": {
                    "code": rng.choice(codes),
                    "human_review": rng.random() < 0.1,
                    "score": f"0.{rng.randrange(10_000):04d}",
                },
                "latency_ms": rng.randrange(5, 900),
            }
        )
    return out


class Workspace:
    """A temporary directory with a signing key and a fresh store per name."""

    def __init__(self, root: Path) -> None:
        self.root = root
        signer = generate_key_file(root / "log.key", ORIGIN)
        self.vkey = vkey_of(signer)

    def config(self, name: str, *, fresh: bool = True) -> LogConfig:
        """A log configuration on the store file ``name.db`` (emptied first when ``fresh``)."""
        for suffix in ("", "-wal", "-shm") if fresh else ():
            (self.root / f"{name}.db{suffix}").unlink(missing_ok=True)
        return LogConfig(
            origin=ORIGIN,
            store_url=f"sqlite:///{self.root / name}.db",
            base_dir=self.root,
            key=f"file:{self.root / 'log.key'}",
            vkey=self.vkey,
        )


# -- Monday ----------------------------------------------------------------------------------


def monday_bulk(cfg: LogConfig, items: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Draft and append ``items`` through the public API; seconds for each stage."""
    with stopwatch() as total, open_log(cfg) as log:
        with stopwatch() as draft:
            drafts = log.draft_many("decision", items)
        with stopwatch() as append:
            log.append_drafts(drafts, "sequenced")
        # close() commits what is queued and signs the final checkpoint
    return {"total_s": total[0], "draft_s": draft[0], "append_s": append[0]}


def monday_pipeline(cfg: LogConfig, items: Sequence[dict[str, Any]], threads: int) -> float:
    """Seconds for ``threads`` callers to record ``items`` with ``AuditLog.decision``."""
    chunks = [items[i::threads] for i in range(threads)]
    errors: list[BaseException] = []
    with open_log(cfg) as log:
        log.checkpoint()  # genesis and a first checkpoint outside the timing
        log.decision({"decision": "warm-up"})  # a running service: its writer has started
        start = threading.Barrier(threads + 1)

        def caller(chunk: Sequence[dict[str, Any]]) -> None:
            start.wait()
            try:
                for p in chunk:
                    log.decision(p)  # sequenced (the default): returns once committed
            except BaseException as exc:
                errors.append(exc)

        workers = [threading.Thread(target=caller, args=(c,)) for c in chunks]
        for w in workers:
            w.start()
        with stopwatch() as wall:
            start.wait()
            for w in workers:
                w.join()
            log.close()  # the final signed checkpoint is part of the work
    if errors:
        raise errors[0]
    return wall[0]


def monday_pipeline_async(cfg: LogConfig, items: Sequence[dict[str, Any]], tasks: int) -> float:
    """Seconds for ``tasks`` coroutines on one event loop to record ``items`` with
    ``await AuditLog.adecision``."""
    chunks = [items[i::tasks] for i in range(tasks)]

    async def run(log: Any) -> None:
        async def caller(chunk: Sequence[dict[str, Any]]) -> None:
            for p in chunk:
                await log.adecision(p)  # sequenced (the default): returns once committed

        await asyncio.gather(*(caller(c) for c in chunks))

    with open_log(cfg) as log:
        log.checkpoint()  # genesis and a first checkpoint outside the timing
        log.decision({"decision": "warm-up"})  # a running service: its writer has started
        with stopwatch() as wall:
            asyncio.run(run(log))
            log.close()  # the final signed checkpoint is part of the work
    return wall[0]


def monday_pipeline_predrafted(
    cfg: LogConfig, items: Sequence[dict[str, Any]], tasks: int
) -> float:
    """Like :func:`monday_pipeline_async`, but every decision is drafted before the clock starts
    and the coroutines only submit and await (``aappend_drafts`` of one draft each): how far
    the pipeline gets when validation and encoding cost nothing. A diagnostic, not a target."""
    chunks = [items[i::tasks] for i in range(tasks)]

    with open_log(cfg) as log:
        log.checkpoint()
        log.decision({"decision": "warm-up"})
        drafted = [[log.draft("decision", p) for p in chunk] for chunk in chunks]

        async def run() -> None:
            async def caller(chunk: Sequence[Any]) -> None:
                for d in chunk:
                    await log.aappend_drafts([d])

            await asyncio.gather(*(caller(c) for c in drafted))

        with stopwatch() as wall:
            asyncio.run(run())
            log.close()
    return wall[0]


def stored_bodies(cfg: LogConfig) -> list[bytes]:
    """Every entry's exact bytes, in order."""
    with open_log(cfg, readonly=True) as log:
        return [row.body for row in log.store.entries()]


def monday_proofs(cfg: LogConfig, indexes: Sequence[int]) -> dict[str, Any]:
    """Median seconds per inclusion proof and per receipt at the store's full size."""
    with open_log(cfg, readonly=True) as log:
        size = log.size()
        cp = log.latest_checkpoint()
        if cp is None or cp.size != size:
            raise RuntimeError("the bulk store has no final checkpoint")
        per_proof = []
        for i in indexes:
            t0 = time.perf_counter()
            inclusion_proof(i, size, log.store)
            per_proof.append(time.perf_counter() - t0)
        per_receipt = []
        for i in indexes[: max(1, len(indexes) // 4)]:
            t0 = time.perf_counter()
            log.receipt(i)
            per_receipt.append(time.perf_counter() - t0)
        return {
            "proof_s": peers.median(per_proof),
            "receipt_s": peers.median(per_receipt),
            "root": cp.root,
            "size": size,
        }


def monday_fsck(cfg: LogConfig) -> float:
    """Seconds for a full fsck of the store (which must pass)."""
    with open_log(cfg, readonly=True) as log, stopwatch() as wall:
        report = fsck(log.store, log.verifiers())
    if not report.ok:
        raise RuntimeError(f"fsck failed on the bench store: {report.findings[:3]}")
    return wall[0]


def monday_monitor(cfg: LogConfig) -> float:
    """Seconds for ``monday audit monitor``'s pass over the store. The bench log announces no
    model version, so every decision is flagged; the pass does the same work either way (the
    violations kept are capped), and it must have checked every decision."""
    with open_log(cfg, readonly=True) as log, stopwatch() as wall:
        result = monitor(log.store)
        size = log.size()
    if result.decisions != size - 1:
        raise RuntimeError(f"monitor checked {result.decisions} of {size - 1} decisions")
    return wall[0]


# -- floor -----------------------------------------------------------------------------------


def floor(path: Path, bodies: Sequence[bytes], *, wal: bool = True) -> float:
    """Seconds for plain ``executemany`` of the bytes and their SHA-256 (one transaction).

    With ``wal`` (the floor the ratios use) the file has Monday's durability settings (WAL,
    ``synchronous=FULL``); without, SQLite's defaults (rollback journal), as pymerkle uses.
    """
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    if wal:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE entries (idx INTEGER PRIMARY KEY, body BLOB, hash BLOB)")
    sha = hashlib.sha256
    with stopwatch() as wall:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO entries VALUES (?, ?, ?)",
            ((i, b, sha(b).digest()) for i, b in enumerate(bodies)),
        )
        conn.execute("COMMIT")
    conn.close()
    return wall[0]


# -- receipt at 1M ---------------------------------------------------------------------------


class _SynthTree:
    """A ``HashReader`` over ``size`` leaves: every leaf is one filler hash except the real one
    at ``position``. Subtrees without it are computed once per level; the few that contain it
    are hashed on demand, so a proof at 1M needs a few hundred hashes, not a million."""

    def __init__(self, position: int, real_leaf: bytes) -> None:
        self.position = position
        self.real = real_leaf
        filler = hashlib.sha256(b"monday bench filler leaf").digest()
        self.uniform = [filler]
        for _ in range(64):
            self.uniform.append(node_hash(self.uniform[-1], self.uniform[-1]))
        self._cache: dict[tuple[int, int], bytes] = {}

    def subtree_hash(self, level: int, index: int) -> bytes:
        first = index << level
        if not first <= self.position < first + (1 << level):
            return self.uniform[level]
        if level == 0:
            return self.real
        key = (level, index)
        if key not in self._cache:
            left = self.subtree_hash(level - 1, 2 * index)
            right = self.subtree_hash(level - 1, 2 * index + 1)
            self._cache[key] = node_hash(left, right)
        return self._cache[key]


def receipt_1m_synth(cfg: LogConfig, ws: Workspace) -> int:
    """Receipt size for a real entry placed in a 1M-leaf tree of synthesised leaf hashes,
    against a checkpoint signed with the log's key (it verifies like a real one)."""
    from mondaytest.audit.merkle import root_at

    with open_log(cfg, readonly=True) as log:
        idx = log.size() // 2
        body = log.store.entry(idx).body  # type: ignore[union-attr]
        verifiers = log.verifiers()
    tree = _SynthTree(idx, leaf_hash(body))
    root = root_at(ONE_MILLION, tree)
    signer = load_signer(f"file:{ws.root / 'log.key'}", base_dir=ws.root)
    note = sign_checkpoint(Checkpoint(ORIGIN, ONE_MILLION, root), [signer])
    proof = inclusion_proof(idx, ONE_MILLION, tree)
    data = build_receipt(idx, proof, note, leaf=body, extra=body)
    verify_receipt_bytes(data, verifiers)
    return len(data)


def receipt_1m_real(cfg: LogConfig, report: Report, seed: int) -> int:
    """Grow the store to 1,000,000 entries through the public API; size of a real receipt."""
    with open_log(cfg) as log:
        have = log.size()
        step = 50_000
        while have < ONE_MILLION:
            n = min(step, ONE_MILLION - have)
            log.append_many("decision", payloads(n, seed + have))
            have += n
            report.log(f"1M receipt: {have:,} entries")
        log.checkpoint()
        idx = ONE_MILLION // 2
        data = log.receipt(idx)
        verify_receipt_bytes(data, log.verifiers())
        return len(data)


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    ap = bench_args(__doc__)
    ap.add_argument("--n", type=int, default=None, help="entries per run")
    ap.add_argument("--threads", type=int, default=32, help="threads in the threaded pipeline")
    ap.add_argument("--tasks", type=int, default=1024, help="coroutines in the event-loop pipeline")
    ap.add_argument("--proofs", type=int, default=None, help="inclusion proofs sampled")
    ap.add_argument(
        "--receipt-1m",
        choices=["real", "synth"],
        default=None,
        help="build a real 1M-entry store (default without --quick) or synthesise leaf hashes",
    )
    args = ap.parse_args()
    quick = args.quick or args.smoke
    n = args.n or (300 if args.smoke else 15_000 if args.quick else 100_000)
    runs = args.runs or (1 if args.smoke else 3)
    n_pipe = min(n, 300 if args.smoke else 3_000 if args.quick else 20_000)
    n_proofs = args.proofs or (20 if args.smoke else 100 if args.quick else 300)
    receipt_mode = args.receipt_1m or ("synth" if quick else "real")

    report = Report("audit_bench", quick=quick, smoke=args.smoke)
    report.figure(
        "append_vs_pymerkle",
        "bulk append: Monday vs pymerkle (speed ratio)",
        unit="×",
        target=1.5,
        note="pymerkle s / Monday s, same bytes",
    )
    report.figure(
        "proof_vs_pymerkle",
        "inclusion proof at size N vs pymerkle (warm cache)",
        unit="×",
        target=20,
    )
    report.figure(
        "proof_vs_pymerkle_cold",
        "inclusion proof vs pymerkle first proof (cold)",
        key=None,
        unit="×",
    )
    report.figure(
        "pipeline_vs_floor",
        "decisions via API vs floor (rate ratio)",
        unit="×",
        target=0.25,
        note=f"{args.tasks} coroutines awaiting adecision(), sequenced",
    )
    report.figure(
        "pipeline_threads_vs_floor",
        "  … threads calling decision() vs floor",
        unit="×",
        note=f"{args.threads} threads, sequenced",
    )
    report.figure(
        "pipeline_predrafted_vs_floor",
        "  … same, decisions drafted beforehand",
        key=None,
        unit="×",
        note="diagnostic: validation and encoding excluded (aappend_drafts)",
    )
    report.figure("fsck_vs_floor", "fsck vs floor (rate ratio)", unit="×", target=0.25)
    report.figure(
        "receipt_bytes_1m",
        "receipt size at 1M entries",
        unit=" B",
        target=2048,
        better="lower",
        note=(
            "real 1M-entry store"
            if receipt_mode == "real"
            else "1M synthesised leaf hashes + real entry and signed checkpoint"
        ),
    )
    report.figure("decisions_per_s", "decisions/s via API (sequenced, event loop)", unit="/s")
    report.figure(
        "decisions_threads_per_s", "decisions/s via API (sequenced, threads)", key=None, unit="/s"
    )
    report.figure("monday_bulk_per_s", "Monday bulk append, entries/s", key=None, unit="/s")
    report.figure(
        "monday_bulk_append_only_per_s",
        "  … of which append_drafts only",
        key=None,
        unit="/s",
        note="drafting (validation, canonical JSON) excluded",
    )
    report.figure(
        "pymerkle_append_per_s", "pymerkle append_entries, entries/s", key=None, unit="/s"
    )
    report.figure(
        "budget_us",
        "  time per entry that 1.5× pymerkle allows",
        key=None,
        unit=" µs",
        note="all-in: validation, encoding, row, tree, checkpoint",
    )
    report.figure(
        "floor_per_s",
        "floor executemany + SHA-256, rows/s",
        key=None,
        unit="/s",
        note="WAL, synchronous=FULL (as Monday's store)",
    )
    report.figure(
        "floor_default_per_s",
        "  … same with SQLite defaults",
        key=None,
        unit="/s",
        note="rollback journal (as pymerkle); not used in ratios",
    )
    report.figure("fsck_per_s", "fsck, entries/s", key=None, unit="/s")
    report.figure(
        "monitor_per_s",
        "monitor (every decision's binding), entries/s",
        key=None,
        unit="/s",
        note="one pass: config_idx, model in force, approval (table only)",
    )
    report.figure("monday_proof_ms", "Monday inclusion proof", key=None, unit=" ms")
    report.figure("monday_receipt_ms", "Monday receipt (proof + checkpoint)", key=None, unit=" ms")
    report.figure("pymerkle_proof_ms", "pymerkle prove_inclusion (warm)", key=None, unit=" ms")
    report.figure("pymerkle_proof_cold_ms", "pymerkle first proof (cold)", key=None, unit=" ms")

    pm_python = None
    if not args.smoke:
        pm_python, version = peers.try_peer("pymerkle")
        report.versions["pymerkle"] = version
        if pm_python is None:
            report.notes.append(f"pymerkle {version}")

    items = payloads(n, seed=1)
    pipe_items = payloads(n_pipe, seed=2)
    rng = random.Random(3)
    tmp = Path(tempfile.mkdtemp(prefix="monday-audit-bench-"))
    try:
        ws = Workspace(tmp)
        for run in range(runs):
            report.log(f"run {run + 1}/{runs}: N={n:,}")
            bulk_cfg = ws.config("bulk")
            bulk = monday_bulk(bulk_cfg, items)
            size = n + 1  # the genesis entry comes first
            report.add("monday_bulk_per_s", size / bulk["total_s"])
            report.add("monday_bulk_append_only_per_s", n / bulk["append_s"])

            bodies = stored_bodies(bulk_cfg)
            floor_s = floor(tmp / "floor.db", bodies)
            floor_rate = len(bodies) / floor_s
            report.add("floor_per_s", floor_rate)
            report.add("floor_default_per_s", len(bodies) / floor(tmp / "f2.db", bodies, wal=False))

            fsck_s = monday_fsck(bulk_cfg)
            report.add("fsck_per_s", size / fsck_s)
            report.add("fsck_vs_floor", (size / fsck_s) / floor_rate)
            report.add("monitor_per_s", size / monday_monitor(bulk_cfg))

            indexes = [rng.randrange(size) for _ in range(n_proofs)]
            proofs = monday_proofs(bulk_cfg, indexes)
            report.add("monday_proof_ms", proofs["proof_s"] * 1000)
            report.add("monday_receipt_ms", proofs["receipt_s"] * 1000)

            if pm_python is not None:
                data = tmp / "entries.txt"
                data.write_bytes(b"\n".join(bodies) + b"\n")
                pm = run_peer(
                    report,
                    "pymerkle",
                    peers.run_json,
                    pm_python,
                    HERE / "peer_scripts" / "pymerkle_audit.py",
                    str(data),
                    str(tmp / "pymerkle.db"),
                    "--proofs",
                    str(n_proofs),
                )
                if pm is not None:
                    if pm["n"] != size or bytes.fromhex(pm["root_hex"]) != proofs["root"]:
                        raise SystemExit("pymerkle's root differs from Monday's: not the same data")
                    report.add("pymerkle_append_per_s", pm["append_per_s"])
                    report.add("budget_us", pm["append_s"] / size / 1.5 * 1e6)
                    report.add("append_vs_pymerkle", pm["append_s"] / bulk["total_s"])
                    report.add("pymerkle_proof_ms", pm["proof_warm_median_s"] * 1000)
                    report.add("pymerkle_proof_cold_ms", pm["proof_cold_s"] * 1000)
                    report.add("proof_vs_pymerkle", pm["proof_warm_median_s"] / proofs["proof_s"])
                    report.add("proof_vs_pymerkle_cold", pm["proof_cold_s"] / proofs["proof_s"])

            wall = monday_pipeline_async(ws.config("pipeline"), pipe_items, args.tasks)
            rate = n_pipe / wall
            report.add("decisions_per_s", rate)
            report.add("pipeline_vs_floor", rate / floor_rate)
            wall = monday_pipeline_predrafted(ws.config("pipeline"), pipe_items, args.tasks)
            report.add("pipeline_predrafted_vs_floor", n_pipe / wall / floor_rate)
            wall = monday_pipeline(ws.config("pipeline"), pipe_items, args.threads)
            rate = n_pipe / wall
            report.add("decisions_threads_per_s", rate)
            report.add("pipeline_threads_vs_floor", rate / floor_rate)

        report.log(f"receipt at 1M entries ({receipt_mode})")
        if receipt_mode == "real":
            grown = ws.config("bulk", fresh=False)
            report.add("receipt_bytes_1m", receipt_1m_real(grown, report, seed=11))
        else:
            report.add("receipt_bytes_1m", receipt_1m_synth(bulk_cfg, ws))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    body_len = sum(len(b) for b in bodies) / len(bodies)
    report.notes.append(
        f"N={n:,} entries (mean leaf {body_len:.0f} B), {runs} runs, pipeline {n_pipe:,} "
        f"decisions, {n_proofs} proofs sampled; ratios are per run, then the median"
    )
    if args.smoke:
        report.notes.append("smoke run: Monday only, tiny sizes; the figures mean nothing")
    report.print(as_json=args.json)


if __name__ == "__main__":
    main()
