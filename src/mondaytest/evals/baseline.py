"""The committed baseline: ``evals/baselines/<suite>.json``, per-case outcomes of a blessed run.

Paired tests need per-case data, so a baseline keeps every case's outcome (not aggregates) plus
where it came from. The file is JSON in Monday's restricted profile (no floats: scores, latency
and cost are decimal strings) laid out for review in a pull request: the header, then one case
per line, sorted by id, so a changed case is a one-line diff::

    {
      "schema": "monday.eval.baseline/2",
      "suite": "triage",
      "run_id": "2026-05-01T120000Z-3f2a",
      "created": "2026-05-01T12:07:33Z",
      "spec_digest": "sha256:…",
      "dataset_hash": "sha256:…",
      "fingerprint": null,
      "cases": [
        {"cluster":null,"cost_usd":null,"error":false,"expected_hash":"41aa…","id":"c1",
         "input_hash":"9f2c…","latency_ms":"412",…},
        …
      ]
    }

Schema ``/2`` keeps each case's ``input_hash`` and ``expected_hash`` (as in ``trials.jsonl``), so
the gate can refuse a case edited under the same id without the blessed run's directory.
Schema ``/1`` files (no hashes) are still read; they are written only when the blessed run has
no hashes (e.g. an import that could not compute them). Other schema ids are refused.

Only ``monday eval baseline bless RUN`` (:func:`bless` + :func:`write_baseline`) changes it.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, StrictBool, ValidationError, field_validator

from mondaytest.errors import HarnessError, InputError, Location
from mondaytest.evals.gate_model import CaseOutcome, outcomes_digest
from mondaytest.spec.base import SpecModel

__all__ = [
    "BASELINE_SCHEMA",
    "BASELINE_SCHEMAS",
    "Baseline",
    "BaselineSummary",
    "baseline_path",
    "bless",
    "dumps_baseline",
    "loads_baseline",
    "read_baseline",
    "summarize_baseline",
    "write_baseline",
]

BASELINE_SCHEMA = "monday.eval.baseline/2"
"""The ``schema`` value of the current baseline format (per-case input/expected hashes)."""
BASELINE_SCHEMA_V1 = "monday.eval.baseline/1"
"""The first format: per-case outcomes without hashes (still read)."""
BASELINE_SCHEMAS = (BASELINE_SCHEMA_V1, BASELINE_SCHEMA)
"""Every ``schema`` value this version reads."""
_HASH_RE = r"^[0-9a-f]{64}$"

_SUITE_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"


@dataclass(frozen=True, slots=True)
class Baseline:
    """A blessed run: the per-case outcomes the gate compares a candidate with."""

    suite: str
    """The suite's name (also the file name)."""
    run_id: str
    """The id of the run that was blessed."""
    created: datetime
    """When it was blessed (UTC)."""
    spec_digest: str | None
    """Digest of the contract the run was made under."""
    dataset_hash: str | None
    """Hash of the dataset the run read."""
    fingerprint: str | None
    """The run's comparability fingerprint, if the runner computed one."""
    outcomes: tuple[CaseOutcome, ...]
    """One outcome per case, sorted by id."""
    case_hashes: Mapping[str, tuple[str, str]] | None = None
    """Case id → ``(input_hash, expected_hash)`` (hex SHA-256, as in ``trials.jsonl``) for every
    case; None for a schema ``/1`` baseline, which cannot tell an edited case from its
    original."""

    @property
    def schema(self) -> str:
        """The schema id this baseline is written with (``/1`` when it has no hashes)."""
        return BASELINE_SCHEMA if self.case_hashes is not None else BASELINE_SCHEMA_V1

    def digest(self) -> str:
        """``sha256:…`` of the outcomes (what an ``eval_gate`` entry records as its baseline)."""
        return outcomes_digest(self.outcomes)


def baseline_path(root: str | os.PathLike[str], suite: str) -> Path:
    """Where a suite's baseline lives: ``<root>/evals/baselines/<suite>.json``."""
    if re.match(_SUITE_RE, suite) is None:
        raise InputError(
            f"suite name {suite!r} cannot name a baseline file",
            hint="use letters, digits, '.', '_' and '-'",
        )
    return Path(root) / "evals" / "baselines" / f"{suite}.json"


def bless(
    outcomes: Iterable[CaseOutcome],
    *,
    suite: str,
    run_id: str,
    spec_digest: str | None,
    dataset_hash: str | None,
    fingerprint: str | None = None,
    created: datetime | None = None,
    case_hashes: Mapping[str, tuple[str, str]] | None = None,
) -> Baseline:
    """Make a :class:`Baseline` from a run's outcomes (refusing an empty run or duplicate ids).

    ``case_hashes`` (id → ``(input_hash, expected_hash)``) must cover every case when given;
    without it the baseline is written as schema ``/1``.
    """
    baseline_path(".", suite)  # validates the name
    items = sorted(outcomes, key=lambda o: o.id)
    if not items:
        raise InputError(
            f"run {run_id!r} has no cases: there is nothing to bless",
            hint="a baseline of zero cases would make every comparison vacuous",
        )
    for before, after in itertools.pairwise(items):
        if before.id == after.id:
            raise HarnessError(f"case id {after.id!r} appears twice in run {run_id!r}")
    hashes: dict[str, tuple[str, str]] | None = None
    if case_hashes is not None:
        hashes = {}
        for item in items:
            pair = case_hashes.get(item.id)
            if pair is None or not all(re.match(_HASH_RE, h) for h in pair):
                raise HarnessError(
                    f"case {item.id!r} of run {run_id!r} has no input/expected hash to bless",
                    hint="every trial needs input_hash and expected_hash (hex SHA-256)",
                )
            hashes[item.id] = (pair[0], pair[1])
    when = created if created is not None else datetime.now(UTC)
    if when.tzinfo is None:
        raise InputError("the blessing time must carry a time zone")
    return Baseline(
        suite=suite,
        run_id=run_id,
        created=when.astimezone(UTC).replace(microsecond=0),
        spec_digest=spec_digest,
        dataset_hash=dataset_hash,
        fingerprint=fingerprint,
        outcomes=tuple(items),
        case_hashes=hashes,
    )


# --------------------------------------------------------------------------------------------
# Writing


def _utc_text(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def dumps_baseline(baseline: Baseline) -> str:
    """The file text: header keys one per line, then one canonical JSON object per case."""
    header = {
        "schema": baseline.schema,
        "suite": baseline.suite,
        "run_id": baseline.run_id,
        "created": _utc_text(baseline.created),
        "spec_digest": baseline.spec_digest,
        "dataset_hash": baseline.dataset_hash,
        "fingerprint": baseline.fingerprint,
    }
    lines = ["{"]
    for key, value in header.items():
        lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},")
    lines.append('  "cases": [')
    hashes = baseline.case_hashes
    records = [
        o.record_json() if hashes is None else _with_hashes(o.record_json(), *hashes[o.id])
        for o in baseline.outcomes
    ]
    lines.extend(f"    {text}," for text in records[:-1])
    lines.extend(f"    {text}" for text in records[-1:])
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _with_hashes(record: str, input_hash: str, expected_hash: str) -> str:
    """Splice the hashes into a canonical case record, keeping its keys sorted.

    ``,"id":`` and ``,"latency_ms":`` occur once outside strings (inside a JSON string the quotes
    would be escaped), and the sorted order is ``error``, ``expected_hash``, ``id``,
    ``input_hash``, ``latency_ms``.
    """
    head, _, rest = record.partition(',"id":')
    middle, _, tail = rest.partition(',"latency_ms":')
    return (
        f'{head},"expected_hash":"{expected_hash}","id":{middle},'
        f'"input_hash":"{input_hash}","latency_ms":{tail}'
    )


def write_baseline(path: str | os.PathLike[str], baseline: Baseline) -> Path:
    """Write ``baseline`` to ``path`` atomically (a temporary file renamed into place)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = dumps_baseline(baseline)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


# --------------------------------------------------------------------------------------------
# Reading


def _decimal_text(value: Any) -> Any:
    """Accept decimal strings and integers; refuse floats (the format has none)."""
    if isinstance(value, bool):
        raise ValueError("expected a decimal string, found a boolean")
    if isinstance(value, float):
        raise ValueError(f'floats are not allowed: write "{value}" as a string')
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise ValueError("expected a decimal string")
    try:
        parsed = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number") from None
    if not parsed.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return value


DecimalText = Annotated[str, BeforeValidator(_decimal_text)]
"""A finite decimal number written as a string (integers are accepted)."""


class _CaseRecord(SpecModel):
    """One case of a baseline file."""

    id: str = Field(min_length=1)
    """Case id."""
    passed: StrictBool
    """The case's overall verdict."""
    scores: dict[str, DecimalText] = Field(default_factory=dict)
    """Scorer name → score in [0, 1], as a decimal string."""
    tags: list[str] = Field(default_factory=list)
    """Tags of the case."""
    cluster: str | None = None
    """Cluster key, if any."""
    error: StrictBool = False
    """The case ended in an error."""
    latency_ms: DecimalText | None = None
    """Latency in milliseconds."""
    cost_usd: DecimalText | None = None
    """Cost in US dollars."""
    input_hash: str | None = Field(default=None, pattern=_HASH_RE)
    """SHA-256 (hex) of the case's canonical input; required from schema ``/2``."""
    expected_hash: str | None = Field(default=None, pattern=_HASH_RE)
    """SHA-256 (hex) of the case's canonical expected value; required from schema ``/2``."""

    @field_validator("scores")
    @classmethod
    def _in_unit_interval(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not Decimal(0) <= Decimal(text) <= Decimal(1):
                raise ValueError(f"score {name!r} = {text} is outside [0, 1]")
        return value

    @field_validator("latency_ms", "cost_usd")
    @classmethod
    def _non_negative(cls, value: str | None) -> str | None:
        if value is not None and Decimal(value) < 0:
            raise ValueError("must be >= 0")
        return value

    def outcome(self) -> CaseOutcome:
        """The gate's view of this case."""
        return CaseOutcome(
            id=self.id,
            passed=self.passed,
            scores={k: float(v) for k, v in self.scores.items()},
            tags=tuple(self.tags),
            cluster=self.cluster,
            error=self.error,
            latency_ms=None if self.latency_ms is None else float(self.latency_ms),
            cost_usd=None if self.cost_usd is None else Decimal(self.cost_usd),
        )


class _BaselineRecord(SpecModel):
    """A whole baseline file."""

    schema_: Literal["monday.eval.baseline/1", "monday.eval.baseline/2"] = Field(alias="schema")
    """Format version."""
    suite: str = Field(pattern=_SUITE_RE)
    """Suite name."""
    run_id: str = Field(min_length=1)
    """Blessed run."""
    created: datetime
    """When it was blessed, with a time zone."""
    spec_digest: str | None = None
    """Contract digest."""
    dataset_hash: str | None = None
    """Dataset hash."""
    fingerprint: str | None = None
    """Comparability fingerprint."""
    cases: list[_CaseRecord] = Field(min_length=1)
    """Per-case outcomes."""

    @field_validator("created")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2026-05-01T12:00:00Z")
        return value


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + ("schema" if part == "schema_" else str(part))
    return out or "$"


def _line_of_case(text: str, data: Any, index: int) -> int:
    """Best-effort line of ``cases[index]`` in ``text`` (0 when unknown)."""
    try:
        case_id = data["cases"][index]["id"]
    except (KeyError, IndexError, TypeError):
        return 0
    if not isinstance(case_id, str):
        return 0
    pattern = re.compile(r'"id"\s*:\s*' + re.escape(json.dumps(case_id, ensure_ascii=False)))
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.search(line):
            return number
    return 0


def _line_of_key(text: str, key: str) -> int:
    """Line of the top-level ``"key":`` in ``text`` as :func:`dumps_baseline` lays it out."""
    needle = f"  {json.dumps(key)}:"
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(needle):
            return number
    return 0


def loads_baseline(text: str, *, source: str = "<baseline>", suite: str | None = None) -> Baseline:
    """Parse and validate baseline ``text``; errors name ``source`` with a line where known."""
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON: {exc.msg}",
            location=Location(source, exc.lineno, exc.colno),
            hint="a baseline is written by `monday eval baseline bless`; re-bless rather than "
            "editing by hand",
        ) from None
    except ValueError as exc:
        raise InputError(str(exc), location=Location(source)) from None
    if not isinstance(data, dict):
        raise InputError("a baseline must be a JSON object", location=Location(source, 1))
    schema = data.get("schema")
    if (
        isinstance(schema, str)
        and schema.startswith("monday.eval.baseline/")
        and schema not in BASELINE_SCHEMAS
    ):
        raise InputError(
            f"baseline schema {schema!r} is not one this Monday reads "
            f"({', '.join(BASELINE_SCHEMAS)})",
            location=Location(source, _line_of_key(text, "schema")),
            field="schema",
            hint="upgrade mondaytest, or re-bless the baseline with this version",
        )
    try:
        record = _BaselineRecord.model_validate(data)
    except ValidationError as exc:
        problems = exc.errors()
        first = problems[0]
        loc = tuple(first["loc"])
        line = 0
        if len(loc) >= 2 and loc[0] == "cases" and isinstance(loc[1], int):
            line = _line_of_case(text, data, loc[1])
        elif loc:
            line = _line_of_key(text, "schema" if loc[0] == "schema_" else str(loc[0]))
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise InputError(
            f"{first['msg'].removeprefix('Value error, ')}{more}",
            location=Location(source, line),
            field=_dotted(loc),
        ) from None
    ids: set[str] = set()
    v2 = record.schema_ == BASELINE_SCHEMA
    for i, case in enumerate(record.cases):
        if case.id in ids:
            raise InputError(
                f"case id {case.id!r} appears twice",
                location=Location(source, _line_of_case(text, data, i)),
                field=f"cases[{i}].id",
            )
        ids.add(case.id)
        for key in ("input_hash", "expected_hash"):
            if (getattr(case, key) is None) == v2:
                raise InputError(
                    f"case {case.id!r} has no {key} (schema {record.schema_} requires it)"
                    if v2
                    else f"case {case.id!r} has an {key}, which schema {record.schema_} does not "
                    f"have (use {BASELINE_SCHEMA})",
                    location=Location(source, _line_of_case(text, data, i)),
                    field=f"cases[{i}].{key}",
                    hint="a baseline is written by `monday eval baseline bless`; re-bless rather "
                    "than editing by hand",
                )
    if suite is not None and record.suite != suite:
        raise InputError(
            f"this baseline is for suite {record.suite!r}, not {suite!r}",
            location=Location(source),
            field="suite",
        )
    return Baseline(
        suite=record.suite,
        run_id=record.run_id,
        created=record.created.astimezone(UTC),
        spec_digest=record.spec_digest,
        dataset_hash=record.dataset_hash,
        fingerprint=record.fingerprint,
        outcomes=tuple(sorted((c.outcome() for c in record.cases), key=lambda o: o.id)),
        case_hashes={c.id: (c.input_hash or "", c.expected_hash or "") for c in record.cases}
        if v2
        else None,
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (and not a number Monday accepts)")


def read_baseline(path: str | os.PathLike[str], *, suite: str | None = None) -> Baseline:
    """Read and validate a baseline file (InputError, exit 2, when missing or malformed)."""
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            f"no baseline at {target}",
            hint="bless one with `monday eval baseline bless RUN`",
        ) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text: {exc.reason}", location=Location(str(target))) from None
    except OSError as exc:
        raise InputError(f"cannot read {target}: {exc.strerror}") from None
    return loads_baseline(text, source=str(target), suite=suite)


@dataclass(frozen=True, slots=True)
class BaselineSummary:
    """What a baseline holds, in numbers: where it came from, its cases and metric means."""

    schema: str
    """The schema id it is written with."""
    has_case_hashes: bool
    """It keeps per-case input/expected hashes (schema ``/2``), so edited cases are caught."""
    suite: str
    """The suite's name."""
    path: Path
    """The baseline file."""
    run_id: str
    """The blessed run."""
    created: str
    """When it was blessed (ISO 8601)."""
    cases: int
    """Cases it holds."""
    passed: int
    """Cases that passed."""
    errored: int
    """Cases that errored."""
    metrics: dict[str, float]
    """Mean of each score over the cases that have it, by metric name (sorted)."""
    spec_digest: str | None
    """Digest of the contract the run was made under."""
    dataset_hash: str | None
    """Hash of the dataset the run read."""
    fingerprint: str | None
    """The run's comparability fingerprint."""
    digest: str
    """``sha256:…`` of the outcomes."""

    def to_json(self) -> dict[str, Any]:
        """JSON form (``case_hashes`` is the flag :attr:`has_case_hashes`)."""
        return {
            "schema": self.schema,
            "case_hashes": self.has_case_hashes,
            "suite": self.suite,
            "path": str(self.path),
            "run_id": self.run_id,
            "created": self.created,
            "cases": self.cases,
            "passed": self.passed,
            "errored": self.errored,
            "metrics": self.metrics,
            "spec_digest": self.spec_digest,
            "dataset_hash": self.dataset_hash,
            "fingerprint": self.fingerprint,
            "digest": self.digest,
        }


def summarize_baseline(baseline: Baseline, path: str | os.PathLike[str]) -> BaselineSummary:
    """The :class:`BaselineSummary` of ``baseline``, read from (or written to) ``path``."""
    metrics: dict[str, list[float]] = {}
    for o in baseline.outcomes:
        for name, value in o.scores.items():
            metrics.setdefault(name, []).append(value)
    return BaselineSummary(
        schema=baseline.schema,
        has_case_hashes=baseline.case_hashes is not None,
        suite=baseline.suite,
        path=Path(path),
        run_id=baseline.run_id,
        created=baseline.created.isoformat(),
        cases=len(baseline.outcomes),
        passed=sum(1 for o in baseline.outcomes if o.passed),
        errored=sum(1 for o in baseline.outcomes if o.error),
        metrics={k: sum(v) / len(v) for k, v in sorted(metrics.items())},
        spec_digest=baseline.spec_digest,
        dataset_hash=baseline.dataset_hash,
        fingerprint=baseline.fingerprint,
        digest=baseline.digest(),
    )
