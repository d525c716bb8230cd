"""The fast draft paths (typed-dict validation, bulk drafting) give exactly the model path's
bytes and refuse exactly what it refuses."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mondaytest._util.canonical import ProfileError
from mondaytest.audit import LogConfig, open_log
from mondaytest.audit.entries import (
    MAX_ENTRY_BYTES,
    DecisionPayload,
    EntryDraft,
    _fast_model,
    draft_decision,
    draft_many,
    draft_state_change,
    kind_info,
    kinds,
)
from mondaytest.audit.verify import fsck
from mondaytest.errors import InputError

ORIGIN = "monday.test/audit/fast"


def _payload(rng: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {
        "decision": rng.choice(["triage", "route", "ünï"]),
        "outcome": {"code": rng.choice(["a", "b"]), "n": rng.randrange(-5, 5), "x": None},
    }
    if rng.random() < 0.5:
        out["model"] = {"id": "m", "version": str(rng.randrange(9))}
    if rng.random() < 0.5:
        out["guardrails"] = [{"id": "pii", "result": "pass"}] * rng.randrange(3)
    if rng.random() < 0.5:
        out["subject"] = f"tok:{rng.getrandbits(64):x}"
    if rng.random() < 0.3:
        out["env"] = None
    if rng.random() < 0.3:
        out["latency_ms"] = rng.randrange(1000)
    return out


def _same(a: EntryDraft, b: EntryDraft) -> None:
    assert a.fields == b.fields
    assert a.finish(7, None) == b.finish(7, None)
    assert a.finish(9, 3) == b.finish(9, 3)


def test_every_core_kind_has_the_fast_path() -> None:
    assert _fast_model(DecisionPayload) is not None
    assert all(_fast_model(info.model) is not None for info in kinds().values())


def test_fast_validation_equals_model_dump() -> None:
    fast = _fast_model(DecisionPayload)
    assert fast is not None
    rng = random.Random(1)
    for _ in range(300):
        p = _payload(rng)
        assert fast.one.validate_python(p) == DecisionPayload.model_validate(p).model_dump(
            mode="json", exclude_none=True
        )


def test_bulk_drafts_equal_single_drafts_byte_for_byte() -> None:
    rng = random.Random(2)
    items = [_payload(rng) for _ in range(200)]
    bulk = draft_many("decision", items, origin=ORIGIN, actor="tok:abc")
    for p, d in zip(items, bulk, strict=True):
        one = draft_decision(
            p, origin=ORIGIN, actor="tok:abc", entry_id=d.entry_id, ts=d.fields["ts"]
        )
        _same(d, one)
        model = draft_decision(  # the model path (a Payload instance) agrees too
            DecisionPayload.model_validate(p),
            origin=ORIGIN,
            actor="tok:abc",
            entry_id=d.entry_id,
            ts=d.fields["ts"],
        )
        _same(d, model)
    changes = [{"model": "m", "version": str(i), "approval": None} for i in range(20)]
    for p, d in zip(changes, draft_many("model_version", changes, origin=ORIGIN), strict=True):
        _same(d, draft_state_change("model_version", p, origin=ORIGIN, **_id_ts(d)))
        assert d.is_config
    assert kind_info("model_version").config


def _id_ts(d: EntryDraft) -> dict[str, str]:
    return {"entry_id": d.entry_id, "ts": d.fields["ts"]}


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"decision": "t", "outcome": {"score": 0.5}}, "float"),
        ({"decision": "t", "outcome": {"k": (1, 2)}}, "not a valid JSON value"),
        ({"decision": "t", "outcome": {"k": {"deep": [{1, 2}]}}}, "not a valid JSON value"),
        ({"decision": "t", "outcome": {"k": b"x"}}, "not a valid JSON value"),
        ({"decision": "t", "outcome": {"n": 2**53}}, "2\\^53"),
        ({"decision": "t", "latency_ms": 2**60}, "2\\^53"),
        ({"decision": "t", "outcome": {"clé": 1}}, "ASCII"),
        ({"decision": "t", "outcome": {"k": "\ud800"}}, "surrogate"),
        ({"decision": "t", "subject": "alice@example.com"}, "pattern"),
        ({"decision": "t", "extra": 1}, "Extra inputs"),
        ({"decision": 3}, "string"),
        ({"decision": "t", "latency_ms": True}, "integer"),
        ({"decision": "t", "outcome": {"note": "x" * MAX_ENTRY_BYTES}}, "bytes"),
    ],
)
def test_bulk_refuses_what_the_single_path_refuses(bad: dict[str, Any], match: str) -> None:
    with pytest.raises(InputError, match=match) as single:
        draft_decision(bad, origin=ORIGIN)
    items = [{"decision": "ok"}, {"decision": "ok2"}, bad]
    with pytest.raises(InputError, match=match) as bulk:
        draft_many("decision", items, origin=ORIGIN)
    assert bulk.value.message == f"payload 2: {single.value.message}"
    assert isinstance(bulk.value, ProfileError) == isinstance(single.value, ProfileError)


@settings(max_examples=60, deadline=None)
@given(
    outcome=st.dictionaries(
        st.text(max_size=5),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
            lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
            max_leaves=6,
        ),
        max_size=4,
    )
)
def test_fast_and_model_paths_agree_on_any_outcome(outcome: dict[str, Any]) -> None:
    payload = {"decision": "t", "outcome": outcome}
    fast: EntryDraft | Exception
    model: EntryDraft | Exception
    try:
        fast = draft_decision(payload, origin=ORIGIN, entry_id="e", ts="t")
    except InputError as exc:
        fast = exc
    try:
        obj = DecisionPayload.model_validate(payload)
        model = draft_decision(obj, origin=ORIGIN, entry_id="e", ts="t")
    except (InputError, ValueError) as exc:
        model = exc
    if isinstance(fast, EntryDraft):
        assert isinstance(model, EntryDraft)
        _same(fast, model)
    else:
        assert isinstance(model, Exception)


def test_append_many_through_the_log(config: LogConfig) -> None:
    rng = random.Random(3)
    items = [_payload(rng) for _ in range(600)]
    with open_log(config) as log:
        log.append("model_version", {"model": "m", "version": "1"})
        idx = log.append_many("decision", items)
        assert idx == list(range(2, 602))
        assert log.entry(300).config_idx == 1
        assert log.entry(300).payload["decision"] == items[298]["decision"]
        with pytest.raises(InputError, match="payload 1"):
            log.append_many("decision", [{"decision": "x"}, {"decision": 1}])
        assert log.size() == 602
        log.checkpoint()
        assert fsck(log.store, log.verifiers(), deep=True).ok
