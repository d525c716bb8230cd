"""The vault beside a real audit log in one SQLite file: erase, log it, proofs still verify.

Integration with the store (``mondaytest.audit.log``), so it is skipped when that layer cannot
be imported.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mondaytest.audit import vault as v
from mondaytest.audit.keys import generate_key_file

log_mod = pytest.importorskip("mondaytest.audit.log")
verify_mod = pytest.importorskip("mondaytest.audit.verify")
store_mod = pytest.importorskip("mondaytest.audit.store")

ORIGIN = "monday.example/audit/vault-test"
SUBJECT = "customer-4711@example.com"
RAW = "free text the customer typed: my IBAN is DE02 1203 0000 0000 2020 51"


def _files(db: Path) -> bytes:
    data = db.read_bytes()
    wal = db.with_name(db.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def test_erase_next_to_the_log_keeps_every_proof(tmp_path: Path) -> None:
    signer = generate_key_file(tmp_path / "keys" / "audit.key", ORIGIN)
    config = log_mod.LogConfig(
        origin=ORIGIN,
        store_url="sqlite:///.monday/audit.db",
        base_dir=tmp_path,
        key="file:keys/audit.key",
        vkey=signer.vkey,
    )
    db = tmp_path / ".monday" / "audit.db"
    env = {"MONDAY_VAULT_KEY": v.generate_master_key()}
    with log_mod.open_log(config) as log:
        vault = v.Vault.open(db, "env:MONDAY_VAULT_KEY", environ=env)
        refs = vault.put_many(SUBJECT, {"input": RAW, "output": {"code": "refer"}})
        idx = log.decision(
            decision="triage",
            subject=refs["input"].token,
            input=refs["input"].commitment,
            output=refs["output"].commitment,
            outcome={"code": "refer"},
        )
        assert idx is not None
        receipt_before = log.receipt(idx)
        leaf = log.entry(idx).raw
        assert RAW.encode() not in leaf
        assert SUBJECT.encode() not in leaf

        erased = vault.erase(SUBJECT)
        assert erased.scrubbed
        log.append("erasure", erased.payload(legal_basis_ref="DSAR-1"))
        log.checkpoint()
        receipt_after = log.receipt(idx)
        vault.close()

    store = store_mod.open_store(config.store_url, base_dir=tmp_path)
    try:
        report = verify_mod.fsck(store, config.verifiers(), origin=ORIGIN)
    finally:
        store.close()
    report.raise_for_problems()
    for receipt in (receipt_before, receipt_after):
        verify_mod.verify_receipt_bytes(receipt, config.verifiers())
    disk = _files(db)
    assert RAW.encode() not in disk
    assert SUBJECT.encode() not in disk
    # The leaf still carries the commitment; nobody can open it any more.
    assert refs["input"].commitment.encode() in leaf
