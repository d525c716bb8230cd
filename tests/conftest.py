"""Shared fixtures: a valid governed project on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

VALID_SPEC = """\
version: 1
system:
  name: claims-triage
  description: Routes claims.
  risk: high
owners:
  original_team:
    - id: maya
      name: Maya Chen
      contacts: {email: maya@example.com}
  operations:
    - id: ana
      name: Ana Ruiz
      contacts: {email: ana@example.com}
cutover: 2026-12-07T09:00:00+00:00
handoff_window: P90D
decisions:
  - id: triage
    description: Assign a claim.
    customer_facing: true
    inputs: {amount: numeric}
failure_modes:
  - {id: outage, title: Outage, severity: P1, runbook: runbooks/a.md}
  - {id: regression, title: Regression, severity: P2, runbook: runbooks/b.md}
  - {id: unsafe, title: Unsafe, severity: P1, runbook: runbooks/c.md}
evals:
  suites:
    triage:
      dataset: evals/triage.jsonl
      target: {python: "app:predict"}
      scorers: [{name: label, kind: exact}]
audit:
  origin: audit.example.com/claims
oncall:
  timezone: Europe/London
  rotations:
    primary: {members: [ana], shift: {start: 2026-12-07T09:00:00, length: P7D}}
  escalation:
    default:
      levels:
        - {after: PT0M, notify: ["rotation:primary"]}
  routes:
    - {match: {}, policy: default}
"""


def write_project(root: Path, spec_text: str = VALID_SPEC) -> Path:
    """Write a governed project (runbooks, dataset) with ``spec_text`` as its monday.yaml."""
    (root / "runbooks").mkdir(parents=True, exist_ok=True)
    for name in ("a", "b", "c"):
        (root / "runbooks" / f"{name}.md").write_text("# runbook\n")
    (root / "evals").mkdir(exist_ok=True)
    (root / "evals" / "triage.jsonl").write_text('{"id": "1", "input": 1, "expected": 1}\n')
    spec = root / "monday.yaml"
    spec.write_bytes(spec_text.encode("utf-8") if isinstance(spec_text, str) else spec_text)
    return spec


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A valid project; returns the path of its monday.yaml."""
    return write_project(tmp_path)
