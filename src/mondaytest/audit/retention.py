"""Retention: prune what ``audit.retention`` no longer requires, and say so in the log.

Enforcing retention does two things, recorded in one ``retention`` entry:

- the log's **minimum index** rises to the first entry recorded within the retention period
  (C2SP tlog-tiles pruning: entries below it are no longer served — receipts, ``log``,
  ``export`` — but they are *kept*, so every proof and ``fsck`` still verify);
- **vault material** created before the cut-off is deleted (:meth:`Vault.expire`), so raw
  personal values do not outlive the period.

The minimum index is set in the same transaction that appends the ``retention`` entry. When
the log's key is loaded, a checkpoint covering that entry is published right after, so a tiles
export can prune at once and prove why (``verify --tiles`` reads the entry).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mondaytest.audit.entries import utc_timestamp
from mondaytest.audit.keys import parse_key_ref
from mondaytest.audit.sequencer import Sequencer
from mondaytest.audit.vault import SQLiteVaultStore, expiring_counts, has_vault_rows
from mondaytest.errors import ConfigError
from mondaytest.spec.types import parse_duration

if TYPE_CHECKING:
    from mondaytest.audit.log import AuditLog

__all__ = ["RETENTION_FLOOR_DAYS", "RetentionResult", "enforce_retention"]

RETENTION_FLOOR_DAYS = 183
"""EU AI Act Art. 19 / 26(6): logs are kept at least six months."""


@dataclass(frozen=True)
class RetentionResult:
    """What one retention run did."""

    policy: str
    """The retention period (ISO 8601 duration)."""
    cutoff: str
    """Everything recorded before this instant (RFC 3339 UTC) is past retention."""
    min_index: int
    """The log's minimum index now (after a dry run: what it would become)."""
    previous_min_index: int
    """The minimum index before."""
    expired_records: int
    """Vault values deleted (after a dry run: that would be deleted)."""
    expired_subjects: int
    """Vault subjects (token mappings and data keys) deleted (or that would be)."""
    entry: int | None
    """Index of the ``retention`` entry (None when nothing changed, or a dry run)."""
    below_floor: bool
    """True when the policy is shorter than :data:`RETENTION_FLOOR_DAYS`."""


def _key_present(log: AuditLog) -> bool:
    ref = log.config.vault_key
    if ref is None:
        return False
    parsed = parse_key_ref(ref, log.config.base_dir)
    return parsed.kind == "env" or Path(parsed.target).exists()


def _expire_vault(log: AuditLog, cutoff: datetime) -> tuple[int, int]:
    """Delete the vault's values created before ``cutoff`` and the subjects left empty and
    unused since; return how many of each. Expiry goes by time and needs no key: without one
    (a missing key file, a host that holds none) the rows are deleted all the same."""
    if _key_present(log):
        receipt = log.vault().expire(cutoff)
        return receipt.records, receipt.subjects
    path = getattr(log.store, "path", None)
    if path is None or not has_vault_rows(Path(path)):
        return 0, 0
    store = SQLiteVaultStore(path)
    try:
        counts = store.expire(int(cutoff.timestamp() * 1_000_000))
        store.scrub(10.0)
    finally:
        store.close()
    return counts


def _count_expiring(log: AuditLog, cutoff: datetime) -> tuple[int, int]:
    """How many vault values and subjects retention would delete (read only, no key)."""
    path = getattr(log.store, "path", None)
    if path is None:
        return 0, 0
    return expiring_counts(Path(path), int(cutoff.timestamp() * 1_000_000))


def enforce_retention(
    log: AuditLog, *, now: datetime | None = None, dry_run: bool = False
) -> RetentionResult:
    """Raise the minimum index and expire vault material past ``audit.retention``."""
    policy = log.config.retention
    moment = now or datetime.now(UTC)
    try:
        cutoff = moment - parse_duration(policy)
    except (ValueError, OverflowError):
        raise ConfigError(
            f"retention period {policy!r} is not a usable ISO 8601 duration",
            hint="e.g. P7Y, P400D",
            field="audit.retention",
        ) from None
    cutoff_ts = utc_timestamp(cutoff.timestamp())
    below_floor = (moment - cutoff).days < RETENTION_FLOOR_DAYS
    previous = log.min_index()
    log.flush()
    first_kept = log.store.first_index_since(cutoff_ts)
    target = max(previous, first_kept)
    expired = subjects = 0
    if not dry_run:
        expired, subjects = _expire_vault(log, cutoff)
    else:
        expired, subjects = _count_expiring(log, cutoff)
    entry: int | None = None
    if not dry_run and (target > previous or expired or subjects):
        payload: dict[str, str | int] = {
            "policy": policy,
            "min_index": target,
            "expired_records": expired,
        }
        if subjects:
            payload["expired_subjects"] = subjects
        (entry,) = Sequencer(log.store, log.origin).append(
            [log.draft("retention", payload)], meta={"min_index": str(target)}
        )
        if log.signers:
            log.checkpoint()
    return RetentionResult(
        policy=policy,
        cutoff=cutoff_ts,
        min_index=target,
        previous_min_index=previous,
        expired_records=expired,
        expired_subjects=subjects,
        entry=entry,
        below_floor=below_floor,
    )
