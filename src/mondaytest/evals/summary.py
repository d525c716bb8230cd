"""Run summaries computed from ``trials.jsonl``: counts, metrics per scorer (overall and per
tag), classification reports, latency percentiles, cost, and the cases digest.

Everything is computed by streaming the trials, so a summary can be rebuilt for any run
(resumed, imported from another harness) and memory stays small.
"""

from __future__ import annotations

import hashlib
import math
from array import array
from collections import Counter
from collections.abc import Iterable
from typing import Any

from mondaytest.evals.scorers.classification import classification_report

__all__ = ["CasesDigest", "Summarizer", "percentile", "summarize"]

_MOD = 1 << 256


class CasesDigest:
    """An order-independent digest of ``(id, input hash, expected hash)`` over cases.

    It is the sum modulo 2^256 of each case's SHA-256, so the same cases in any order, or
    added in any order (a resumed run), give the same digest.
    """

    def __init__(self) -> None:
        self._total = 0
        self.count = 0

    def add(self, case_id: str, input_hash: str, expected_hash: str) -> None:
        """Add one case."""
        h = hashlib.sha256(f"{case_id}\0{input_hash}\0{expected_hash}".encode()).digest()
        self._total = (self._total + int.from_bytes(h, "big")) % _MOD
        self.count += 1

    def hexdigest(self) -> str:
        """The digest as 64 hex characters."""
        return f"{self._total:064x}"


def percentile(sorted_values: list[float] | array[float], p: float) -> float | None:
    """Nearest-rank percentile of sorted values (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


class _Acc:
    __slots__ = ("errors", "failed", "n", "passed", "total", "wsum", "wtot")

    def __init__(self) -> None:
        self.n = 0
        self.total = 0.0
        self.wsum = 0.0
        self.wtot = 0.0
        self.passed = 0
        self.failed = 0
        self.errors = 0

    def add(self, score: dict[str, Any], weight: float) -> None:
        if "error" in score:
            self.errors += 1
            return
        value = score.get("value")
        if value is not None:
            self.n += 1
            self.total += value
            self.wsum += value * weight
            self.wtot += weight
        passed = score.get("passed")
        if passed is True:
            self.passed += 1
        elif passed is False:
            self.failed += 1

    def result(self) -> dict[str, Any]:
        judged = self.passed + self.failed
        out: dict[str, Any] = {
            "n": self.n,
            "mean": self.total / self.n if self.n else None,
            "passed": self.passed,
            "failed": self.failed,
            "pass_rate": self.passed / judged if judged else None,
            "errors": self.errors,
        }
        if self.wtot and abs(self.wtot - self.n) > 1e-9:
            out["weighted_mean"] = self.wsum / self.wtot
        return out


class Summarizer:
    """Feeds on trial dicts; :meth:`result` gives the ``run.json`` summary fields."""

    def __init__(self, scorers: Iterable[dict[str, Any]]) -> None:
        self._scorers = {str(s["name"]): s for s in scorers}
        self._acc: dict[str, _Acc] = {name: _Acc() for name in self._scorers}
        self._by_tag: dict[str, dict[str, _Acc]] = {name: {} for name in self._scorers}
        self._confusion: dict[str, Counter[tuple[str, str]]] = {
            name: Counter()
            for name, s in self._scorers.items()
            if s.get("kind") == "classification"
        }
        self._latency: array[float] = array("d")
        self.digest = CasesDigest()
        self.trials = 0
        self.ok = 0
        self.errors = 0
        self.score_errors = 0
        self.passed = 0
        self.failed = 0
        self.cached = 0
        self.retried = 0
        self.cost = 0.0
        self.costed = 0
        self.epochs: set[int] = set()

    def add(self, trial: dict[str, Any]) -> None:
        """Account for one trial."""
        self.trials += 1
        status = trial.get("status", "ok")
        epoch = int(trial.get("epoch", 0))
        self.epochs.add(epoch)
        if epoch == 0:
            self.digest.add(
                str(trial.get("case")),
                str(trial.get("input_hash", "")),
                str(trial.get("expected_hash", "")),
            )
        if status == "error":
            self.errors += 1
        else:
            if status == "score_error":
                self.score_errors += 1
            else:
                self.ok += 1
            if trial.get("cached"):
                self.cached += 1
            elif trial.get("latency_ms") is not None:
                self._latency.append(float(trial["latency_ms"]))
        passed = trial.get("passed")
        if passed is True:
            self.passed += 1
        elif passed is False:
            self.failed += 1
        if int(trial.get("attempts", 1)) > 1:
            self.retried += 1
        cost = trial.get("cost")
        if cost is not None:
            self.cost += float(cost)
            self.costed += 1
        scores = trial.get("scores") or {}
        weight = float(trial.get("weight", 1.0))
        tags = trial.get("tags") or ()
        for name, score in scores.items():
            acc = self._acc.get(name)
            if acc is None:
                continue
            acc.add(score, weight)
            for tag in tags:
                by_tag = self._by_tag[name]
                tag_acc = by_tag.get(tag)
                if tag_acc is None:
                    tag_acc = by_tag[tag] = _Acc()
                tag_acc.add(score, weight)
            confusion = self._confusion.get(name)
            if confusion is not None and "label" in score and "expected_label" in score:
                confusion[(score["expected_label"], score["label"])] += 1

    def result(self) -> dict[str, Any]:
        """``counts``, ``metrics``, ``latency_ms``, ``cost`` and ``cases``."""
        metrics: dict[str, Any] = {}
        for name, info in self._scorers.items():
            entry = {
                "kind": info.get("kind"),
                "deterministic": info.get("deterministic"),
                **self._acc[name].result(),
            }
            if self._by_tag[name]:
                entry["by_tag"] = {
                    tag: acc.result() for tag, acc in sorted(self._by_tag[name].items())
                }
            if name in self._confusion:
                labels = (info.get("detail") or {}).get("config", {}).get("labels")
                entry["classification"] = classification_report(self._confusion[name], labels)
            metrics[name] = entry
        lat = sorted(self._latency)
        judged = self.passed + self.failed
        return {
            "counts": {
                "cases": self.digest.count,
                "trials": self.trials,
                "ok": self.ok,
                "errors": self.errors,
                "score_errors": self.score_errors,
                "passed": self.passed,
                "failed": self.failed,
                "pass_rate": self.passed / judged if judged else None,
                "cached": self.cached,
                "retried": self.retried,
                "epochs": len(self.epochs),
            },
            "metrics": metrics,
            "latency_ms": {
                "n": len(lat),
                "mean": sum(lat) / len(lat) if lat else None,
                "p50": percentile(lat, 50),
                "p95": percentile(lat, 95),
                "p99": percentile(lat, 99),
                "max": lat[-1] if lat else None,
            },
            "cost": {
                "total": self.cost if self.costed else None,
                "per_trial": self.cost / self.costed if self.costed else None,
                "trials_with_cost": self.costed,
            },
            "cases": {"count": self.digest.count, "digest": self.digest.hexdigest()},
        }


def summarize(
    trials: Iterable[dict[str, Any]], scorers: Iterable[dict[str, Any]]
) -> dict[str, Any]:
    """Summarise trials (see :class:`Summarizer`)."""
    s = Summarizer(scorers)
    for trial in trials:
        s.add(trial)
    return s.result()
