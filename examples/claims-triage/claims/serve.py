"""Serve a stream of incoming claims: predict, and record every decision in the audit log.

``python -m claims.serve N`` routes N synthetic incoming claims (seeded) through the model and
records each decision with Monday: the customer id and the raw claim go to the encrypted vault,
the signed log gets only a subject token, salted commitments and the non-personal outcome.
"""

from __future__ import annotations

import json
import random
import sys
import time

import mondaytest
from claims import model
from claims.data import dataset


def main(n: int) -> None:
    """Route ``n`` claims and record each decision; print the last index and the rate."""
    rng = random.Random(99)
    started = time.perf_counter()
    last = -1
    with mondaytest.connect() as log:
        for i, (claim, _truth) in enumerate(dataset(n, seed=4242)):
            customer = f"cust-{rng.randrange(10_000):05d}"
            t0 = time.perf_counter()
            answer = model.predict(claim)
            idx = log.decision(
                decision="triage",
                model={"id": "claims-triage", "version": model.version()},
                outcome={"label": answer["label"], "confidence": str(answer["confidence"])},
                latency_ms=int((time.perf_counter() - t0) * 1000),
                subject_id=customer,
                raw={"input": json.dumps(claim), "output": json.dumps(answer)},
            )
            if idx is not None:
                last = idx
            if i == 0:
                print(f"first decision recorded at index {idx}")
    took = time.perf_counter() - started
    print(f"{n} decisions recorded (last index {last}) in {took:.2f}s ({n / took:,.0f}/s)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
