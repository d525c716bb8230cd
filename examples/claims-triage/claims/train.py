"""Train the triage model (multinomial logistic regression, numpy) and write weights JSON.

``python -m claims.train`` writes ``claims/weights-v1.json`` (all features) and
``claims/weights-v2.json`` (a "cheaper" candidate that drops the text features: a real
quality regression the eval gate should catch).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from claims.data import dataset
from claims.features import LABELS, featurize

HERE = Path(__file__).resolve().parent


def train(
    rows: list[tuple[dict[str, object], str]],
    mask: np.ndarray | None = None,
    epochs: int = 400,
    lr: float = 0.5,
) -> np.ndarray:
    """Fit weights (features x labels) by full-batch gradient descent on cross-entropy."""
    x = np.array([featurize(c) for c, _ in rows])
    if mask is not None:
        x = x * mask
    y = np.zeros((len(rows), len(LABELS)))
    for i, (_, label) in enumerate(rows):
        y[i, LABELS.index(label)] = 1.0
    w = np.zeros((x.shape[1], len(LABELS)))
    for _ in range(epochs):
        z = x @ w
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        w -= lr * (x.T @ (p - y) / len(rows) + 1e-3 * w)
    return w


def main() -> None:
    """Train both versions and write their weights."""
    rows = dataset(4000, seed=7)
    w1 = train(rows)
    n = len(featurize({}))
    mask = np.ones(n)
    mask[5:] = 0.0  # v2: amount and channel only
    w2 = train(rows, mask=mask)
    for name, w in (("v1", w1), ("v2", w2 * mask[:, None])):
        (HERE / f"weights-{name}.json").write_text(
            json.dumps({"labels": list(LABELS), "weights": np.round(w, 6).tolist()}) + "\n"
        )


if __name__ == "__main__":
    main()
