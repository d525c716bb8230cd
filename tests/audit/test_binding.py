"""The rules binding a decision to its configuration (shared by `audit why` and `monitor`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from mondaytest.audit.binding import approval, approval_refs, decision_model, waiver_stands

AT = "2026-11-26T12:00:00.000001Z"


@pytest.mark.parametrize(
    ("waiver", "stands"),
    [
        ({"action": "grant"}, True),
        ({"action": "grant", "expires": "2026-11-27T00:00:00Z"}, True),
        ({"action": "grant", "expires": "2026-11-26T12:00:00Z"}, False),
        ({"action": "grant", "expires": "2026-11-26T13:30:00+02:00"}, False),  # 11:30 UTC
        ({"action": "grant", "expires": "2026-11-26T13:30:00-02:00"}, True),  # 15:30 UTC
        ({"action": "grant", "expires": "next tuesday"}, False),  # unreadable: fail closed
        ({"action": "grant", "expires": 1234}, False),
        ({"action": "revoke"}, False),
        ({"action": "revoke", "expires": "2099-01-01T00:00:00Z"}, False),
    ],
)
def test_a_waiver_stands_while_granted_and_unexpired(waiver: dict[str, Any], stands: bool) -> None:
    assert waiver_stands(waiver, AT) is stands


def _lookup(entries: Mapping[int, tuple[str, Mapping[str, Any]]]) -> Any:
    return entries.get


GATE_PASS = ("eval_gate", {"suite": "s", "result": "pass"})
GATE_FAIL = ("eval_gate", {"suite": "s", "result": "fail"})
WAIVER = ("waiver", {"action": "grant", "approver": "ana", "expires": "2027-01-01T00:00:00Z"})


def test_approval_by_passing_gates_only() -> None:
    found = _lookup({1: GATE_PASS, 2: GATE_PASS, 3: GATE_FAIL})
    assert approval({"eval_gate_idx": 1}, 9, found) == (True, "was approved by eval gate #1 (s)")
    ok, how = approval({"eval_gates": [1, 2], "eval_gate_idx": 2}, 9, found)
    assert ok is True
    assert "#1 (s), #2 (s)" in how
    ok, why = approval({"eval_gates": [1, 3]}, 9, found)
    assert ok is False
    assert "not a pass (#3: fail)" in why


def test_approval_refuses_references_that_do_not_hold() -> None:
    found = _lookup({1: GATE_PASS, 4: WAIVER, 5: ("threshold", {})})
    ok, why = approval({"eval_gate_idx": 12}, 9, found)  # after the release
    assert ok is False
    assert "not before it" in why
    ok, why = approval({"eval_gate_idx": 5}, 9, found)
    assert ok is False
    assert "that entry is threshold" in why
    ok, why = approval({"eval_gate_idx": 4}, 9, found)
    assert ok is False
    assert "that entry is waiver" in why
    assert approval({}, 9, found) == (False, "is bound to no eval gate verdict and no waiver")
    assert approval({"eval_gate_idx": True}, 9, found)[0] is False  # a bool is no index


def test_a_waiver_stands_in_until_it_expires() -> None:
    found = _lookup({4: WAIVER})
    ok, how = approval({"waiver_idx": 4}, 9, found, at_ts=AT)
    assert ok is None
    assert "released under waiver #4 (approved by ana" in how
    ok, why = approval({"waiver_idx": 4}, 9, found, at_ts="2027-06-01T00:00:00Z")
    assert ok is False
    assert "had expired" in why


def test_references_and_the_model_a_decision_names() -> None:
    assert approval_refs({"eval_gates": [3, 1], "eval_gate_idx": 3, "waiver_idx": 7}) == [
        (3, "eval_gate"),
        (1, "eval_gate"),
        (7, "waiver"),
    ]
    assert decision_model({"model": {"id": "m", "version": "2"}}) == ("m", "2")
    assert decision_model({"model": {"id": "m"}}) == ("m", None)
    assert decision_model({"model": "m"}) is None
    assert decision_model({}) is None
