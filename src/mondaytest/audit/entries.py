"""Log entries: the ``monday.audit/v1`` envelope and the registry of entry kinds.

Every leaf of the log is one entry: a JSON object in Monday's restricted profile (see
:mod:`mondaytest._util.canonical`), at most :data:`MAX_ENTRY_BYTES` of canonical bytes.

There are two entry types:

``decision``
    one model decision that touched a customer. Its payload is :class:`DecisionPayload`, and
    its envelope carries ``config_idx``: the index of the last *configuration* state change in
    force when the decision was sequenced.

``state_change``
    a change of state somewhere in the governed system. Its ``kind`` names a registered payload
    model (``model_version``, ``waiver``, ``erasure``, …) and its envelope says whether the kind
    is *configuration* (``"config": true``): model versions, guardrail configs, waivers,
    prompts and thresholds are; access, page and incident entries are not.

The envelope::

    {"v": "monday.audit/v1", "type": "state_change", "kind": "model_version", "config": true,
     "idx": 41873, "log": "<origin>", "id": "<uuidv7>", "ts": "2026-11-26T09:47:12.123456Z",
     "actor": "tok:…", "payload": {…}}

``idx`` and ``config_idx`` are filled in by the store inside its write transaction, so they are
always the true position in the tree and the true configuration in force, even when several
processes append at once. Entries never carry raw personal data: subjects and reviewers are
tokens, inputs and outputs salted commitments (see :mod:`mondaytest.audit.vault`).

Domains register their own kinds with :func:`register_kind`; the kinds listed in
ARCHITECTURE.md are pre-registered here with small payload models a domain may replace
(``replace=True``) with a richer one.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError
from pydantic_core import SchemaValidator
from pydantic_core import ValidationError as CoreValidationError
from pydantic_core import core_schema as cs

from mondaytest._util.canonical import (
    MAX_DEPTH,
    MAX_SAFE_INT,
    ProfileError,
    canonical_json,
    check_profile,
    in_plain_profile,
    in_profile,
    plain_value,
)
from mondaytest._util.gcpause import gc_paused
from mondaytest.errors import InputError

__all__ = [
    "ENTRY_SCHEMA",
    "KIND_PLUGIN_GROUP",
    "MAX_ENTRY_BYTES",
    "AccessPayload",
    "DecisionPayload",
    "DrillPayload",
    "Entry",
    "EntryDraft",
    "EntryFormatError",
    "ErasurePayload",
    "EvalGatePayload",
    "FailOpenPayload",
    "GuardrailConfigPayload",
    "GuardrailResult",
    "IncidentPayload",
    "KeyRotationPayload",
    "KindInfo",
    "LogGenesisPayload",
    "ModelRef",
    "ModelVersionPayload",
    "OncallOverridePayload",
    "PagePayload",
    "Payload",
    "PromptPayload",
    "ReadinessPayload",
    "RetentionPayload",
    "SpecRef",
    "ThresholdPayload",
    "WaiverPayload",
    "decode_entry",
    "draft_decision",
    "draft_entry",
    "draft_many",
    "draft_state_change",
    "encode_entry",
    "is_config_kind",
    "kind_info",
    "kinds",
    "load_kind_plugins",
    "register_kind",
    "utc_timestamp",
]

ENTRY_SCHEMA = "monday.audit/v1"
"""The schema id in every entry's ``v`` field."""

MAX_ENTRY_BYTES = 65535
"""Largest canonical entry: tlog-tiles entry bundles prefix each entry with a uint16 length."""

_SEQUENCE_RESERVE = 48
"""Bytes kept free at submission for the ``idx`` and ``config_idx`` the store adds later."""


class Payload(BaseModel):
    """Base of every payload model: strict types, unknown fields refused, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# --------------------------------------------------------------------------------------------
# Decisions
# --------------------------------------------------------------------------------------------


class SpecRef(Payload):
    """Which contract governed the decision."""

    commit: str | None = None
    """Git commit of the repository holding monday.yaml."""
    digest: str | None = None
    """``sha256:<hex>`` of the loaded contract."""


class ModelRef(Payload):
    """Which model made the decision."""

    id: str
    """Model id, as named in the contract."""
    version: str
    """Model version string."""
    digest: str | None = None
    """``sha256:<hex>`` of the model artefact, when known."""


class GuardrailResult(Payload):
    """The outcome of one guardrail on this decision."""

    id: str
    """Guardrail id (``pii``, ``pii@3``)."""
    result: str
    """``pass``, ``redacted``, ``block``, ``error`` …"""


class DecisionPayload(Payload):
    """One customer-touching decision: operational facts, tokens and commitments only."""

    decision: str
    """The decision point's id in the contract (``triage``)."""
    system: str | None = None
    """The governed system's name."""
    env: str | None = None
    """Deployment environment (``prod``)."""
    spec: SpecRef | None = None
    """The contract in force."""
    model: ModelRef | None = None
    """The model that decided."""
    guardrails: list[GuardrailResult] = Field(default_factory=list)
    """Guardrail outcomes, in the order they ran."""
    subject: str | None = Field(default=None, pattern=r"^tok:[A-Za-z0-9_-]+$")
    """The data subject as a random token (``tok:…``), never an identifier."""
    input: str | None = Field(default=None, pattern=r"^c:[A-Za-z0-9+/=_-]+$")
    """Salted commitment to the input (``c:…``); the raw value lives in the vault."""
    output: str | None = Field(default=None, pattern=r"^c:[A-Za-z0-9+/=_-]+$")
    """Salted commitment to the output (``c:…``)."""
    outcome: dict[str, JsonValue] = Field(default_factory=dict)
    """The decision's non-personal result, e.g. ``{"code": "refer", "human_review": true}``."""
    reviewer: str | None = Field(default=None, pattern=r"^tok:[A-Za-z0-9_-]+$")
    """The human reviewer as a token, if one reviewed."""
    vault: str | None = None
    """Opaque reference to the vault record holding raw values."""
    latency_ms: int | None = None
    """End-to-end latency of the decision in milliseconds."""


# --------------------------------------------------------------------------------------------
# State-change payloads (core kinds and minimal models for the domains' kinds)
# --------------------------------------------------------------------------------------------


class LogGenesisPayload(Payload):
    """Entry 0 of every log: what the log is and how it is governed."""

    origin: str
    """The log's origin (checkpoint first line)."""
    vkey: str | None = None
    """The verifier key the log signs with."""
    spec: SpecRef | None = None
    """The contract that created the log."""
    retention: str | None = None
    """Retention policy in force (ISO 8601 duration)."""


class KeyRotationPayload(Payload):
    """The log's signing key changes (planned rotation; dual-signed window)."""

    phase: Literal["start", "finish"]
    """``start``: checkpoints are signed by both keys; ``finish``: only the new key signs."""
    old_vkey: str
    """The key being retired."""
    new_vkey: str
    """The key taking over."""
    reason: str | None = None
    """Why (``scheduled``, ``compromise`` …)."""
    old_sig: str = Field(pattern=r"^[A-Za-z0-9+/]{86}==$")
    """The old key's Ed25519 signature (base64) over the rotation statement: it vouches for
    the new key (see :mod:`mondaytest.audit.rotation_proof`)."""
    new_sig: str = Field(pattern=r"^[A-Za-z0-9+/]{86}==$")
    """The new key's signature over the same statement: its holder made this rotation."""


class ErasurePayload(Payload):
    """Vault material of one subject was erased (GDPR Art. 17); the leaf holds no personal data."""

    subject: str = Field(pattern=r"^tok:[A-Za-z0-9_-]+$")
    """The subject's token."""
    scope: str = "all"
    """What was erased (``all`` or a record reference)."""
    legal_basis_ref: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._:/#-]{1,64}$",
        description="a ticket or request id (letters, digits and ._:/#-, at most 64), never "
        "its content: the entry is permanent, so no names or addresses",
    )
    """Reference to the request or legal basis: a ticket id (letters, digits, ``._:/#-``, at
    most 64), never its content (the entry is permanent: no names or addresses in it)."""
    records: int = 0
    """How many vault records were destroyed."""


class RetentionPayload(Payload):
    """Retention was enforced: entries below ``min_index`` are no longer served."""

    policy: str
    """Retention policy (ISO 8601 duration)."""
    min_index: int
    """New minimum index served (tlog-tiles pruning)."""
    expired_records: int = 0
    """Vault records shredded by this run."""
    expired_subjects: int | None = None
    """Vault subjects (token mappings and data keys) deleted by this run: none of their values
    left and not used since the cut-off."""


class AccessPayload(Payload):
    """Someone read vault material or exported the log."""

    purpose: str
    """Why (``dsar``, ``regulator``, ``debug`` …)."""
    record: str | None = None
    """What was read (vault reference or entry index)."""
    via: str | None = None
    """Which surface (``cli``, ``server``)."""


class ModelVersionPayload(Payload):
    """A new model version goes into service."""

    model: str
    """Model id."""
    version: str
    """The new version."""
    digest: str | None = None
    """``sha256:<hex>`` of the artefact."""
    previous: str | None = None
    """The version it replaces."""
    eval_gate_idx: int | None = None
    """Index of the ``eval_gate`` entry that approved it."""
    approval: str | None = None
    """Change request or PR that approved it."""


class GuardrailConfigPayload(Payload):
    """A guardrail's configuration changed."""

    guardrail: str
    """Guardrail id."""
    digest: str
    """``sha256:<hex>`` of the new configuration."""
    before: str | None = None
    """Digest of the configuration it replaces."""
    approval: str | None = None
    """Change request or PR that approved it."""


class WaiverPayload(Payload):
    """A waiver was granted or revoked."""

    action: Literal["grant", "revoke"]
    """Grant or revoke."""
    target: str
    """What is waived (``guardrail:pii``, ``eval:triage/label``)."""
    reason: str
    """Why."""
    approver: str
    """Who approved (person id or token)."""
    expires: str | None = None
    """When the waiver lapses (RFC 3339)."""
    signature: str | None = None
    """Approver's signature over the waiver, when signed."""


class PromptPayload(Payload):
    """A prompt template changed."""

    prompt: str
    """Prompt name."""
    digest: str
    """``sha256:<hex>`` of the new template."""
    before: str | None = None
    """Digest it replaces."""


class ThresholdPayload(Payload):
    """A decision threshold changed."""

    name: str
    """Threshold name."""
    value: str
    """New value as a decimal string (no floats in entries)."""
    before: str | None = None
    """Previous value."""


class EvalGatePayload(Payload):
    """The verdict of an eval gate run."""

    suite: str
    """Suite name."""
    run: str
    """Run id."""
    result: Literal["pass", "fail", "inconclusive", "error"]
    """Gate verdict."""
    report: str | None = None
    """``sha256:<hex>`` of ``run.json``."""
    spec: SpecRef | None = None
    """Contract in force."""


class FailOpenPayload(Payload):
    """Decisions went ahead without their audit records (``fail_mode: open``)."""

    reason: str
    """The error that stopped the writes."""
    lost: int
    """How many entries could not be written."""
    since: str
    """First failure (RFC 3339)."""
    until: str
    """When writing worked again (RFC 3339)."""


class PagePayload(Payload):
    """Someone was paged."""

    page: str
    """Page id."""
    severity: str
    """Severity (``P1`` …)."""
    target: str
    """Who or which rotation was notified."""
    drill: bool = False
    """True when part of a drill."""


class IncidentPayload(Payload):
    """An incident changed state."""

    incident: str
    """Incident id."""
    state: str
    """New state (``open``, ``acknowledged``, ``resolved`` …)."""
    severity: str | None = None
    """Severity."""


class OncallOverridePayload(Payload):
    """An on-call shift was overridden."""

    rotation: str
    """Rotation name."""
    who: str
    """Person taking the shift."""
    start: str
    """Start (RFC 3339)."""
    end: str
    """End (RFC 3339)."""
    reason: str | None = None
    """Why."""


class DrillPayload(Payload):
    """A drill ran."""

    scenario: str
    """Scenario id."""
    run: str
    """Run id."""
    result: str
    """Outcome."""


class ReadinessPayload(Payload):
    """A readiness verdict was recorded."""

    verdict: str
    """``production`` or ``rehearsal`` …"""
    report: str | None = None
    """``sha256:<hex>`` of the report."""


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KindInfo:
    """A registered state-change kind."""

    name: str
    """Kind name as written in entries."""
    model: type[Payload]
    """The payload model."""
    config: bool
    """True when the kind is configuration a decision runs under."""
    doc: str
    """One line on what the kind records."""
    config_key: str | None = None
    """For a configuration kind, the payload field naming the thing configured (``model`` of a
    ``model_version``): a later entry of the same kind and key supersedes an earlier one. None:
    the kind configures one thing, its newest entry is in force."""


_REGISTRY: dict[str, KindInfo] = {}


def register_kind(
    name: str,
    payload_model: type[Payload],
    *,
    config: bool,
    replace: bool = False,
    config_key: str | None = None,
) -> KindInfo:
    """Register a state-change kind and its payload model.

    ``config=True`` marks configuration (a decision's ``config_idx`` may point at it);
    ``config_key`` names the payload field that says what is configured (see
    :attr:`KindInfo.config_key`). Use ``replace=True`` to swap in a richer model for a kind
    pre-registered here; a replacement without ``config_key`` keeps the one it replaces.
    """
    if not name.isascii() or not name.replace("_", "").isalnum() or not name.islower():
        raise ValueError(f"kind name {name!r} must be lower-case ASCII letters, digits and '_'")
    if name == "decision":
        raise ValueError("the kind name 'decision' is reserved for decision entries")
    if name in _REGISTRY and not replace:
        raise ValueError(f"entry kind {name!r} is already registered (pass replace=True)")
    if not (isinstance(payload_model, type) and issubclass(payload_model, BaseModel)):
        raise TypeError("payload_model must be a pydantic model class")
    doc = (payload_model.__doc__ or "").strip().splitlines()[0] if payload_model.__doc__ else ""
    if config_key is None and name in _REGISTRY:
        config_key = _REGISTRY[name].config_key
    if config_key is not None and config_key not in payload_model.model_fields:
        raise ValueError(f"config_key {config_key!r} is not a field of {payload_model.__name__}")
    info = KindInfo(name=name, model=payload_model, config=config, doc=doc, config_key=config_key)
    _REGISTRY[name] = info
    return info


KIND_PLUGIN_GROUP = "mondaytest.audit_kinds"
"""Entry-point group through which a domain registers its kinds (``pyproject.toml``)."""

_plugins_loaded = False


def load_kind_plugins() -> None:
    """Import every module registered under :data:`KIND_PLUGIN_GROUP`, once.

    Domains above ``audit`` (evals' ``eval_gate`` and ``model_version``, later the guard and
    on-call kinds) register their payload models when imported; listing them as entry points
    lets the log validate their entries without ``audit`` importing them. Called on the first
    kind lookup, so every entry is drafted under the final models.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for point in entry_points(group=KIND_PLUGIN_GROUP):
        point.load()


def kinds() -> dict[str, KindInfo]:
    """All registered kinds, by name."""
    load_kind_plugins()
    return dict(_REGISTRY)


def kind_info(name: str) -> KindInfo:
    """The registered kind ``name``; :class:`InputError` naming the known kinds otherwise."""
    load_kind_plugins()
    info = _REGISTRY.get(name)
    if info is None:
        known = ", ".join(sorted(_REGISTRY))
        raise InputError(
            f"unknown entry kind {name!r}",
            hint=f"known kinds: {known}; a domain registers its own with register_kind()",
            field="kind",
        )
    return info


def is_config_kind(name: str) -> bool:
    """True when ``name`` is a registered configuration kind."""
    load_kind_plugins()
    info = _REGISTRY.get(name)
    return info is not None and info.config


_CORE_KINDS: tuple[tuple[str, type[Payload], bool, str | None], ...] = (
    ("log_genesis", LogGenesisPayload, True, None),
    ("key_rotation", KeyRotationPayload, False, None),
    ("erasure", ErasurePayload, False, None),
    ("retention", RetentionPayload, False, None),
    ("access", AccessPayload, False, None),
    ("model_version", ModelVersionPayload, True, "model"),
    ("guardrail_config", GuardrailConfigPayload, True, "guardrail"),
    ("waiver", WaiverPayload, True, "target"),
    ("prompt", PromptPayload, True, "prompt"),
    ("threshold", ThresholdPayload, True, "name"),
    ("eval_gate", EvalGatePayload, False, None),
    ("fail_open", FailOpenPayload, False, None),
    ("page", PagePayload, False, None),
    ("incident", IncidentPayload, False, None),
    ("oncall_override", OncallOverridePayload, False, None),
    ("drill", DrillPayload, False, None),
    ("readiness", ReadinessPayload, False, None),
)

for _name, _model, _config, _key in _CORE_KINDS:
    register_kind(_name, _model, config=_config, config_key=_key)


# --------------------------------------------------------------------------------------------
# Drafts, encoding, decoding
# --------------------------------------------------------------------------------------------


_SECOND: tuple[int, str] = (-1, "")
"""The last whole second formatted by :func:`utc_timestamp` (formatting it is the slow part)."""


def utc_timestamp(now: float | None = None) -> str:
    """RFC 3339 UTC timestamp with microseconds and a ``Z``."""
    global _SECOND
    micros = time.time_ns() // 1000 if now is None else round(now * 1_000_000)
    seconds, frac = divmod(micros, 1_000_000)
    cached = _SECOND  # one tuple: a racing thread sees an old pair or a new one, never a mix
    if cached[0] != seconds:
        cached = _SECOND = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{cached[1]}.{frac:06d}Z"


_RNG = random.Random(os.urandom(32))
"""Random bits of entry ids (unique, not secret); reseeded in every forked child."""

_SEQ_BITS = 74
"""Bits after the timestamp that are not version or variant (RFC 9562 ``rand_a`` + ``rand_b``)."""
_SEQ_START_BITS = 72
"""A millisecond's first id starts at a random value below 2^72: room for 2^74 - 2^72 more."""
_SEQ_STEP_BITS = 32
"""Later ids of the same millisecond add a random step of 1 to 2^32."""


class _Uuid7Clock:
    """Monotonic UUIDv7s for this process (RFC 9562 §6.2, method 2: monotonic random).

    Ids made in one process sort in the order they were made: the first of a millisecond
    starts at random bits, each later one of the same millisecond adds a random step, and a
    clock that steps back keeps the last millisecond. Entry ids are indexed by the store, and
    ids that arrive in order are appended to that index instead of inserted at random places
    (measured: a third of the cost of sequencing an entry). They stay unguessable (each step
    has 32 random bits) and unique across processes (the first id of each millisecond starts at
    72 random bits; the later ones step on from it).
    """

    __slots__ = ("_last_ms", "_lock", "_seq")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._seq = 0

    def reset(self) -> None:
        """Forget the last id (in a forked child: its ids must not follow the parent's)."""
        self._lock = threading.Lock()
        self._last_ms = -1

    def next(self, ms: int) -> tuple[int, int]:
        """The millisecond and the 74 sequence bits of the next id at clock time ``ms``."""
        with self._lock:
            if ms > self._last_ms:
                seq = _RNG.getrandbits(_SEQ_START_BITS)
            else:
                ms = self._last_ms
                seq = self._seq + 1 + _RNG.getrandbits(_SEQ_STEP_BITS)
                if seq >> _SEQ_BITS:  # this millisecond is used up: borrow the next one
                    ms += 1
                    seq = _RNG.getrandbits(_SEQ_START_BITS)
            self._last_ms, self._seq = ms, seq
        return ms, seq


_CLOCK = _Uuid7Clock()


def _after_fork() -> None:
    _RNG.seed(os.urandom(32))
    _CLOCK.reset()


os.register_at_fork(after_in_child=_after_fork)


def _uuid7() -> str:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then 74 bits that grow with every id of
    the same millisecond (see :class:`_Uuid7Clock`); sorts by time, and by creation order
    within this process."""
    ms, seq = _CLOCK.next(time.time_ns() // 1_000_000)
    return _uuid7_of(ms, seq)


def _uuid7_of(ms: int, seq: int) -> str:
    """The UUIDv7 text of a millisecond timestamp and 74 sequence bits (the top 12 go in
    ``rand_a``, the other 62 in ``rand_b``)."""
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((seq >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= seq & ((1 << 62) - 1)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_JSON = msgspec.json.Encoder(order="sorted", enc_hook=plain_value)
"""The canonical encoder (see :mod:`mondaytest._util.canonical`); returns UTF-8 bytes."""


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """An entry validated and ready to sequence: everything but ``idx`` and ``config_idx``.

    A draft holds its members already encoded (``_parts``, split where ``config_idx`` and
    ``idx`` sort, so the store only splices those two in inside its write transaction) and the
    four envelope strings the store indexes; nothing else. Dropping the validated payload's
    dictionaries as soon as they are encoded keeps queued drafts out of the garbage
    collector's way: under load, thousands of drafts wait for their commit, and their payload
    containers were most of what the collector re-walked (measured: 13 % of the pipeline's
    time before, 1 % after).
    """

    entry_type: str
    """``decision`` or ``state_change``."""
    kind: str
    """The state change's registered kind, or ``decision``."""
    entry_id: str
    """The entry's id (UUIDv7 unless the caller gave one)."""
    ts: str
    """The entry's RFC 3339 timestamp."""
    is_decision: bool
    """True for a decision (the store fills ``config_idx``)."""
    is_config: bool
    """True for a configuration state change (the store records its index)."""
    _parts: tuple[bytes, bytes, bytes] = (b"", b"", b"")

    @property
    def fields(self) -> dict[str, Any]:
        """The envelope without ``idx``/``config_idx``, decoded from the encoded members."""
        members = [p for p in self._parts if p]
        decoded: dict[str, Any] = msgspec.json.decode(b"{" + b",".join(members) + b"}")
        return decoded

    def finish(self, idx: int, config_idx: int | None) -> bytes:
        """The final canonical bytes at position ``idx``."""
        before, middle, after = self._parts
        if middle and after:  # every draft made here: one formatting step
            head = b"{" + before + b"," if before else b"{"
            if self.is_decision:
                cfg = b"null" if config_idx is None else b"%d" % config_idx
                return b'%b"config_idx":%b,%b,"idx":%d,%b}' % (head, cfg, middle, idx, after)
            return b'%b%b,"idx":%d,%b}' % (head, middle, idx, after)
        members = [before] if before else []
        if self.is_decision:
            members.append(
                b'"config_idx":%s' % (b"null" if config_idx is None else b"%d" % config_idx)
            )
        if middle:
            members.append(middle)
        members.append(b'"idx":%d' % idx)
        if after:
            members.append(after)
        return b"{" + b",".join(members) + b"}"


# -- the fast path of validation ----------------------------------------------------------
#
# Validating into model instances (and dumping them back) is most of the cost of a draft. For
# a model made only of plain fields (strings, ints, bools, literals, lists, dicts, JSON values
# and nested models of the same), the same pydantic-core schema with every model turned into a
# typed dict validates exactly the same inputs and returns plain dicts: what
# ``model_dump(mode="json", exclude_none=True)`` would give, without building instances. Any
# model with validators, serializers or other types keeps the model path. On any validation
# error the model path runs again, so error messages are the model's own.

_PLAIN_TYPES = frozenset(
    {
        "str",
        "int",
        "bool",
        "none",
        "literal",
        "nullable",
        "default",
        "list",
        "dict",
        "model",
        "model-fields",
        "model-field",
        "definitions",
        "definition-ref",
        "json-or-python",
        "tagged-union",
        "union",
        "float",
        "any",
    }
)
"""Core-schema node types the fast path understands; anything else keeps the model path."""

_FIELD_DEPTH = 2
"""Containers around a payload field's value: the envelope and the payload."""

_CLOSED_TYPES = frozenset({"str", "bool", "none", "literal", "nullable", "default", "list"})
"""Node types whose values can never leave the JSON profile (strings are checked when encoded)."""


_JSON_VALUE_REF = "pydantic.types.JsonValue"
"""The core-schema reference of pydantic's ``JsonValue``."""


class _NotPlainError(Exception):
    """The schema holds something the fast path does not handle."""


def _drop_none(value: dict[str, Any]) -> dict[str, Any]:
    """``exclude_none`` for one model's fields (optional fields left out stay out: only a None
    given explicitly is dropped here)."""
    if None not in value.values():
        return value
    return {k: v for k, v in value.items() if v is not None}


def _plain(schema: Any) -> Any:
    """A copy of a core schema with models turned into typed dicts; :class:`_NotPlainError` if the
    schema holds anything else than plain data."""
    if isinstance(schema, list):
        return [_plain(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    kind = schema.get("type")
    if kind is None:  # a plain mapping inside a schema (choices of a tagged union)
        return {k: _plain(v) for k, v in schema.items()}
    if kind not in _PLAIN_TYPES or "serialization" in schema:
        raise _NotPlainError(kind)
    if kind == "definition-ref" and str(schema.get("schema_ref", "")).startswith(_JSON_VALUE_REF):
        # pydantic's JsonValue picks a branch per value in Python; the fast path takes any
        # value instead and its strict walk (`_open_fields_ok`) refuses what is not plain JSON
        return cs.any_schema()
    if kind == "model":
        inner = schema["schema"]
        if (
            inner.get("type") != "model-fields"
            or schema.get("custom_init")
            or schema.get("root_model")
        ):
            raise _NotPlainError("model")
        if inner.get("computed_fields") or inner.get("extras_schema") is not None:
            raise _NotPlainError("model")
        fields = {}
        nullable = False
        for name, field in inner["fields"].items():
            if field.get("validation_alias") or field.get("serialization_alias"):
                raise _NotPlainError("alias")
            sub = field["schema"]
            if sub.get("type") == "default" and "default" in sub and sub["default"] is None:
                # ``= None``: a missing field is simply left out (exclude_none drops it anyway)
                nullable = True
                fields[name] = cs.typed_dict_field(_plain(sub["schema"]), required=False)
            else:
                nullable = nullable or sub.get("type") == "nullable"
                fields[name] = cs.typed_dict_field(
                    _plain(sub), required=sub.get("type") != "default"
                )
        config = schema.get("config") or {}
        typed = cs.typed_dict_schema(
            fields,
            extra_behavior=config.get("extra_fields_behavior", "ignore"),
            strict=config.get("strict"),
            config=config,  # type: ignore[arg-type]
        )
        out = cs.no_info_after_validator_function(_drop_none, typed) if nullable else typed
        if "ref" in schema:
            out["ref"] = schema["ref"]
        return out
    return {k: _plain(v) for k, v in schema.items()}


def _closed(schema: Any, refs: set[str], depth: int = _FIELD_DEPTH) -> bool:
    """True when no value of ``schema`` can leave the profile (no ints, floats, free-form
    mappings or recursion, and no nesting that could pass :data:`MAX_DEPTH`; ``depth`` is how
    many containers enclose a value of it)."""
    kind = schema.get("type")
    if kind == "model":
        if depth >= MAX_DEPTH:
            return False
        return all(
            _closed(f["schema"], refs, depth + 1) for f in schema["schema"]["fields"].values()
        )
    if kind not in _CLOSED_TYPES:
        return False
    inner = depth + 1 if kind == "list" else depth
    if kind == "list" and depth >= MAX_DEPTH:
        return False
    for key in ("schema", "items_schema"):
        if key in schema and not _closed(schema[key], refs, inner):
            return False
    return True


@dataclass(frozen=True)
class _FastModel:
    """The fast path of one payload model."""

    one: SchemaValidator
    """Validates one payload into plain dicts."""
    many: SchemaValidator
    """Validates a list of payloads."""
    open_fields: frozenset[str]
    """Top-level fields whose values can leave the JSON profile (checked after validation)."""


_FAST: dict[type[BaseModel], _FastModel | None] = {}


def _fast_model(model: type[BaseModel]) -> _FastModel | None:
    """The fast path of ``model``, or None when it must keep the model path."""
    if model in _FAST:
        return _FAST[model]
    fast: _FastModel | None = None
    try:
        schema = model.__pydantic_core_schema__
        decorators = model.__pydantic_decorators__
        if any(
            getattr(decorators, name)
            for name in (
                "validators",
                "field_validators",
                "root_validators",
                "field_serializers",
                "model_serializers",
                "model_validators",
                "computed_fields",
            )
        ):
            raise _NotPlainError("decorators")
        plain = _plain(schema)
        top = schema["schema"] if schema.get("type") == "definitions" else schema
        if top.get("type") != "model":
            raise _NotPlainError("top")
        open_fields = frozenset(
            name for name, f in top["schema"]["fields"].items() if not _closed(f["schema"], set())
        )
        many = (
            cs.definitions_schema(cs.list_schema(plain["schema"]), plain["definitions"])
            if plain.get("type") == "definitions"
            else cs.list_schema(plain)
        )
        fast = _FastModel(SchemaValidator(plain), SchemaValidator(many), open_fields)
    except (_NotPlainError, KeyError, TypeError, AttributeError):
        fast = None
    except Exception:  # pragma: no cover - a schema pydantic-core refuses: keep the model path
        fast = None
    _FAST[model] = fast
    return fast


def _validation_error(exc: ValidationError, what: str, model: type[Payload]) -> InputError:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    field = model.model_fields.get(str(first["loc"][0])) if first["loc"] else None
    described = field.description if field is not None else None
    if described and first["type"] == "string_pattern_mismatch":
        # the pattern says nothing to a reader: say what the field takes
        return InputError(f"{what}: {loc} must be {described}", field=f"payload.{loc}")
    return InputError(
        f"{what}: {first['msg']}",
        field=f"payload.{loc}" if loc else "payload",
        hint=f"{loc}: {described}" if described else f"see the fields of {model.__name__}",
    )


def _payload_dict(model: type[Payload], payload: Mapping[str, Any] | Payload, what: str) -> Any:
    if isinstance(payload, BaseModel):
        if not isinstance(payload, model):
            raise InputError(
                f"{what}: payload is a {type(payload).__name__}, expected {model.__name__}",
                field="payload",
            )
        obj = payload
    else:
        if not isinstance(payload, Mapping):
            raise InputError(
                f"{what}: payload must be a JSON object, got {type(payload).__name__}",
                field="payload",
            )
        fast = _fast_model(model)
        if fast is not None:
            try:
                body = fast.one.validate_python(payload)
            except CoreValidationError:
                pass  # the model path below names the error in the model's own words
            else:
                if _open_fields_ok(body, fast.open_fields):
                    return body
        try:
            obj = model.model_validate(dict(payload))
        except ValidationError as exc:
            raise _validation_error(exc, what, model) from None
    return obj.model_dump(mode="json", exclude_none=True)


_TYPE_MEMBER = {"decision": b'"type":"decision"', "state_change": b'"type":"state_change"'}
_V_MEMBER = b'"v":' + _JSON.encode(ENTRY_SCHEMA)


def _envelope(
    entry_type: str,
    payload: Any,
    *,
    origin: str,
    actor: str | None,
    entry_id: str | None,
    ts: str | None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "v": ENTRY_SCHEMA,
        "type": entry_type,
        "log": origin,
        "id": entry_id or _uuid7(),
        "ts": ts or utc_timestamp(),
        "payload": payload,
    }
    if actor is not None:
        fields["actor"] = actor
    return fields


def _profile_error(exc: ProfileError) -> ProfileError:
    field = exc.field.replace("$.", "", 1) if exc.field else None
    return ProfileError(exc.message, hint=exc.hint, field=field)


def _encode_parts(fields: dict[str, Any]) -> tuple[bytes, bytes, bytes]:
    """The encoded members before ``config_idx`` (``actor``, ``config``), between it and
    ``idx`` (``id``), and after ``idx`` (the rest), in sorted key order.

    The envelope's keys are fixed, so its members are joined in their sorted order around the
    payload's sorted encoding: the same bytes as encoding the whole envelope sorted.
    """
    if not fields.keys() <= _ENVELOPE_KEYS or "id" not in fields:  # pragma: no cover
        raise ProfileError(f"unexpected envelope keys {sorted(fields)}")
    encode = _JSON.encode
    before: list[bytes] = []
    if "actor" in fields:
        before.append(b'"actor":' + encode(fields["actor"]))
    if "config" in fields:
        before.append(b'"config":' + encode(fields["config"]))
    kind, origin, entry_type, v = fields.get("kind"), fields["log"], fields["type"], fields["v"]
    if all(type(x) is str for x in (origin, entry_type, v)) and type(kind) in (str, type(None)):
        key = (kind, origin, entry_type, v)
        shared = _SHARED_MEMBERS.get(key)
        if shared is None:  # the members a log's entries of one kind share, encoded once
            head = b'"log":' + encode(origin)
            if kind is not None:
                head = b'"kind":' + encode(kind) + b"," + head
            shared = (head, b'"type":' + encode(entry_type) + b',"v":' + encode(v))
            if len(_SHARED_MEMBERS) >= 256:
                _SHARED_MEMBERS.clear()
            _SHARED_MEMBERS[key] = shared
        after = b"".join(
            (
                shared[0],
                b',"payload":',
                encode(fields["payload"]),
                b',"ts":',
                encode(fields["ts"]),
                b",",
                shared[1],
            )
        )
        return b",".join(before), b'"id":' + encode(fields["id"]), after
    parts: list[bytes] = []  # pragma: no cover - envelope values are strings once validated
    if kind is not None:
        parts.append(b'"kind":' + encode(kind))
    parts.append(b'"log":' + encode(origin))
    parts.append(b'"payload":' + encode(fields["payload"]))
    parts.append(b'"ts":' + encode(fields["ts"]))
    parts.append(b'"type":' + encode(entry_type))
    parts.append(b'"v":' + encode(v))
    return b",".join(before), b'"id":' + encode(fields["id"]), b",".join(parts)


_SHARED_MEMBERS: dict[tuple[str | None, str, str, str], tuple[bytes, bytes]] = {}
"""Encoded ``kind``+``log`` and ``type``+``v`` members per (kind, origin, type, schema)."""


_ENVELOPE_KEYS = frozenset({"v", "type", "log", "id", "ts", "payload", "actor", "kind", "config"})


def _check_size(parts: tuple[bytes, bytes, bytes]) -> None:
    size = len(parts[0]) + len(parts[1]) + len(parts[2]) + 4
    if size + _SEQUENCE_RESERVE > MAX_ENTRY_BYTES:
        raise ProfileError(
            f"entry is {size} bytes; at most {MAX_ENTRY_BYTES - _SEQUENCE_RESERVE} fit a leaf",
            hint="keep large values in the vault and put their commitment in the entry",
        )


def _check_draft(
    fields: dict[str, Any], open_fields: frozenset[str] | None = None
) -> tuple[bytes, bytes, bytes]:
    """Check ``fields`` against the profile and encode them.

    ``open_fields`` (from the fast path) names the payload fields whose values may leave the
    profile; only those are walked when every envelope value is a plain string. None walks all.
    """
    try:
        actor = fields.get("actor")
        if (
            open_fields is None
            or type(fields["log"]) is not str
            or type(fields["id"]) is not str
            or type(fields["ts"]) is not str
            or not (actor is None or type(actor) is str)
        ):
            check_profile(fields)
        else:
            payload = fields["payload"]
            for name in open_fields:
                value = payload.get(name)
                if value is not None and not in_profile(value, _FIELD_DEPTH):
                    check_profile(fields)  # names the offending place
        parts = _encode_parts(fields)
    except ProfileError as exc:
        raise _profile_error(exc) from None
    except UnicodeEncodeError:
        raise ProfileError("a string is not valid UTF-8 (lone surrogate)") from None
    _check_size(parts)
    return parts


_SHARED_DRAFT: dict[tuple[str, str, str | None, bool], tuple[bytes, bytes, bytes]] = {}
"""Encoded members every draft of one (kind, origin, actor, config flag) shares: before
``config_idx`` (``actor``, ``config``), the head after ``idx`` (``kind``, ``log``) and the tail
(``type``, ``v``)."""


def _shared_draft_members(
    kind: str, origin: str, actor: str | None, is_config: bool
) -> tuple[bytes, bytes, bytes]:
    key = (kind, origin, actor, is_config)
    shared = _SHARED_DRAFT.get(key)
    if shared is not None:
        return shared
    encode = _JSON.encode
    before: list[bytes] = []
    if actor is not None:
        before.append(b'"actor":' + encode(actor))
    if kind != "decision":
        before.append(b'"config":true' if is_config else b'"config":false')
    head = b'"log":' + encode(origin)
    if kind != "decision":
        head = b'"kind":' + encode(kind) + b"," + head
    tail = b"," + _TYPE_MEMBER["decision" if kind == "decision" else "state_change"]
    shared = (b",".join(before), head, tail + b"," + _V_MEMBER)
    if len(_SHARED_DRAFT) >= 256:
        _SHARED_DRAFT.clear()
    _SHARED_DRAFT[key] = shared
    return shared


def _fast_parts(
    shared: tuple[bytes, bytes, bytes], body: Any, entry_id: str | None, ts: str | None
) -> tuple[str, str, tuple[bytes, bytes, bytes]]:
    """The id, the timestamp and the encoded members of a draft whose payload ``body`` passed
    the fast path (ids and timestamps made here are ASCII: no escaping needed)."""
    encode = _JSON.encode
    if not entry_id:  # None or "": a fresh id, as the general path does
        entry_id = _uuid7()
        id_member = b'"id":"' + entry_id.encode() + b'"'
    else:
        id_member = b'"id":' + encode(entry_id)
    if not ts:
        ts = utc_timestamp()
        ts_member = b',"ts":"' + ts.encode() + b'"'
    else:
        ts_member = b',"ts":' + encode(ts)
    before, head, tail = shared
    after = head + b',"payload":' + encode(body) + ts_member + tail
    return entry_id, ts, (before, id_member, after)


def _open_fields_ok(body: dict[str, Any], open_fields: frozenset[str]) -> bool:
    """True when the fields of a fast-validated ``body`` that may leave the profile hold only
    plain JSON inside it (no tuples either: the model path refuses those). False sends the
    payload down the model path, which names what is wrong."""
    for name in open_fields:
        value = body.get(name)
        if value is None or (type(value) is int and -MAX_SAFE_INT <= value <= MAX_SAFE_INT):
            continue
        if not in_plain_profile(value, _FIELD_DEPTH):
            return False
    return True


def _fast_draft(
    model: type[Payload],
    kind: str,
    is_config: bool,
    payload: object,
    origin: str,
    actor: str | None,
    entry_id: str | None,
    ts: str | None,
) -> EntryDraft | None:
    """The draft of a plain ``dict`` payload through the fast path, or None when the general
    path must run (another payload type, a model without a fast path, an envelope value that
    is not a plain string, or anything refused: the general path names it)."""
    if (
        type(payload) is not dict
        or type(origin) is not str
        or not (actor is None or type(actor) is str)
        or not (entry_id is None or type(entry_id) is str)
        or not (ts is None or type(ts) is str)
    ):
        return None
    fast = _FAST.get(model) if model in _FAST else _fast_model(model)
    if fast is None:
        return None
    try:
        body = fast.one.validate_python(payload)
    except CoreValidationError:
        return None
    if not _open_fields_ok(body, fast.open_fields):
        return None
    try:
        entry_id, ts, parts = _fast_parts(
            _shared_draft_members(kind, origin, actor, is_config), body, entry_id, ts
        )
    except UnicodeEncodeError:
        return None
    _check_size(parts)
    entry_type = "decision" if kind == "decision" else "state_change"
    return EntryDraft(entry_type, kind, entry_id, ts, kind == "decision", is_config, parts)


_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z")
"""An entry's ``ts``: RFC 3339 in UTC with ``Z`` (what :func:`utc_timestamp` writes)."""


def _check_ts(ts: object) -> None:
    """Refuse a caller-given ``ts`` that is not an RFC 3339 UTC time (None or "": a fresh one)."""
    if ts is None or ts == "":
        return
    ok = isinstance(ts, str) and _TS.fullmatch(ts) is not None
    if ok:
        try:
            datetime.fromisoformat(str(ts)[:19])
        except ValueError:
            ok = False
    if not ok:
        shown = repr(ts)[:60]
        raise InputError(
            f"ts {shown} is not an RFC 3339 time in UTC",
            field="ts",
            hint="write it like 2026-11-26T09:47:12.123456Z (UTC, ending in Z), or leave it out",
        )


_ACTOR = re.compile(r"tok:[A-Za-z0-9_-]{1,128}")
"""An entry's ``actor``: a subject token, never a name or an address (the log is permanent)."""

_ENTRY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
"""A caller-given entry id: letters, digits and ``._:-``, at most 128 (not only digits)."""


def _check_envelope(actor: object, entry_id: object) -> None:
    """Refuse an ``actor`` that is not a ``tok:`` token, and a caller-given entry id that is
    not a plain identifier (None or "" for the id: a fresh UUIDv7)."""
    if actor is not None and not (isinstance(actor, str) and _ACTOR.fullmatch(actor)):
        raise InputError(
            f"actor {repr(actor)[:60]} is not a subject token",
            field="actor",
            hint="write the actor as a tok: token (tok: and up to 128 letters, digits, _ or -): "
            "the log is permanent and must not hold names or addresses",
        )
    if entry_id is None or entry_id == "":
        return
    ok = isinstance(entry_id, str) and _ENTRY_ID.fullmatch(entry_id) is not None
    if not ok or str(entry_id).isdigit():
        raise InputError(
            f"entry id {repr(entry_id)[:60]} is not a valid id",
            field="id",
            hint="use letters, digits and ._:- (at most 128, not only digits: a number names an "
            "index), e.g. dec-2026-0042, or leave it out for a fresh UUIDv7",
        )


def draft_state_change(
    kind: str,
    payload: Mapping[str, Any] | Payload,
    *,
    origin: str,
    actor: str | None = None,
    entry_id: str | None = None,
    ts: str | None = None,
) -> EntryDraft:
    """Validate a state change of a registered ``kind`` and return it ready to sequence."""
    _check_ts(ts)
    _check_envelope(actor, entry_id)
    info = kind_info(kind)
    fast = _fast_draft(info.model, kind, info.config, payload, origin, actor, entry_id, ts)
    if fast is not None:
        return fast
    body = _payload_dict(info.model, payload, kind)
    fields = _envelope("state_change", body, origin=origin, actor=actor, entry_id=entry_id, ts=ts)
    fields["kind"] = kind
    fields["config"] = info.config
    parts = _check_draft(fields, _open_fields(info.model, payload))
    return _draft_of(fields, parts, is_decision=False, is_config=info.config)


def _draft_of(
    fields: dict[str, Any], parts: tuple[bytes, bytes, bytes], *, is_decision: bool, is_config: bool
) -> EntryDraft:
    """The draft of checked, encoded ``fields`` (only the strings the store indexes are kept)."""
    return EntryDraft(
        str(fields["type"]),
        str(fields.get("kind", "decision")),
        str(fields["id"]),
        str(fields["ts"]),
        is_decision,
        is_config,
        parts,
    )


def _open_fields(model: type[BaseModel], payload: object) -> frozenset[str] | None:
    """What :func:`_check_draft` must walk: the fast path's open fields, or everything."""
    if isinstance(payload, BaseModel):
        return None
    fast = _fast_model(model)
    return None if fast is None else fast.open_fields


def draft_decision(
    payload: Mapping[str, Any] | Payload,
    *,
    origin: str,
    actor: str | None = None,
    entry_id: str | None = None,
    ts: str | None = None,
) -> EntryDraft:
    """Validate a decision and return it ready to sequence."""
    _check_ts(ts)
    _check_envelope(actor, entry_id)
    fast = _fast_draft(DecisionPayload, "decision", False, payload, origin, actor, entry_id, ts)
    if fast is not None:
        return fast
    body = _payload_dict(DecisionPayload, payload, "decision")
    fields = _envelope("decision", body, origin=origin, actor=actor, entry_id=entry_id, ts=ts)
    parts = _check_draft(fields, _open_fields(DecisionPayload, payload))
    return _draft_of(fields, parts, is_decision=True, is_config=False)


def draft_entry(
    kind: str,
    payload: Mapping[str, Any] | Payload,
    *,
    origin: str,
    actor: str | None = None,
    entry_id: str | None = None,
    ts: str | None = None,
) -> EntryDraft:
    """:func:`draft_decision` for ``kind="decision"``, else :func:`draft_state_change`."""
    if kind == "decision":
        return draft_decision(payload, origin=origin, actor=actor, entry_id=entry_id, ts=ts)
    return draft_state_change(kind, payload, origin=origin, actor=actor, entry_id=entry_id, ts=ts)


def draft_many(
    kind: str,
    payloads: Sequence[Mapping[str, Any] | Payload],
    *,
    origin: str,
    actor: str | None = None,
) -> list[EntryDraft]:
    """Validate many payloads of one ``kind`` (``"decision"`` for decisions) in one pass.

    Each draft has exactly the bytes :func:`draft_decision` / :func:`draft_state_change` would
    give it (same validation, same profile check, same 64 KiB limit); ids and timestamps are
    fresh per entry. The first bad payload raises :class:`InputError` naming its position, and
    no draft is returned.
    """
    items = list(payloads)
    _check_envelope(actor, None)
    with gc_paused(len(items)):
        return _draft_many(kind, items, origin, actor)


def _draft_many(
    kind: str, items: list[Mapping[str, Any] | Payload], origin: str, actor: str | None
) -> list[EntryDraft]:
    if kind == "decision":
        model: type[Payload] = DecisionPayload
        is_config = False
    else:
        info = kind_info(kind)
        model, is_config = info.model, info.config
    fast = _fast_model(model)
    if (
        fast is None
        or not all(type(p) is dict for p in items)
        or not (actor is None or type(actor) is str)
    ):
        return [_draft_one(kind, p, origin, actor, i) for i, p in enumerate(items)]
    try:
        bodies = fast.many.validate_python(items)
    except CoreValidationError:
        # find the first bad one through the single path: same error as one at a time
        for i, p in enumerate(items):
            _draft_one(kind, p, origin, actor, i)
        raise  # pragma: no cover - the single path refuses what the bulk path refused
    # the envelope members every draft shares, encoded once
    shared_after = b'"log":' + _JSON.encode(origin)
    if kind != "decision":
        shared_after = b'"kind":' + _JSON.encode(kind) + b"," + shared_after
    before_parts: list[bytes] = []
    if actor is not None:
        before_parts.append(b'"actor":' + _JSON.encode(actor))
    if kind != "decision":
        before_parts.append(b'"config":true' if is_config else b'"config":false')
    before = b",".join(before_parts)
    tail = b'",' + _TYPE_MEMBER["decision" if kind == "decision" else "state_change"]
    tail += b"," + _V_MEMBER
    entry_type = "decision" if kind == "decision" else "state_change"
    is_decision = kind == "decision"
    encode = _JSON.encode
    open_fields = fast.open_fields
    out: list[EntryDraft] = []
    for i, body in enumerate(bodies):
        if not _open_fields_ok(body, open_fields):
            _draft_one(kind, items[i], origin, actor, i)  # raises, naming the place
        entry_id = _uuid7()
        ts = utc_timestamp()
        try:
            encoded = encode(body)
        except UnicodeEncodeError:
            raise _at(i, ProfileError("a string is not valid UTF-8 (lone surrogate)")) from None
        parts = (
            before,
            b'"id":"' + entry_id.encode() + b'"',
            shared_after + b',"payload":' + encoded + b',"ts":"' + ts.encode() + tail,
        )
        try:
            _check_size(parts)
        except ProfileError as exc:
            raise _at(i, exc) from None
        out.append(EntryDraft(entry_type, kind, entry_id, ts, is_decision, is_config, parts))
    return out


def _at(position: int, exc: InputError) -> InputError:
    """``exc`` for the payload at ``position`` of a bulk call."""
    return type(exc)(f"payload {position}: {exc.message}", hint=exc.hint, field=exc.field)


def _draft_one(
    kind: str, payload: Mapping[str, Any] | Payload, origin: str, actor: str | None, pos: int
) -> EntryDraft:
    try:
        return draft_entry(kind, payload, origin=origin, actor=actor)
    except InputError as exc:
        raise _at(pos, exc) from None


def encode_entry(fields: Mapping[str, Any]) -> bytes:
    """Canonical bytes of a complete entry (profile-checked; raises :class:`ProfileError`)."""
    body = canonical_json(fields)
    if len(body) > MAX_ENTRY_BYTES:
        raise ProfileError(f"entry is {len(body)} bytes; at most {MAX_ENTRY_BYTES} fit a leaf")
    return body


@dataclass(frozen=True)
class Entry:
    """A sequenced entry read back from the log."""

    idx: int
    """Position in the tree."""
    type: Literal["decision", "state_change"]
    """Entry type."""
    kind: str
    """Kind of a state change; ``decision`` for decisions."""
    id: str
    """Entry id (UUIDv7 unless the caller gave one)."""
    ts: str
    """When the caller recorded it (RFC 3339 UTC; writer-asserted)."""
    payload: dict[str, Any]
    """The payload object."""
    fields: dict[str, Any]
    """The whole envelope as decoded."""
    raw: bytes
    """The exact leaf bytes."""

    @property
    def config_idx(self) -> int | None:
        """For a decision, the index of the configuration in force."""
        value = self.fields.get("config_idx")
        return value if isinstance(value, int) else None

    @property
    def is_config(self) -> bool:
        """True for a configuration state change."""
        return self.fields.get("config") is True


class EntryFormatError(InputError):
    """Leaf bytes that are not a valid ``monday.audit/v1`` entry."""


def _no_float(text: str) -> Any:
    raise _OutsideProfileError(text)


def _bounded_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_SAFE_INT:
        raise _OutsideProfileError(text)
    return value


class _OutsideProfileError(ValueError):
    """A number outside the profile met while parsing."""


def decode_entry(raw: bytes, *, full_check: bool = True) -> Entry:
    """Parse leaf bytes into an :class:`Entry`; :class:`EntryFormatError` if they are not one.

    Floats and integers beyond ±(2^53-1) are refused while parsing; ``full_check`` also
    requires UTF-8, walks the whole value for the rest of the profile (ASCII keys, valid
    Unicode) and requires the bytes to be the canonical encoding of what they hold (no
    duplicate keys, no other spacing, order or escaping): what the writer produces.
    """
    if full_check:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EntryFormatError(f"leaf is not UTF-8 (byte {exc.start})") from None
    try:
        fields = json.loads(raw, parse_float=_no_float, parse_int=_bounded_int)
    except _OutsideProfileError as exc:
        raise EntryFormatError(f"leaf is outside the JSON profile: number {exc}") from None
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise EntryFormatError(f"leaf is not JSON: {exc}") from None
    if not isinstance(fields, dict):
        raise EntryFormatError("leaf is not a JSON object")
    if fields.get("v") != ENTRY_SCHEMA:
        raise EntryFormatError(f"leaf schema is {fields.get('v')!r}, expected {ENTRY_SCHEMA!r}")
    etype = fields.get("type")
    idx = fields.get("idx")
    payload = fields.get("payload")
    if etype not in ("decision", "state_change"):
        raise EntryFormatError(f"unknown entry type {etype!r}")
    if not isinstance(idx, int) or isinstance(idx, bool):
        raise EntryFormatError("leaf has no integer idx")
    if not isinstance(payload, dict):
        raise EntryFormatError("leaf has no payload object")
    kind = "decision" if etype == "decision" else fields.get("kind")
    if not isinstance(kind, str):
        raise EntryFormatError("state change has no kind")
    if full_check:
        try:
            canonical = canonical_json(fields)
        except ProfileError as exc:
            raise EntryFormatError(f"leaf is outside the JSON profile: {exc}") from None
        if canonical != raw:
            raise EntryFormatError(
                "leaf is not in canonical form (duplicate keys, or other spacing, key order or "
                "escaping than the writer's)"
            )
    return Entry(
        idx=idx,
        type=etype,
        kind=kind,
        id=str(fields.get("id", "")),
        ts=str(fields.get("ts", "")),
        payload=payload,
        fields=fields,
        raw=raw,
    )
