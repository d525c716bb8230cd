"""The scorer extension point: how one output is turned into a :class:`Score`.

A scorer family is one module; :mod:`.registry` maps each ``kind`` to a factory. A scorer
declares whether it is deterministic or model-graded and carries a fingerprint of everything
that defines its verdicts, so runs scored differently are never compared.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from mondaytest.errors import ConfigError
from mondaytest.evals.model import MISSING, Case, Score
from mondaytest.evals.paths import compile_path, get_path, render_path
from mondaytest.evals.targets.interface import Target, fingerprint_of

__all__ = [
    "Caller",
    "FieldScorer",
    "Scorer",
    "ScorerContext",
    "ScorerInfo",
    "TargetMaker",
    "short",
]

Caller = Callable[[str, Target, Case, int], Awaitable[Any]]
"""``caller(role, target, case, epoch)``: the runner's way to call a target (cache, retries,
record and replay included); raises :class:`~mondaytest.evals.targets.TargetError` when every
attempt failed."""
TargetMaker = Callable[[Any, str], Target]
"""``make_target(target_spec, role)``: builds (or, under ``--replay``, replaces) a target."""


@dataclass(frozen=True)
class ScorerInfo:
    """What a scorer is: name, kind, deterministic or model-graded, and its fingerprint."""

    name: str
    """The metric name."""
    kind: str
    """The scorer kind (``exact``, ``judge``, …)."""
    deterministic: bool
    """False for model-graded scorers."""
    fingerprint: str
    """SHA-256 hex of ``detail``."""
    detail: dict[str, Any] = field(default_factory=dict)
    """What the fingerprint covers."""

    def to_json(self) -> dict[str, Any]:
        """The JSON form stored in ``run.json``."""
        return {
            "name": self.name,
            "kind": self.kind,
            "deterministic": self.deterministic,
            "fingerprint": self.fingerprint,
            "detail": self.detail,
        }


@dataclass
class ScorerContext:
    """What building a scorer needs."""

    root_dir: Path
    """The contract's directory (rubrics, schemas and modules resolve from here)."""
    make_target: TargetMaker | None = None
    """Builds judge targets."""
    caller: Caller | None = None
    """Calls judge targets."""


@runtime_checkable
class Scorer(Protocol):
    """Scores one output of one case."""

    info: ScorerInfo
    """Identity and fingerprint."""
    is_async: bool
    """True when :meth:`ascore` must be used (it calls a model, or the function is async)."""

    def score(self, case: Case, output: Any) -> Score:
        """Score synchronously."""

    async def ascore(self, case: Case, output: Any, epoch: int) -> Score:
        """Score asynchronously."""

    async def start(self) -> None:
        """Open what the scorer needs (judge targets); called once before scoring."""

    async def aclose(self) -> None:
        """Release what the scorer opened (judge targets)."""


def short(value: Any, limit: int = 80) -> str:
    """A value as short text for reasons."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = repr(text) if isinstance(value, str) else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


class FieldScorer:
    """Base of the built-in scorers: picks ``field`` from output and expected, fingerprints
    the spec. Subclasses set :attr:`KIND` and implement :meth:`score`."""

    KIND: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1
    DETERMINISTIC: ClassVar[bool] = True
    NEEDS_EXPECTED: ClassVar[bool] = True
    is_async: bool = False

    def __init__(self, spec: Any, ctx: ScorerContext) -> None:
        self.spec = spec
        self.ctx = ctx
        field_name = getattr(spec, "field", None)
        expected_field = getattr(spec, "expected_field", None)
        try:
            self._out_path = compile_path(field_name)
            self._exp_path = compile_path(
                expected_field if expected_field is not None else field_name
            )
        except ValueError as exc:
            raise ConfigError(str(exc), field=f"scorers.{spec.name}.field") from None
        self._exp_whole_if_scalar = expected_field is None
        detail = {"impl": f"{self.KIND}/{self.VERSION}", **self.fingerprint_detail()}
        self.info = ScorerInfo(
            spec.name, self.KIND, self.DETERMINISTIC, fingerprint_of(detail), detail
        )

    def fingerprint_detail(self) -> dict[str, Any]:
        """What defines this scorer's verdicts (the spec without its name, by default)."""
        config: dict[str, Any] = self.spec.model_dump(
            mode="json", by_alias=True, exclude={"name", "kind"}
        )
        return {"config": config}

    def pick(self, case: Case, output: Any) -> tuple[Any, Any]:
        """``(output value, expected value)`` at the scorer's field; MISSING when absent."""
        out = get_path(output, self._out_path) if self._out_path else output
        exp = case.expected
        if (
            self._exp_path
            and exp is not MISSING
            and (isinstance(exp, dict) or not self._exp_whole_if_scalar)
        ):
            exp = get_path(exp, self._exp_path)
        return out, exp

    def missing(self, out: Any, exp: Any) -> Score | None:
        """The score for an absent field or expected value, or None when both are present."""
        if exp is MISSING and self.NEEDS_EXPECTED:
            where = f" at {render_path(self._exp_path)}" if self._exp_path else ""
            return Score(None, None, error=f"the case has no expected value{where}")
        if out is MISSING:
            return Score(0.0, False, reason=f"output has no {render_path(self._out_path)}")
        return None

    def score(self, case: Case, output: Any) -> Score:  # pragma: no cover - abstract
        """Score one output."""
        raise NotImplementedError

    async def ascore(self, case: Case, output: Any, epoch: int) -> Score:
        """Same as :meth:`score`."""
        return self.score(case, output)

    async def start(self) -> None:
        """Nothing to open."""

    async def aclose(self) -> None:
        """Nothing to release."""
