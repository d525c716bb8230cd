"""JSON lines into drafts (``monday audit append``): any input gives drafts or one InputError
naming its line, and a caller-given ``ts`` must be an RFC 3339 UTC time."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mondaytest.audit.entries import draft_decision, draft_state_change
from mondaytest.audit.ingest import drafts_from_lines
from mondaytest.errors import InputError

ORIGIN = "monday.test/audit/ingest"


def _draft(kind: str, payload: object, **kw: object) -> object:
    if kind == "decision":
        return draft_decision(payload, origin=ORIGIN, **kw)  # type: ignore[arg-type]
    return draft_state_change(kind, payload, origin=ORIGIN, **kw)  # type: ignore[arg-type]


GOOD = json.dumps({"kind": "decision", "payload": {"decision": "t"}})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
objects = st.fixed_dictionaries(
    {},
    optional={
        "kind": st.sampled_from(["decision", "model_version", "waiver", "nope", ""]) | json_values,
        "type": st.sampled_from(["decision", "state_change", "x"]) | json_values,
        "payload": json_values
        | st.fixed_dictionaries({"decision": st.text(max_size=5)}, optional={"x": json_values}),
        "actor": st.text(max_size=8) | json_values,
        "id": st.text(max_size=8) | json_values,
        "ts": st.sampled_from(["2026-11-26T09:47:12Z", "", "now"]) | json_values,
        "extra": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(objects.map(json.dumps) | st.text(max_size=40), max_size=5))
def test_any_lines_give_drafts_or_one_input_error_naming_the_line(lines: list[str]) -> None:
    error: InputError | None = None
    try:
        drafts = drafts_from_lines([GOOD, *lines], _draft, source="in.jsonl")  # type: ignore[arg-type]
    except InputError as exc:
        error = exc
    if error is None:
        assert len(drafts) == 1 + sum(1 for line in lines if line.strip())
        return
    where = error.location
    assert where is not None
    assert where.file == "in.jsonl"
    assert 2 <= where.line <= len(lines) + 1


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60))
def test_any_bytes_give_drafts_or_an_input_error(data: bytes) -> None:
    with contextlib.suppress(InputError):  # anything else (a traceback) fails the test
        drafts_from_lines(data.split(b"\n"), _draft)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "ts", ["yesterday", "2026-11-26", "2026-11-26T09:47:12+02:00", "2026-13-01T00:00:00Z", "1"]
)
def test_a_given_ts_must_be_rfc3339_utc(ts: str) -> None:
    line = json.dumps({"kind": "decision", "payload": {"decision": "t"}, "ts": ts})
    with pytest.raises(InputError, match="not an RFC 3339 time in UTC") as err:
        drafts_from_lines([GOOD, line], _draft, source="in.jsonl")  # type: ignore[arg-type]
    assert err.value.location is not None
    assert err.value.location.line == 2


def test_a_given_ts_and_id_are_kept() -> None:
    line = json.dumps(
        {
            "kind": "decision",
            "payload": {"decision": "t"},
            "ts": "2026-11-26T09:47:12.5Z",
            "id": "r-1",
        }
    )
    (d,) = drafts_from_lines([line], _draft)  # type: ignore[arg-type]
    assert d.ts == "2026-11-26T09:47:12.5Z"
    assert d.entry_id == "r-1"


@pytest.mark.parametrize("kind", ["log_genesis", "key_rotation", "erasure", "retention"])
def test_the_kinds_monday_writes_itself_are_refused(kind: str) -> None:
    line = json.dumps({"kind": kind, "payload": {}})
    with pytest.raises(InputError, match=f"{kind} entries cannot be appended") as caught:
        drafts_from_lines([GOOD, line], _draft)  # type: ignore[arg-type]
    assert caught.value.location is not None
    assert caught.value.location.line == 2


def test_a_duplicate_key_is_refused_at_any_depth() -> None:
    for line in (
        '{"kind":"decision","payload":{"decision":"t"},"kind":"access"}',
        '{"kind":"decision","payload":{"decision":"t","outcome":{"a":1,"a":2}}}',
    ):
        with pytest.raises(InputError, match="appears twice"):
            drafts_from_lines([line], _draft)  # type: ignore[arg-type]


def test_json_nested_beyond_the_interpreter_is_an_input_error_not_a_crash() -> None:
    line = "[" * 100_000 + "]" * 100_000
    with pytest.raises(InputError, match="nested too deeply"):
        drafts_from_lines([line], _draft)  # type: ignore[arg-type]
    deep_payload = '{"kind":"decision","payload":{"decision":"t","outcome":{"a":' + "[" * 5000
    deep_payload += "]" * 5000 + "}}}"
    with pytest.raises(InputError):
        drafts_from_lines([deep_payload], _draft)  # type: ignore[arg-type]


def test_a_number_with_thousands_of_digits_is_named_plainly() -> None:
    line = '{"kind":"decision","payload":{"decision":"t","latency_ms":' + "9" * 5000 + "}}"
    with pytest.raises(InputError, match="thousands of digits") as caught:
        drafts_from_lines([line], _draft)  # type: ignore[arg-type]
    assert "set_int_max_str_digits" not in str(caught.value)


def test_a_type_that_disagrees_with_the_kind_is_refused() -> None:
    for obj in (
        {"type": "decision", "kind": "access", "payload": {"purpose": "p"}},
        {"type": "state_change", "kind": "decision", "payload": {"decision": "t"}},
    ):
        with pytest.raises(InputError, match="disagree"):
            drafts_from_lines([json.dumps(obj)], _draft)  # type: ignore[arg-type]
    line = json.dumps({"type": "state_change", "kind": "erasure", "payload": {}})
    with pytest.raises(InputError, match="erasure entries cannot be appended"):
        drafts_from_lines([line], _draft)  # type: ignore[arg-type]
    (d,) = drafts_from_lines(  # type: ignore[arg-type]
        [json.dumps({"type": "decision", "payload": {"decision": "t"}})], _draft
    )
    assert d.kind == "decision"
