"""The eval data model: a :class:`Case`, the :class:`Output` a target may return, a
:class:`Score` a scorer gives, and the hashes that make runs comparable."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from _json import make_encoder
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any

__all__ = [
    "MISSING",
    "Case",
    "Output",
    "Score",
    "canonical_hash",
    "dumps",
    "dumps_record",
    "jsonable",
]


class _Missing:
    """The type of :data:`MISSING`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""Marks an absent ``expected`` (different from ``null``)."""

_encode_sorted = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# The C encoder built once (json.dumps builds one per call); no circular-reference check, so it
# is only used for Monday's own records, whose values are already plain JSON.
_record_encoder = make_encoder(
    None, _refuse, encode_basestring, None, ":", ",", False, False, False
)


def dumps(value: Any) -> str:
    """Compact JSON text (key order kept), as written to ``trials.jsonl``."""
    return _encode(value)


def dumps_record(value: dict[str, Any]) -> str:
    """Like :func:`dumps` for Monday's own plain-JSON records, faster."""
    return "".join(_record_encoder(value, 0))


_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def canonical_hash(value: Any) -> str:
    """SHA-256 hex of the sorted, compact JSON of ``value`` (``MISSING`` hashes as absent)."""
    if type(value) is str:
        return hashlib.sha256(encode_basestring(value).encode("utf-8")).hexdigest()
    if value is MISSING:
        return _EMPTY_SHA256
    return hashlib.sha256(_encode_sorted(value).encode("utf-8")).hexdigest()


@dataclass(slots=True)
class Case:
    """One eval case as read from the dataset.

    ``id`` is unique and stable; it is how runs are paired. ``expected`` is :data:`MISSING`
    when the case has none (``null`` is a value).
    """

    id: str
    """The case id (integers in the file become strings)."""
    input: Any
    """What the target receives: any JSON."""
    expected: Any = MISSING
    """The reference answer: any JSON, or :data:`MISSING`."""
    tags: tuple[str, ...] = ()
    """Labels for slicing and gating (``critical`` cases must pass)."""
    cluster: str | None = None
    """Cases sharing a cluster are not independent (same template, same passage)."""
    weight: float = 1.0
    """Weight in weighted means (> 0)."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Anything else the dataset carries for the case; passed to custom scorers."""
    line: int = 0
    """Line (or row) in the dataset file where the case starts."""

    def input_hash(self) -> str:
        """SHA-256 of the canonical JSON of ``input``."""
        return canonical_hash(self.input)

    def expected_hash(self) -> str:
        """SHA-256 of the canonical JSON of ``expected`` (of the empty string when missing)."""
        return canonical_hash(self.expected)


@dataclass(slots=True, frozen=True)
class Output:
    """What a Python target may return to report more than the output itself."""

    value: Any
    """The output that is scored and stored."""
    cost: float | None = None
    """Money spent producing it, in US dollars."""
    usage: dict[str, Any] | None = None
    """Token counts or other usage, stored with the trial."""


@dataclass(slots=True)
class Score:
    """One scorer's verdict on one output.

    ``value`` is in [0, 1] (1 best); ``passed`` is None for metrics that are scores only;
    ``error`` means the scorer could not score (a harness problem, never a quality verdict).
    """

    value: float | None
    """Normalised score in [0, 1]."""
    passed: bool | None = None
    """Pass/fail verdict, when the metric has one."""
    reason: str | None = None
    """Why, in a few words (shown in reports)."""
    label: str | None = None
    """The predicted label (classification scorers)."""
    expected_label: str | None = None
    """The true label (classification scorers)."""
    raw: Any = None
    """The raw value before normalisation (e.g. a 1–5 judge score)."""
    error: str | None = None
    """Why scoring failed."""

    def to_json(self) -> dict[str, Any]:
        """The compact JSON form written into ``trials.jsonl`` (absent fields omitted)."""
        out: dict[str, Any] = {"value": self.value}
        if self.passed is not None:
            out["passed"] = self.passed
        if self.reason is not None:
            out["reason"] = self.reason
        if self.label is not None:
            out["label"] = self.label
        if self.expected_label is not None:
            out["expected_label"] = self.expected_label
        if self.raw is not None:
            out["raw"] = self.raw
        if self.error is not None:
            out["error"] = self.error
        return out


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: dataclasses and pydantic models as objects, tuples and sets
    as lists, non-finite floats and unknown objects as text. Outputs are scored in this form,
    so a live run, a cached one and a replayed one score identically."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        items = [jsonable(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return jsonable(dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    return repr(value)
