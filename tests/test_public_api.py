"""The short top-level API: ``import mondaytest`` is cheap; connect and load_spec work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import mondaytest
from mondaytest.cli.app import main


def test_import_is_cheap() -> None:
    heavy = "('mondaytest.audit', 'scipy', 'numpy', 'pydantic')"
    code = f"import sys, mondaytest; print(sorted(m for m in sys.modules if m.startswith({heavy})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = mondaytest.no_such_thing  # type: ignore[attr-defined]


def test_connect_records_a_decision_with_a_verifiable_receipt(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.parent)
    assert main(["audit", "keygen"]) == 0
    assert main(["audit", "keygen", "--vault"]) == 0
    spec = mondaytest.load_spec()
    assert spec.model.audit.vkey is not None
    with mondaytest.connect() as log:
        idx = log.decision(
            decision="triage",
            outcome={"label": "standard"},
            subject_id="customer-17",
            raw={"input": "claim text with a name in it", "output": "standard"},
        )
        assert idx is not None
        log.checkpoint()
        receipt = log.receipt(idx)
        entry = log.entry(idx)
    assert b"customer-17" not in receipt
    assert b"claim text" not in receipt
    assert entry.raw is not None
    (project.parent / "r.tlog-proof").write_bytes(receipt)
    assert main(["audit", "verify", str(project.parent / "r.tlog-proof")]) == 0
