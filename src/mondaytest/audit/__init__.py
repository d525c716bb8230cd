"""The signed, tamper-evident audit log (RFC 9162 Merkle tree, C2SP checkpoints and receipts).

The short API::

    from mondaytest.audit import open_log

    with open_log() as log:                                   # ./monday.yaml's audit section
        log.append("eval_gate", {"suite": "triage", "run": "r1", "result": "pass"})
        idx = log.decision(decision="triage", outcome={"code": "refer"})
        proof = log.receipt(idx)                              # bytes of a .tlog-proof

Kinds of state change are a registry (:func:`register_kind`); each domain registers its own.
"""

from __future__ import annotations

from mondaytest.audit.entries import (
    DecisionPayload,
    Entry,
    Payload,
    kinds,
    register_kind,
)
from mondaytest.audit.log import AuditLog, LogConfig, open_log
from mondaytest.audit.writer import Durability, WriterSettings

__all__ = [
    "AuditLog",
    "DecisionPayload",
    "Durability",
    "Entry",
    "LogConfig",
    "Payload",
    "WriterSettings",
    "kinds",
    "open_log",
    "register_kind",
]
