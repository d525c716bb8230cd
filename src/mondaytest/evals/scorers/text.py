"""Text overlap: token F1 (SQuAD style) and ROUGE-L (longest common subsequence)."""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from typing import Any

from mondaytest.evals.model import Case, Score
from mondaytest.evals.scorers.interface import FieldScorer
from mondaytest.spec.evals import RougeLScorer, TokenF1Scorer

__all__ = ["RougeL", "TokenF1", "lcs_length", "rouge_l", "token_f1", "tokens"]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def tokens(text: str) -> list[str]:
    """Lower-cased words without punctuation and English articles (SQuAD's normalisation)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if ch in _PUNCT else ch for ch in text)
    return _ARTICLES.sub(" ", text).split()


def token_f1(prediction: str, reference: str) -> float:
    """F1 of the multiset overlap of tokens; 1 when both are empty."""
    pred, ref = tokens(prediction), tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence (O(len(a)·len(b)) time, O(len(b)) memory)."""
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, 1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (β = 1) on tokens; 1 when both are empty."""
    pred, ref = tokens(prediction), tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    lcs = lcs_length(pred, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


class _Overlap(FieldScorer):
    threshold: float | None

    def measure(self, prediction: str, reference: str) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def score(self, case: Case, output: Any) -> Score:
        """The best overlap against the expected text (or any of a list of texts)."""
        out, exp = self.pick(case, output)
        bad = self.missing(out, exp)
        if bad is not None:
            return bad
        refs = exp if isinstance(exp, list) else [exp]
        value = max((self.measure(_text(out), _text(r)) for r in refs), default=0.0)
        threshold = self.spec.threshold
        return Score(value, None if threshold is None else value >= threshold)


class TokenF1(_Overlap):
    """Token-overlap F1."""

    KIND = "token_f1"
    spec: TokenF1Scorer

    def measure(self, prediction: str, reference: str) -> float:
        """Token F1."""
        return token_f1(prediction, reference)


class RougeL(_Overlap):
    """ROUGE-L F-measure."""

    KIND = "rouge_l"
    spec: RougeLScorer

    def measure(self, prediction: str, reference: str) -> float:
        """ROUGE-L."""
        return rouge_l(prediction, reference)
