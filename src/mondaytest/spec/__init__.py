"""The contract: ``monday.yaml`` models, loading with positions, digest and provenance."""

from __future__ import annotations

from mondaytest.spec.loader import DEFAULT_SPEC, LoadedSpec, SpecErrors, find_spec, load_spec
from mondaytest.spec.model import CURRENT_VERSION, MondaySpec
from mondaytest.spec.provenance import GitInfo, git_info

__all__ = [
    "CURRENT_VERSION",
    "DEFAULT_SPEC",
    "GitInfo",
    "LoadedSpec",
    "MondaySpec",
    "SpecErrors",
    "find_spec",
    "git_info",
    "load_spec",
]
