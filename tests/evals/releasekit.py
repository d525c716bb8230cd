"""A governed project with an audit log, owners' signing keys and a gated suite, for the
evidence and release tests (in-process and CLI)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.conftest import VALID_SPEC, write_project

from mondaytest.audit.keygen import keygen
from mondaytest.audit.keys import generate_key_file
from mondaytest.audit.note import Ed25519Signer
from mondaytest.evals.gate import CaseOutcome, GateVerdict, evaluate_gate
from mondaytest.spec import load_spec
from mondaytest.spec.evals_gate import GateSpec
from mondaytest.spec.loader import LoadedSpec

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
"""A fixed 'now' for waiver expiry checks."""

FP_A = "a" * 64
FP_B = "b" * 64

APP = """\
import os

def predict(x):
    every = int(os.environ.get("EVERY", "0"))
    return -x if every and x % every == 0 else x
"""

GATE = """
      retry_backoff_s: 0
      cache: off
      gate:
        required: {tags: [critical]}
        thresholds: {label: {min: 0.5, bound: lower95}}
        regression: {metrics: [label], margin: 0.05, alpha: 0.05}
"""


@dataclass
class ReleaseProject:
    """Paths, the loaded contract, and the owners' keys (maya and tom have one, ana none)."""

    root: Path
    spec_path: Path
    maya: Ed25519Signer
    tom: Ed25519Signer
    maya_key: Path
    tom_key: Path

    def load(self) -> LoadedSpec:
        return load_spec(self.spec_path)


def make_project(root: Path) -> ReleaseProject:
    """Write the project, create the log key (recorded in monday.yaml) and two people's keys."""
    maya_key = root / "people" / "maya.key"
    tom_key = root / "people" / "tom.key"
    maya = generate_key_file(maya_key, "maya")
    tom = generate_key_file(tom_key, "tom")
    text = VALID_SPEC.replace(
        "      contacts: {email: maya@example.com}\n",
        f"      contacts: {{email: maya@example.com}}\n      key: {maya.vkey}\n",
    ).replace(
        "      contacts: {email: ana@example.com}\n",
        "      contacts: {email: ana@example.com}\n"
        f"    - id: tom\n      name: Tom Okafor\n      contacts: {{email: tom@example.com}}\n"
        f"      key: {tom.vkey}\n",
    )
    text = text.replace(
        "scorers: [{name: label, kind: exact}]\n",
        "scorers: [{name: label, kind: exact}]" + GATE,
    )
    spec = write_project(root, text)
    (root / "app.py").write_text(APP)
    rows = [
        {"id": f"c{i}", "input": i, "expected": i, "tags": ["critical"] if i in (1, 2) else []}
        for i in range(1, 101)
    ]
    (root / "evals" / "triage.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    loaded = load_spec(spec)
    keygen(
        origin=loaded.model.audit.origin,
        key_ref=loaded.model.audit.key,
        base_dir=root,
        spec_path=spec,
        recorded_vkey=None,
    )
    return ReleaseProject(root, spec, maya, tom, maya_key, tom_key)


def cleanup(root: Path) -> None:
    """Forget the project's modules and its sys.path entry."""
    sys.modules.pop("app", None)
    while str(root) in sys.path:
        sys.path.remove(str(root))


# --------------------------------------------------------------------------------- verdicts

THRESHOLD_GATE = GateSpec.model_validate({"thresholds": {"label": {"min": Decimal("0.5")}}})
REGRESSION_GATE = GateSpec.model_validate(
    {"regression": {"metrics": ["label"], "margin": Decimal("0.05")}}
)


def outcomes(n: int, failing: int = 0, prefix: str = "c") -> list[CaseOutcome]:
    """``n`` cases, the first ``failing`` of them failing."""
    return [
        CaseOutcome(f"{prefix}{i:05d}", i >= failing, {"label": 0.0 if i < failing else 1.0})
        for i in range(n)
    ]


def verdict(kind: str = "pass") -> GateVerdict:
    """A real verdict: ``pass`` / ``fail`` (thresholds) or ``inconclusive`` (regression on few
    paired cases)."""
    if kind == "pass":
        return evaluate_gate(outcomes(50, 2), None, THRESHOLD_GATE)
    if kind == "fail":
        return evaluate_gate(outcomes(50, 40), None, THRESHOLD_GATE)
    if kind == "inconclusive":
        return evaluate_gate(outcomes(10), outcomes(10), REGRESSION_GATE)
    raise ValueError(kind)


def run_data(
    fingerprint: str = FP_A, *, run_id: str = "run-1", spec_digest: str | None = None
) -> dict[str, Any]:
    """The parts of ``run.json`` the evidence reads."""
    return {
        "run_id": run_id,
        "suite": "triage",
        "target": {"kind": "python", "ref": "app:predict", "fingerprint": fingerprint},
        "provenance": {
            "spec": {"path": "monday.yaml", "digest": spec_digest},
            "git": {"commit": "c0ffee" * 6 + "beef", "dirty": False, "branch": "main"},
            "dataset": {"path": "evals/triage.jsonl", "sha256": "d" * 64},
        },
    }
