"""The ``audit`` section: where the signed log lives, its key, durability, batching, witnessing."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from mondaytest.spec.base import SpecModel
from mondaytest.spec.types import Duration, SecretRef

__all__ = ["AuditBatching", "AuditCheckpoints", "AuditSection", "AuditWitness"]

_ORIGIN_RE = re.compile(r"^[^\s+]+$")
_VKEY_RE = re.compile(r"^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$")


class AuditBatching(SpecModel):
    """Group commit: how many entries one write transaction may hold and how long one may wait."""

    max_entries: int = Field(default=256, ge=1, le=65536)
    """Most entries committed in one transaction."""
    max_wait_ms: int = Field(default=250, ge=0, le=60000)
    """Longest an entry waits for its batch to commit, in milliseconds. Batches are committed
    as soon as the writer is free, so under light load an entry waits for one commit only."""


class AuditCheckpoints(SpecModel):
    """How often the log signs a checkpoint (C2SP tlog-checkpoint)."""

    interval: Duration = Duration("PT1S")
    """Least time between two checkpoints while entries arrive (at most one per interval)."""
    republish: Duration = Duration("PT10M")
    """When idle, a fresh checkpoint is still published this often, to prove liveness."""


class AuditWitness(SpecModel):
    """Who else keeps the log honest: CI-as-witness and a C2SP trust policy."""

    dir: str = ".monday-witness"
    """Directory (relative to monday.yaml, committed to git) where ``monday audit witness
    --commit`` keeps the last witnessed checkpoint."""
    policy: str | None = None
    """Path (relative to monday.yaml) of a C2SP tlog-policy file (``log``, ``witness``,
    ``group``, ``quorum`` lines) that ``monday audit verify`` applies inside the project unless
    ``--policy`` or ``--no-policy`` is given, and whose witnesses ``monday audit cosign`` trusts;
    without one the log's vkey alone is required."""


class AuditSection(SpecModel):
    """Settings of the signed, tamper-evident audit log."""

    origin: str
    """The log's origin line in every checkpoint, e.g. ``audit.example.com/claims-triage/prod``:
    a schema-less URL with no spaces and no ``+``. One store holds one origin."""
    store: str = "sqlite:///.monday/audit.db"
    """Store URL: ``sqlite:///relative/or/absolute.db``; ``postgresql://…`` (shared stores) is
    planned and refused for now. ``MONDAY_DATABASE_URL`` overrides it."""
    key: SecretRef = "file:.monday/keys/audit.key"
    """Where the signing key is: ``file:PATH`` (relative to monday.yaml) or ``env:VAR``."""
    vkey: str | None = None
    """The verifier key (C2SP note vkey); written by ``monday audit keygen``. A writer whose key
    does not match it refuses to start."""
    vault_key: SecretRef = "file:.monday/keys/vault.key"
    """The evidence vault's master key (``file:PATH`` or ``env:VAR``); raw personal values are
    kept encrypted in the vault, never in the log. Created by ``monday audit keygen --vault``."""
    durability: Literal["async", "sequenced", "published"] = "sequenced"
    """When an append returns: queued, committed with an index, or covered by a checkpoint."""
    fail_mode: Literal["closed", "open"] = "closed"
    """closed: no decision without its record; open: decisions proceed, each gap is logged."""
    retention: Duration = Duration("P7Y")
    """How long entries and vault material are kept (ISO 8601 duration; at least 183 days for
    EU AI Act Art. 19 unless an override is documented)."""
    batching: AuditBatching = Field(default_factory=AuditBatching)
    """Group commit limits of the writer."""
    checkpoints: AuditCheckpoints = Field(default_factory=AuditCheckpoints)
    """Checkpoint cadence."""
    witness: AuditWitness = Field(default_factory=AuditWitness)
    """CI-as-witness directory and verification policy."""

    @field_validator("origin")
    @classmethod
    def _check_origin(cls, value: str) -> str:
        if not value or not _ORIGIN_RE.match(value) or "\u2014" in value:
            raise ValueError(
                "an origin is a schema-less URL without spaces or '+', "
                "e.g. audit.example.com/claims-triage/prod"
            )
        return value

    @field_validator("vkey")
    @classmethod
    def _check_vkey(cls, value: str | None) -> str | None:
        if value is not None and not _VKEY_RE.match(value):
            raise ValueError(
                "a vkey reads NAME+KEYID+BASE64 (C2SP signed-note); "
                "run `monday audit keygen` to write it"
            )
        return value
