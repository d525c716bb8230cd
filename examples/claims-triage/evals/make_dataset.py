"""Write ``evals/triage.jsonl``: held-out claims with their true routing (seeded)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from claims.data import dataset

rows = dataset(400, seed=2026)
with (Path(__file__).resolve().parent / "triage.jsonl").open("w") as fh:
    for i, (claim, label) in enumerate(rows):
        tags = ["fraud"] if label == "fraud_review" else []
        if label == "fraud_review" and claim["claim_amount"] > 20000:
            tags.append("critical")
        case = {
            "id": f"claim-{i:04d}",
            "input": claim,
            "expected": {"label": label},
            "tags": tags,
        }
        fh.write(json.dumps(case) + "\n")
