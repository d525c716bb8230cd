"""The spec digest: SHA-256 of the canonical JSON of the resolved contract."""

from __future__ import annotations

import hashlib
from typing import Any

from mondaytest._util.canonical import canonical_json, to_profile
from mondaytest.spec.model import MondaySpec

__all__ = ["resolved_data", "spec_digest"]


def resolved_data(spec: MondaySpec) -> Any:
    """The resolved contract (defaults filled in) as data in the audit log's JSON profile."""
    return to_profile(spec.model_dump(mode="json", by_alias=True))


def spec_digest(spec: MondaySpec) -> str:
    """``sha256:<hex>`` over the canonical JSON of :func:`resolved_data`."""
    return "sha256:" + hashlib.sha256(canonical_json(resolved_data(spec))).hexdigest()
