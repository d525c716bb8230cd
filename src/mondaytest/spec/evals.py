"""The ``evals`` section: eval suites, their datasets, targets, scorers and gates.

Shape in ``monday.yaml``::

    evals:
      suites:
        triage:
          version: 3
          dataset: evals/triage.jsonl
          target: {python: "claims.model:predict"}     # or {http: …}, {cmd: […]}, {replay: …}
          scorers:
            - {name: label, kind: exact, field: label}
            - {name: grounded, kind: judge, target: {python: "judges:grounded"},
               rubric: evals/rubrics/grounded.md}
          epochs: 1
          concurrency: 8
          gate: {…}
          baseline: evals/baselines/triage.json

A target is written as a mapping with exactly one of ``python``, ``http``, ``cmd`` or
``replay``; a scorer is chosen by its ``kind``. Both are discriminated unions, so a mistake is
reported against the one variant that was meant.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from mondaytest.spec.base import SpecModel
from mondaytest.spec.evals_gate import GateSpec
from mondaytest.spec.types import SecretRef

__all__ = [
    "TARGET_KINDS",
    "ClassificationScorer",
    "CmdTarget",
    "ContainsScorer",
    "EvalsSection",
    "ExactScorer",
    "GateSpec",
    "HttpRequest",
    "HttpTarget",
    "JsonSchemaScorer",
    "JudgeScorer",
    "NormalizedScorer",
    "NumericScorer",
    "PiiLeakScorer",
    "PythonScorer",
    "PythonTarget",
    "RegexScorer",
    "ReplayTarget",
    "RougeLScorer",
    "ScorerSpec",
    "SuiteSpec",
    "TargetSpec",
    "TokenF1Scorer",
]

_CALLABLE_RE = r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_.]*$"
CallableRef = Annotated[
    str,
    Field(
        pattern=_CALLABLE_RE,
        description="A Python callable as module:function, e.g. claims.model:predict.",
    ),
]
"""``module:function``; the module is imported with the contract's directory on ``sys.path``."""

_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
MetricName = Annotated[str, Field(pattern=_NAME_RE)]
"""A scorer (metric) name: letters, digits, ``-``, ``_``, ``.``; at most 63 characters."""

# ---------------------------------------------------------------------------------- targets


class PythonTarget(SpecModel):
    """A Python callable ``fn(input) -> output``, sync or async."""

    python: CallableRef
    """The callable, ``module:function``. Sync functions run in a thread pool (or inline when
    they prove cheap, see ``inline``); ``async def`` functions run on the event loop."""
    inline: Literal["auto", "always", "never"] = "auto"
    """Where a sync function runs. ``auto``: in the thread pool until calls prove cheap
    (under 0.1 ms), then on the event loop to skip the thread hop, back to the pool as soon as
    one call is slow. ``never``: always the pool. ``always``: always inline (a timeout can then
    only be detected after the call returns)."""
    version: str | None = None
    """Your version string for what is behind the function (model, prompt, weights). It is part
    of the target fingerprint and of every cache key: bump it to invalidate cached outputs."""


class HttpRequest(SpecModel):
    """How one case becomes an HTTP request, and how the output is read from the response."""

    url: str = Field(min_length=1)
    """The endpoint, e.g. ``http://127.0.0.1:8000/predict``; ``{{input.x}}`` placeholders work
    here too."""
    method: Literal["GET", "POST", "PUT", "PATCH"] = "POST"
    """HTTP method."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Plain headers (part of the fingerprint). Put secrets in ``bearer`` or
    ``secret_headers``."""
    bearer: SecretRef | None = None
    """A token sent as ``Authorization: Bearer …``: ``env:VAR`` or ``file:PATH``."""
    secret_headers: dict[str, SecretRef] = Field(default_factory=dict)
    """Headers whose values are secrets, each ``env:VAR`` or ``file:PATH``. Never fingerprinted
    or stored."""
    body: Any = None
    """JSON body template. A string that is exactly ``{{input}}`` or ``{{input.field}}`` is
    replaced by that value (any JSON); placeholders inside longer strings are interpolated as
    text. Default: ``{"input": <input>}`` for methods with a body."""
    output: str = "$"
    """Where the output is in the JSON response: ``$`` (all of it), ``$.choices[0].text``…"""
    cost: str | None = None
    """Optional path of a cost in US dollars in the JSON response, e.g. ``$.usage.cost``."""
    timeout_s: Annotated[float, Field(gt=0, le=3600)] | None = None
    """Timeout of one request; default: the suite's ``timeout_s``."""


class HttpTarget(SpecModel):
    """A deployed service called over HTTP (JSON in, JSON out)."""

    http: HttpRequest
    """The request template and response extractor."""
    version: str | None = None
    """Your version string for what is behind the URL (model, prompt). It is part of the target
    fingerprint and of every cache key: bump it when the service changes."""


class CmdTarget(SpecModel):
    """A program spoken to with JSON on stdin and stdout."""

    cmd: list[str] = Field(min_length=1)
    """The command line, e.g. ``[python, app/worker.py]``, run from the contract's directory."""
    mode: Literal["worker", "per_case"] = "worker"
    """``worker``: long-lived processes, one JSON line in (``{"id", "input"}``) and one JSON
    line out (``{"output"}`` or ``{"error"}``) per case. ``per_case``: one process per case,
    the request JSON on stdin and one JSON document on stdout."""
    workers: Annotated[int, Field(ge=1, le=256)] | None = None
    """Worker processes (``worker`` mode); default: the suite's concurrency, at most 8."""
    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment variables for the program (not secrets: they are fingerprinted)."""
    version: str | None = None
    """Your version string for what the program runs; part of the fingerprint and cache key."""


class ReplayTarget(SpecModel):
    """Recorded outputs instead of a live system: a cassette or an earlier run."""

    replay: str = Field(min_length=1)
    """A cassette (``.jsonl`` written by ``monday eval run --record``), a run directory or its
    ``trials.jsonl``, relative to the contract. Cases without a recording end in an error."""


TARGET_KINDS = ("python", "http", "cmd", "replay")
"""The keys that choose a target kind."""


def _target_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        keys = [k for k in TARGET_KINDS if k in value]
    else:
        keys = [k for k in TARGET_KINDS if getattr(value, k, None) is not None]
    return keys[0] if len(keys) == 1 else None


TargetSpec = Annotated[
    Annotated[PythonTarget, Tag("python")]
    | Annotated[HttpTarget, Tag("http")]
    | Annotated[CmdTarget, Tag("cmd")]
    | Annotated[ReplayTarget, Tag("replay")],
    Discriminator(
        _target_kind,
        custom_error_type="target_kind",
        custom_error_message=(
            "a target needs exactly one of python, http, cmd or replay, e.g. "
            '{python: "app.model:predict"}'
        ),
    ),
]
"""What an eval calls: a Python callable, an HTTP service, a program, or recorded outputs."""

# ---------------------------------------------------------------------------------- scorers


class _ScorerBase(SpecModel):
    name: MetricName
    """The metric's name: the key in results, gates and baselines. Unique within the suite."""
    field: str | None = None
    """Dotted path into the output (and the expected value) to score, e.g. ``label`` or
    ``answer.text``; default: the whole value. When ``expected`` is not a mapping it is used
    whole."""
    expected_field: str | None = None
    """Dotted path into ``expected`` when it differs from ``field``; ``$`` for all of it."""


class ExactScorer(_ScorerBase):
    """Output equals expected (JSON equality). Deterministic."""

    kind: Literal["exact"]
    """``exact``."""


class NormalizedScorer(_ScorerBase):
    """Text equality after normalisation. Deterministic."""

    kind: Literal["normalized", "normalised"]
    """``normalized`` (or ``normalised``)."""
    case: bool = True
    """Ignore letter case (Unicode case folding)."""
    whitespace: bool = True
    """Trim and collapse runs of whitespace."""
    punctuation: bool = True
    """Drop punctuation."""
    unicode: bool = True
    """Apply Unicode NFKC normalisation."""


class RegexScorer(_ScorerBase):
    """The output matches a regular expression. Deterministic."""

    kind: Literal["regex"]
    """``regex``."""
    pattern: str | None = None
    """The pattern; default: the case's expected value is the pattern."""
    fullmatch: bool = False
    """Require the whole output to match (default: a match anywhere)."""
    ignore_case: bool = False
    """Case-insensitive matching."""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class ContainsScorer(_ScorerBase):
    """The output contains the expected text (or each of a list of texts). Deterministic."""

    kind: Literal["contains"]
    """``contains``."""
    value: str | list[str] | None = None
    """What must be contained; default: the case's expected value (a string or a list)."""
    ignore_case: bool = False
    """Case-insensitive."""
    mode: Literal["all", "any"] = "all"
    """With several values: all of them, or any one."""


class JsonSchemaScorer(_ScorerBase):
    """The output (or a JSON text output, parsed) is valid against a JSON Schema."""

    kind: Literal["json_schema"]
    """``json_schema``."""
    schema_: dict[str, Any] | str = Field(alias="schema")
    """The schema inline, or the path of a schema file relative to the contract."""


class NumericScorer(_ScorerBase):
    """``|output - expected| <= abs_tol + rel_tol * |expected|``. Deterministic."""

    kind: Literal["numeric"]
    """``numeric``."""
    abs_tol: Annotated[float, Field(ge=0)] = 0.0
    """Absolute tolerance."""
    rel_tol: Annotated[float, Field(ge=0)] = 0.0
    """Relative tolerance."""


class ClassificationScorer(_ScorerBase):
    """Per case: the predicted label equals the expected one. Per run: accuracy, precision,
    recall and F1 (macro and micro) and the confusion matrix. Deterministic."""

    kind: Literal["classification"]
    """``classification``."""
    labels: list[str] | None = None
    """The label set in report order; default: every label seen, sorted."""


class TokenF1Scorer(_ScorerBase):
    """Token-overlap F1 between output and expected text (SQuAD style). Deterministic."""

    kind: Literal["token_f1"]
    """``token_f1``."""
    threshold: Annotated[float, Field(ge=0, le=1)] | None = None
    """A case passes when its F1 reaches this; without it the metric is a score only."""


class RougeLScorer(_ScorerBase):
    """ROUGE-L F-measure (longest common token subsequence). Deterministic."""

    kind: Literal["rouge_l"]
    """``rouge_l``."""
    threshold: Annotated[float, Field(ge=0, le=1)] | None = None
    """A case passes when its ROUGE-L reaches this; without it the metric is a score only."""


class JudgeScorer(_ScorerBase):
    """A model grades the output; the judge is any target. Model-graded.

    The judge receives ``{"prompt", "rubric", "input", "output", "expected"}`` (``prompt`` is
    the rubric with ``{{input}}``, ``{{output}}`` and ``{{expected}}`` filled in) and answers
    with a number, a boolean, ``{"score": x, "reason": …}``, ``{"passed": b}`` or text holding
    one of these (``PASS``/``FAIL`` and ``YES``/``NO`` count too). Anything else is an error.
    """

    kind: Literal["judge"]
    """``judge``."""
    target: TargetSpec
    """The judge: any target (python, http, cmd, replay)."""
    rubric: str | None = None
    """Path of the rubric (prompt template) relative to the contract."""
    prompt: str | None = None
    """The rubric inline, instead of ``rubric``."""
    scale: tuple[float, float] = (0.0, 1.0)
    """The judge's score range, mapped onto [0, 1] (e.g. ``[1, 5]``)."""
    threshold: Annotated[float, Field(ge=0, le=1)] = 0.5
    """A case passes when its normalised score reaches this."""
    concurrency: Annotated[int, Field(ge=1, le=1024)] = 4
    """Judge calls in flight at once."""
    pin: str | None = None
    """The expected judge fingerprint (printed by ``monday eval run``). When set and the judge
    changes (target, rubric, scale, version), the run stops: runs graded by different judges
    are not comparable."""

    @model_validator(mode="after")
    def _one_rubric(self) -> JudgeScorer:
        if (self.rubric is None) == (self.prompt is None):
            raise ValueError("give exactly one of rubric (a file) or prompt (inline text)")
        if self.scale[1] <= self.scale[0]:
            raise ValueError("scale must be [low, high] with low < high")
        return self


class PythonScorer(_ScorerBase):
    """Your own scorer, ``module:function``.

    It is called with the keyword arguments it names among ``output``, ``expected``,
    ``input``, ``case`` and ``metadata``, and returns a bool, a number in [0, 1], a
    :class:`mondaytest.evals.Score` or ``{"value", "passed", "reason"}``. ``async def`` works.
    """

    kind: Literal["python"]
    """``python``."""
    function: CallableRef
    """The scorer function, ``module:function``."""
    deterministic: bool = True
    """False when it calls a model (it is then reported as model-graded)."""
    threshold: Annotated[float, Field(ge=0, le=1)] | None = None
    """For numeric results: a case passes when the value reaches this."""
    version: str | None = None
    """Your version string; part of the scorer fingerprint."""


class PiiLeakScorer(_ScorerBase):
    """No personal data in the output, checked with the guard's recognizers (zero tolerance).

    The guard provides this scorer; until it is installed a suite that uses it stops with a
    configuration error instead of passing unchecked.
    """

    kind: Literal["pii_leak"]
    """``pii_leak``."""
    guardrail: str | None = None
    """The guardrail whose entity list is used; default: the decision's guardrails."""


ScorerSpec = Annotated[
    ExactScorer
    | NormalizedScorer
    | RegexScorer
    | ContainsScorer
    | JsonSchemaScorer
    | NumericScorer
    | ClassificationScorer
    | TokenF1Scorer
    | RougeLScorer
    | JudgeScorer
    | PythonScorer
    | PiiLeakScorer,
    Field(discriminator="kind"),
]
"""How one output is scored, chosen by ``kind``."""

# ---------------------------------------------------------------------------------- suites


class SuiteSpec(SpecModel):
    """One eval suite: cases, the system under test, how outputs are scored and judged."""

    version: Annotated[int, Field(ge=1)] = 1
    """The suite's version. Bump it when cases or scoring change meaning: runs of different
    versions are never compared."""
    description: str | None = None
    """What the suite checks, in one line."""
    dataset: str = Field(min_length=1)
    """Path of the cases file (JSONL, CSV or YAML), relative to monday.yaml."""
    target: TargetSpec
    """What is evaluated."""
    scorers: list[ScorerSpec] = Field(min_length=1)
    """How each output is scored; every scorer is one metric."""
    epochs: Annotated[int, Field(ge=1, le=100)] = 1
    """Trials per case. Epochs of one case form one cluster in the statistics."""
    concurrency: Annotated[int, Field(ge=1, le=1024)] = 8
    """Target calls in flight at once."""
    timeout_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    """Timeout of one target call."""
    retries: Annotated[int, Field(ge=0, le=10)] = 2
    """Extra attempts after a failed call (error, timeout, HTTP 429/5xx), with exponential
    backoff. Every failed attempt is recorded in the trial."""
    retry_backoff_s: Annotated[float, Field(ge=0, le=60)] = 0.5
    """First backoff; it doubles per attempt (a ``Retry-After`` header wins)."""
    error_budget: Annotated[float, Field(ge=0, le=1)] | None = None
    """Share of trials that may end in an error. Once exceeded the run stops early and exits 3.
    Default: the gate's ``budgets.error_rate.max``, else 0.1."""
    cache: Literal["rw", "ro", "off"] = "rw"
    """Target-output cache under ``.monday/cache``: read and write, read only, or off."""
    cassette: str | None = None
    """Where ``--record`` writes and ``--replay`` reads outputs; default
    ``evals/cassettes/<suite>.jsonl``."""
    seed: Annotated[int, Field(ge=0, lt=2**53)] = 0
    """Seed of the case order and of ``--sample``; recorded in every run."""
    gate: GateSpec = Field(default_factory=GateSpec)
    """How a run of this suite is judged."""
    baseline: str | None = None
    """The committed baseline; default ``evals/baselines/<suite>.json``."""

    @field_validator("scorers")
    @classmethod
    def _names_unique(cls, value: list[Any]) -> list[Any]:
        seen: set[str] = set()
        for scorer in value:
            if scorer.name in seen:
                raise ValueError(f"scorer name {scorer.name!r} is used twice")
            seen.add(scorer.name)
        return value

    @model_validator(mode="after")
    def _gate_metrics_exist(self) -> SuiteSpec:
        names = {s.name for s in self.scorers}
        for metric in self.gate.metrics():
            if metric not in names:
                raise ValueError(
                    f"the gate refers to metric {metric!r}, but no scorer has that name "
                    f"(scorers: {', '.join(sorted(names))})"
                )
        return self


class EvalsSection(SpecModel):
    """Eval suites keyed by name."""

    suites: dict[str, SuiteSpec] = Field(default_factory=dict)
    """The suites, keyed by suite name."""

    @field_validator("suites")
    @classmethod
    def _suite_names(cls, value: dict[str, SuiteSpec]) -> dict[str, SuiteSpec]:
        for name in value:
            if not re.match(_NAME_RE, name):
                raise ValueError(
                    f"suite name {name!r} must be letters, digits, '-', '_' or '.' (≤ 63)"
                )
        return value
