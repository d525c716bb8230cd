"""Model-graded scoring: any target acts as the judge, pinned by its fingerprint."""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

from mondaytest.errors import ConfigError
from mondaytest.evals.model import MISSING, Case, Output, Score
from mondaytest.evals.scorers.interface import FieldScorer, ScorerContext, short
from mondaytest.evals.targets.interface import TargetError
from mondaytest.evals.template import render_text
from mondaytest.spec.evals import JudgeScorer

__all__ = ["Judge", "parse_judgement"]

_VERDICT = re.compile(r"^\W*(pass|fail|yes|no|true|false|correct|incorrect)\b", re.IGNORECASE)
_SCORE = re.compile(r"\bscore\s*[:=]\s*(-?\d+(?:\.\d+)?)", re.IGNORECASE)
_TRUE = {"pass", "yes", "true", "correct"}


def _number(value: float, scale: tuple[float, float]) -> float:
    low, high = scale
    if not math.isfinite(value) or value < low or value > high:
        raise ValueError(f"judge score {value} is outside its scale [{low:g}, {high:g}]")
    return (value - low) / (high - low)


def parse_judgement(
    raw: Any, scale: tuple[float, float] = (0.0, 1.0)
) -> tuple[float, bool | None, str | None]:
    """``(score in [0, 1], explicit pass/fail or None, reason)`` from a judge's answer.

    Accepts a number on ``scale``, a boolean, ``{"score"|"passed", "reason"}``, or text holding
    one of these (JSON, ``SCORE: 4``, ``PASS``/``FAIL``, ``YES``/``NO``). Raises ValueError
    for anything else: an unparsable judgement is an error, never a pass.
    """
    if isinstance(raw, bool):
        return float(raw), raw, None
    if isinstance(raw, int | float):
        return _number(float(raw), scale), None, None
    if isinstance(raw, dict):
        reason = raw.get("reason", raw.get("explanation"))
        reason = None if reason is None else str(reason)[:500]
        verdict = raw.get("passed")
        if isinstance(verdict, bool):
            if isinstance(raw.get("score"), int | float) and not isinstance(raw.get("score"), bool):
                return _number(float(raw["score"]), scale), verdict, reason
            return float(verdict), verdict, reason
        if "score" in raw:
            value, explicit, _ = parse_judgement(raw["score"], scale)
            return value, explicit, reason
        raise ValueError(f"judge answer has no score or passed: {short(raw)}")
    if isinstance(raw, str):
        text = raw.strip()
        if text[:1] in '{["' or text in ("true", "false"):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = MISSING
            if parsed is not MISSING and not isinstance(parsed, str):
                return parse_judgement(parsed, scale)
        try:
            return _number(float(text), scale), None, None
        except ValueError as exc:
            if "outside" in str(exc):
                raise
        m = _SCORE.search(text)
        if m is not None:
            return _number(float(m.group(1)), scale), None, text[:500]
        m = _VERDICT.match(text)
        if m is not None:
            ok = m.group(1).lower() in _TRUE
            return float(ok), ok, text[:500]
    raise ValueError(f"cannot read a judgement from {short(raw)}")


class Judge(FieldScorer):
    """Asks the judge target to grade each output; model-graded."""

    KIND = "judge"
    DETERMINISTIC = False
    NEEDS_EXPECTED = False
    is_async = True
    spec: JudgeScorer

    def __init__(self, spec: JudgeScorer, ctx: ScorerContext) -> None:
        if ctx.make_target is None or ctx.caller is None:
            raise ConfigError("judge scorers need a runner", field=f"scorers.{spec.name}")
        if spec.rubric is not None:
            path = ctx.root_dir / spec.rubric
            try:
                self._rubric = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(
                    f"cannot read rubric {spec.rubric!r}: {exc.strerror}",
                    field=f"scorers.{spec.name}.rubric",
                ) from None
        else:
            self._rubric = spec.prompt or ""
        self.role = f"judge:{spec.name}"
        self.target = ctx.make_target(spec.target, self.role)
        self._caller = ctx.caller
        super().__init__(spec, ctx)
        if spec.pin is not None and spec.pin != self.info.fingerprint:
            raise ConfigError(
                f"the judge changed: pinned {spec.pin[:16]}…, now {self.info.fingerprint[:16]}…",
                field=f"scorers.{spec.name}.pin",
                hint="runs graded by different judges are not comparable; if the change is "
                f"intended, set pin: {self.info.fingerprint} and bless a new baseline",
            )

    def fingerprint_detail(self) -> dict[str, Any]:
        """The judge target, the rubric text, the scale, the threshold and the field."""
        return {
            "judge": self.target.info.fingerprint,
            "rubric_sha256": hashlib.sha256(self._rubric.encode("utf-8")).hexdigest(),
            "scale": list(self.spec.scale),
            "threshold": self.spec.threshold,
            "field": self.spec.field,
            "expected_field": self.spec.expected_field,
        }

    def score(self, case: Case, output: Any) -> Score:  # pragma: no cover - async only
        """Judges are asynchronous; use :meth:`ascore`."""
        raise TypeError("judge scorers are asynchronous")

    async def ascore(self, case: Case, output: Any, epoch: int) -> Score:
        """Call the judge and read its answer."""
        out, exp = self.pick(case, output)
        if out is MISSING:
            return Score(0.0, False, reason="output has no such field")
        values = {
            "input": case.input,
            "output": out,
            "expected": None if exp is MISSING else exp,
        }
        request = {"prompt": render_text(self._rubric, values), "rubric": self._rubric, **values}
        try:
            answer = await self._caller(self.role, self.target, Case(case.id, request), epoch)
        except TargetError as exc:
            return Score(None, None, error=f"judge failed: {exc}")
        if isinstance(answer, Output):
            answer = answer.value
        try:
            value, passed, reason = parse_judgement(answer, self.spec.scale)
        except ValueError as exc:
            return Score(
                None,
                None,
                error=str(exc),
                raw=answer if isinstance(answer, str | int | float) else None,
            )
        if passed is None:
            passed = value >= self.spec.threshold
        return Score(value, passed, reason=reason)

    async def start(self) -> None:
        """Start the judge target."""
        await self.target.start()

    async def aclose(self) -> None:
        """Close the judge target."""
        await self.target.aclose()
