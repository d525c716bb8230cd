"""The ``audit`` section: where the signed log lives, its key, durability and failure mode."""

from __future__ import annotations

from typing import Literal

from mondaytest.spec.base import SpecModel

__all__ = ["AuditSection"]


class AuditSection(SpecModel):
    """Settings of the signed, tamper-evident audit log (extended by the audit issue)."""

    origin: str
    """The log's origin line in every checkpoint, e.g. ``audit.example.com/claims-triage/prod``."""
    store: str = "sqlite:///.monday/audit.db"
    """Store URL: ``sqlite:///relative/or/absolute.db`` or ``postgresql://…``.
    ``MONDAY_DATABASE_URL`` overrides it."""
    key: str = "file:.monday/keys/audit.key"
    """Where the signing key is: ``file:PATH`` (relative to monday.yaml) or ``env:VAR``."""
    vkey: str | None = None
    """The verifier key (C2SP note vkey); written by ``monday audit keygen``."""
    durability: Literal["async", "sequenced", "published"] = "sequenced"
    """When an append returns: queued, committed with an index, or covered by a checkpoint."""
    fail_mode: Literal["closed", "open"] = "closed"
    """closed: no decision without its record; open: decisions proceed, each gap is logged."""
    retention: str = "P7Y"
    """How long entries and vault material are kept (ISO 8601 duration)."""
