"""Classification: per case, the label is right or wrong; per run, accuracy, precision, recall,
F1 (macro and micro) and the confusion matrix."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from mondaytest.evals.model import Case, Score
from mondaytest.evals.scorers.interface import FieldScorer
from mondaytest.spec.evals import ClassificationScorer

__all__ = ["Classification", "classification_report", "label_of"]


def label_of(value: Any) -> str:
    """A value as a label: strings as they are, everything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Classification(FieldScorer):
    """Right label: 1, wrong: 0. The score carries both labels for the run-level report."""

    KIND = "classification"
    spec: ClassificationScorer

    def score(self, case: Case, output: Any) -> Score:
        """Compare the predicted label with the true one."""
        out, exp = self.pick(case, output)
        bad = self.missing(out, exp)
        if bad is not None:
            if bad.error is None:
                bad.label = "(missing)"
                bad.expected_label = label_of(exp)
            return bad
        predicted, truth = label_of(out), label_of(exp)
        ok = predicted == truth
        return Score(1.0 if ok else 0.0, ok, label=predicted, expected_label=truth)


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def classification_report(
    confusion: Counter[tuple[str, str]], labels: list[str] | None = None
) -> dict[str, Any]:
    """Accuracy, per-label and macro/micro precision, recall and F1, and the confusion matrix
    (rows: true label, columns: predicted) from ``(true, predicted)`` counts."""
    seen = sorted({t for t, _ in confusion} | {p for _, p in confusion})
    order = list(labels or []) + [x for x in seen if labels is None or x not in labels]
    total = sum(confusion.values())
    correct = sum(n for (t, p), n in confusion.items() if t == p)
    per_label: dict[str, dict[str, float]] = {}
    tp_sum = fp_sum = fn_sum = 0
    for label in order:
        tp = confusion.get((label, label), 0)
        fp = sum(n for (t, p), n in confusion.items() if p == label and t != label)
        fn = sum(n for (t, p), n in confusion.items() if t == label and p != label)
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        f1 = _ratio(2 * precision * recall, precision + recall)
        per_label[label] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": tp + fn,
        }
        tp_sum, fp_sum, fn_sum = tp_sum + tp, fp_sum + fp, fn_sum + fn
    true_labels = [lab for lab in order if per_label[lab]["support"] > 0] or order
    k = len(true_labels) or 1
    macro = {
        key: sum(per_label[lab][key] for lab in true_labels) / k
        for key in ("precision", "recall", "f1")
    }
    micro_p, micro_r = _ratio(tp_sum, tp_sum + fp_sum), _ratio(tp_sum, tp_sum + fn_sum)
    micro = {
        "precision": micro_p,
        "recall": micro_r,
        "f1": _ratio(2 * micro_p * micro_r, micro_p + micro_r),
    }
    return {
        "accuracy": _ratio(correct, total),
        "n": total,
        "labels": order,
        "macro": macro,
        "micro": micro,
        "per_label": per_label,
        "confusion": [[confusion.get((t, p), 0) for p in order] for t in order],
    }
