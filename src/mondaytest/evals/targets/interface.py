"""The target extension point: what an eval calls for each case.

Adding a kind of target is adding one module with a class that satisfies :class:`Target`, and
one line in :mod:`mondaytest.evals.targets` to build it from its spec.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from mondaytest.evals.model import Case

__all__ = ["Target", "TargetContext", "TargetError", "TargetInfo", "fingerprint_of"]


class TargetError(Exception):
    """One call of a target failed.

    ``retryable`` says whether another attempt may help (timeouts, 429, 5xx, a crashed worker);
    ``retry_after`` is the server's requested wait in seconds, when it gave one.
    """

    def __init__(
        self, message: str, *, retryable: bool = True, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


def fingerprint_of(detail: dict[str, Any]) -> str:
    """SHA-256 hex of the sorted, compact JSON of ``detail``."""
    text = json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TargetInfo:
    """What a target is, for provenance and comparability.

    ``fingerprint`` hashes ``detail``: the kind, the entry point, the user's version string and
    whatever code or configuration can be hashed (never a secret).
    """

    kind: str
    """``python``, ``http``, ``cmd`` or ``replay``."""
    ref: str
    """Entry point as written: ``module:function``, a URL, a command line, a cassette."""
    fingerprint: str
    """SHA-256 hex of ``detail``."""
    detail: dict[str, Any] = field(default_factory=dict)
    """What the fingerprint covers."""

    def to_json(self) -> dict[str, Any]:
        """The JSON form stored in ``run.json``."""
        return {
            "kind": self.kind,
            "ref": self.ref,
            "fingerprint": self.fingerprint,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class TargetContext:
    """What building a target needs from the suite."""

    root_dir: Path
    """The contract's directory: relative paths and Python imports resolve from here."""
    concurrency: int = 8
    """Calls in flight at once."""
    timeout_s: float = 60.0
    """Timeout of one call (HTTP clients use it as their own timeout)."""
    role: str = "target"
    """``target`` or ``judge:<scorer>``: whose calls these are."""


@runtime_checkable
class Target(Protocol):
    """Something an eval can call once per case and epoch."""

    info: TargetInfo
    """Identity and fingerprint."""

    async def start(self) -> None:
        """Open connections or processes; called once before the first call."""

    async def call(self, case: Case, epoch: int) -> Any:
        """Produce the output for ``case.input``: a JSON value, or an
        :class:`~mondaytest.evals.model.Output`. Raise :class:`TargetError` on failure."""

    async def aclose(self) -> None:
        """Release everything; called once after the last call."""
