"""Feature extraction shared by training and prediction."""

from __future__ import annotations

import math
import re
from typing import Any

LABELS = ("fast_track", "standard", "fraud_review")
CHANNELS = ("web", "phone", "agent")
VOCAB = (
    "minor",
    "scratch",
    "windscreen",
    "glass",
    "dent",
    "theft",
    "stolen",
    "fire",
    "flood",
    "injury",
    "hospital",
    "cash",
    "urgent",
    "overseas",
    "total",
    "loss",
    "wire",
    "no",
    "receipt",
    "police",
    "report",
    "water",
    "leak",
    "roof",
    "storm",
    "bike",
    "phone",
    "laptop",
    "jewellery",
)
_WORD = re.compile(r"[a-z]+")


def featurize(claim: dict[str, Any]) -> list[float]:
    """Turn a claim into a fixed-length feature vector."""
    amount = float(claim.get("claim_amount", 0) or 0)
    channel = str(claim.get("channel", "web"))
    words = set(_WORD.findall(str(claim.get("description", "")).lower()))
    vec = [1.0, math.log1p(max(amount, 0.0)) / 10.0]
    vec += [1.0 if channel == c else 0.0 for c in CHANNELS]
    vec += [1.0 if w in words else 0.0 for w in VOCAB]
    return vec
