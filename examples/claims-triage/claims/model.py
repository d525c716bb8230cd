"""The deployed triage model: ``predict(claim) -> {"label": …, "confidence": …}``.

``CLAIMS_MODEL_VERSION`` chooses the weights (``v1`` default, ``v2`` the cheaper candidate).
"""

from __future__ import annotations

import json
import math
import os
from functools import cache
from pathlib import Path
from typing import Any

from claims.features import featurize

HERE = Path(__file__).resolve().parent


@cache
def _weights(version: str) -> tuple[list[str], list[list[float]]]:
    data = json.loads((HERE / f"weights-{version}.json").read_text())
    return data["labels"], data["weights"]


def version() -> str:
    """The model version in force."""
    return os.environ.get("CLAIMS_MODEL_VERSION", "v1")


def predict(claim: dict[str, Any]) -> dict[str, Any]:
    """Route one claim."""
    labels, weights = _weights(version())
    x = featurize(claim)
    scores = [sum(xi * w[j] for xi, w in zip(x, weights, strict=True)) for j in range(len(labels))]
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    best = max(range(len(labels)), key=lambda j: scores[j])
    return {"label": labels[best], "confidence": round(exps[best] / sum(exps), 4)}
