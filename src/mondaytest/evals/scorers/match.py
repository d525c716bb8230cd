"""Deterministic matching: exact, normalised, regex and contains."""

from __future__ import annotations

import re
import string
import unicodedata
from typing import Any

from mondaytest.evals.model import MISSING, Case, Score
from mondaytest.evals.scorers.interface import FieldScorer, ScorerContext, short
from mondaytest.spec.evals import ContainsScorer, NormalizedScorer, RegexScorer

__all__ = ["Contains", "ExactMatch", "NormalizedMatch", "RegexMatch", "normalize_text"]

_PUNCT = str.maketrans("", "", string.punctuation + "“”‘’«»¿¡…–—")
_SPACES = re.compile(r"\s+")


def normalize_text(
    text: str,
    *,
    case: bool = True,
    whitespace: bool = True,
    punctuation: bool = True,
    unicode: bool = True,
) -> str:
    """Normalise text for comparison (NFKC, case fold, drop punctuation, collapse spaces)."""
    if unicode:
        text = unicodedata.normalize("NFKC", text)
    if case:
        text = text.casefold()
    if punctuation:
        text = text.translate(_PUNCT)
    if whitespace:
        text = _SPACES.sub(" ", text).strip()
    return text


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ExactMatch(FieldScorer):
    """Output equals expected."""

    KIND = "exact"

    def score(self, case: Case, output: Any) -> Score:
        """1 when equal, else 0."""
        if self._out_path or self._exp_path:
            out, exp = self.pick(case, output)
        else:
            out, exp = output, case.expected
        if out == exp and exp is not MISSING:
            return Score(1.0, True)
        bad = self.missing(out, exp)
        if bad is not None:
            return bad
        return Score(0.0, False, reason=f"expected {short(exp, 60)}, got {short(out, 60)}")


class NormalizedMatch(FieldScorer):
    """Text equality after normalisation."""

    KIND = "normalized"
    spec: NormalizedScorer

    def __init__(self, spec: NormalizedScorer, ctx: ScorerContext) -> None:
        super().__init__(spec, ctx)
        self._opts = {
            "case": spec.case,
            "whitespace": spec.whitespace,
            "punctuation": spec.punctuation,
            "unicode": spec.unicode,
        }

    def score(self, case: Case, output: Any) -> Score:
        """1 when the normalised texts are equal."""
        out, exp = self.pick(case, output)
        bad = self.missing(out, exp)
        if bad is not None:
            return bad
        a = normalize_text(_text(out), **self._opts)
        if isinstance(exp, list):
            if any(a == normalize_text(_text(e), **self._opts) for e in exp):
                return Score(1.0, True)
        elif a == normalize_text(_text(exp), **self._opts):
            return Score(1.0, True)
        return Score(0.0, False, reason=f"expected {short(exp, 60)}, got {short(out, 60)}")


class RegexMatch(FieldScorer):
    """The output matches a pattern (the spec's, or the case's expected value)."""

    KIND = "regex"
    spec: RegexScorer

    def __init__(self, spec: RegexScorer, ctx: ScorerContext) -> None:
        super().__init__(spec, ctx)
        self._flags = re.IGNORECASE if spec.ignore_case else 0
        self._fixed = re.compile(spec.pattern, self._flags) if spec.pattern is not None else None

    @property
    def NEEDS_EXPECTED(self) -> bool:  # type: ignore[override]  # noqa: N802
        """Only when the pattern comes from the case."""
        return self._fixed is None

    def score(self, case: Case, output: Any) -> Score:
        """1 when the pattern matches."""
        out, exp = self.pick(case, output)
        bad = self.missing(out, exp)
        if bad is not None:
            return bad
        if self._fixed is not None:
            pattern = self._fixed
        else:
            if not isinstance(exp, str):
                return Score(
                    None, None, error=f"expected must be a pattern string, got {short(exp)}"
                )
            try:
                pattern = re.compile(exp, self._flags)
            except re.error as exc:
                return Score(None, None, error=f"invalid pattern in expected: {exc}")
        text = _text(out)
        found = pattern.fullmatch(text) if self.spec.fullmatch else pattern.search(text)
        if found:
            return Score(1.0, True)
        return Score(0.0, False, reason=f"{short(text, 60)} does not match {pattern.pattern!r}")


class Contains(FieldScorer):
    """The output contains the expected text(s)."""

    KIND = "contains"
    spec: ContainsScorer

    @property
    def NEEDS_EXPECTED(self) -> bool:  # type: ignore[override]  # noqa: N802
        """Only when the value comes from the case."""
        return self.spec.value is None

    def score(self, case: Case, output: Any) -> Score:
        """1 when all (or any) of the values occur in the output."""
        out, exp = self.pick(case, output)
        bad = self.missing(out, exp)
        if bad is not None:
            return bad
        wanted = self.spec.value if self.spec.value is not None else exp
        values = wanted if isinstance(wanted, list) else [wanted]
        needles = [_text(v) for v in values]
        text = _text(out) if not isinstance(out, list) else "\n".join(_text(o) for o in out)
        if self.spec.ignore_case:
            text = text.casefold()
            needles = [n.casefold() for n in needles]
        hits = [n for n in needles if n in text]
        ok = len(hits) == len(needles) if self.spec.mode == "all" else bool(hits)
        if ok:
            return Score(1.0, True)
        missing = [n for n in needles if n not in hits]
        return Score(0.0, False, reason=f"missing {short(missing, 60)}")
