"""A seeded generator of synthetic claims with their true routing (the ground truth)."""

from __future__ import annotations

import random
from typing import Any

TEMPLATES = {
    "fast_track": [
        "minor scratch on rear bumper",
        "windscreen glass chipped by stone",
        "small dent in door",
        "phone screen cracked",
        "bike stolen from shed with police report",
    ],
    "standard": [
        "water leak from roof after storm",
        "laptop stolen police report attached",
        "hospital visit after minor injury",
        "flood damage to kitchen",
        "fire in garage",
    ],
    "fraud_review": [
        "total loss urgent cash payment overseas",
        "jewellery stolen no receipt urgent",
        "wire transfer overseas urgent total loss",
        "cash claim no police report urgent",
        "stolen phone overseas no receipt",
    ],
}


def make_claim(rng: random.Random, label: str) -> dict[str, Any]:
    """One synthetic claim of the given true label, with some noise."""
    text = rng.choice(TEMPLATES[label])
    if rng.random() < 0.35:  # noise: words borrowed from another class
        other = rng.choice([k for k in TEMPLATES if k != label])
        text += " " + " ".join(rng.choice(TEMPLATES[other]).split()[:2])
    amount = {
        "fast_track": rng.lognormvariate(6.0, 0.6),
        "standard": rng.lognormvariate(8.0, 0.7),
        "fraud_review": rng.lognormvariate(9.2, 0.9),
    }[label]
    channel = rng.choices(
        ["web", "phone", "agent"], weights=[6, 3, 1] if label != "fraud_review" else [3, 5, 2]
    )[0]
    return {"claim_amount": round(amount, 2), "channel": channel, "description": text}


def dataset(n: int, seed: int) -> list[tuple[dict[str, Any], str]]:
    """``n`` (claim, label) pairs."""
    rng = random.Random(seed)
    labels = rng.choices(["fast_track", "standard", "fraud_review"], weights=[5, 4, 1], k=n)
    return [(make_claim(rng, label), label) for label in labels]
