"""Peer script (runs inside bench/.envs/pymerkle): pymerkle 7 ``SqliteTree`` on given bytes.

Usage: ``python pymerkle_audit.py DATA DBFILE [--proofs K] [--seed S]``

``DATA`` holds one entry per line (the exact leaf bytes Monday stored, newline-separated; the
canonical JSON of an entry never contains a raw newline). Appends them all with
``SqliteTree.append_entries`` (its bulk path: one transaction), then reopens the tree (empty
subroot cache, as a fresh process serving proofs would be) and asks ``prove_inclusion`` at the
full size for K seeded indexes. Prints one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("db")
    ap.add_argument("--proofs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    with open(args.data, "rb") as fh:
        entries = fh.read().split(b"\n")
    if entries and entries[-1] == b"":
        entries.pop()
    n = len(entries)
    for suffix in ("", "-journal", "-wal", "-shm"):
        if os.path.exists(args.db + suffix):
            os.remove(args.db + suffix)

    from pymerkle import SqliteTree, verify_inclusion

    t0 = time.perf_counter()
    tree = SqliteTree(args.db)
    tree.append_entries(entries)
    append_s = time.perf_counter() - t0
    tree.close()

    rng = random.Random(args.seed)
    indexes = [rng.randrange(n) for _ in range(args.proofs)]

    tree = SqliteTree(args.db)  # fresh object: empty subroot cache
    t0 = time.perf_counter()
    root = tree.get_root(n)
    first_root_s = time.perf_counter() - t0
    tree.cache_clear()

    # cold: the first proof on a fresh tree object (pymerkle builds its subroot cache)
    t0 = time.perf_counter()
    proof = tree.prove_inclusion(indexes[0] + 1, n)  # pymerkle counts leaves from one
    cold_s = time.perf_counter() - t0

    # warm: every further proof, each timed alone (cache populated)
    per: list[float] = []
    for i in indexes:
        t0 = time.perf_counter()
        proof = tree.prove_inclusion(i + 1, n)
        per.append(time.perf_counter() - t0)
    last = tree.get_leaf(indexes[-1] + 1)
    verify_inclusion(last, root, proof)  # raises InvalidProof if wrong
    cache = tree.get_cache_info()
    tree.close()
    per.sort()

    print(
        json.dumps(
            {
                "n": n,
                "append_s": append_s,
                "append_per_s": n / append_s,
                "root_hex": root.hex(),
                "root_s": first_root_s,
                "proof_cold_s": cold_s,
                "proof_warm_median_s": per[len(per) // 2],
                "proof_warm_mean_s": sum(per) / len(per),
                "proofs": len(per),
                "cache_entries": cache.size,
                "db_bytes": os.path.getsize(args.db),
            }
        )
    )


if __name__ == "__main__":
    main()
