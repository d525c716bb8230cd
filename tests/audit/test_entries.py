"""Entries: envelope, registry of kinds, restricted profile, canonical bytes (vs rfc8785)."""

from __future__ import annotations

import json
import re
from types import MappingProxyType

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from mondaytest._util.canonical import ProfileError, canonical_json
from mondaytest.audit.entries import (
    ENTRY_SCHEMA,
    MAX_ENTRY_BYTES,
    EntryFormatError,
    Payload,
    decode_entry,
    draft_decision,
    draft_many,
    draft_state_change,
    is_config_kind,
    kind_info,
    kinds,
    register_kind,
)
from mondaytest.audit.vault import encode_value
from mondaytest.errors import InputError

ORIGIN = "monday.test/audit/unit"


def test_core_and_domain_kinds_are_registered() -> None:
    names = set(kinds())
    for name in (
        "key_rotation",
        "erasure",
        "retention",
        "access",
        "eval_gate",
        "model_version",
        "waiver",
        "guardrail_config",
        "fail_open",
        "page",
        "incident",
        "oncall_override",
        "drill",
        "readiness",
        "prompt",
        "threshold",
        "log_genesis",
    ):
        assert name in names
    assert is_config_kind("model_version")
    assert is_config_kind("guardrail_config")
    assert is_config_kind("waiver")
    assert not is_config_kind("access")
    assert not is_config_kind("page")
    assert not is_config_kind("eval_gate")


def test_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="unknown entry kind 'nope'") as info:
        draft_state_change("nope", {}, origin=ORIGIN)
    assert "model_version" in (info.value.hint or "")


def test_register_and_replace_kind() -> None:
    class Custom(Payload):
        """A custom thing."""

        name: str

    register_kind("custom_test_kind", Custom, config=False)
    with pytest.raises(ValueError, match="already registered"):
        register_kind("custom_test_kind", Custom, config=False)
    info = register_kind("custom_test_kind", Custom, config=True, replace=True)
    assert info.config
    assert kind_info("custom_test_kind").doc == "A custom thing."
    d = draft_state_change("custom_test_kind", {"name": "x"}, origin=ORIGIN)
    assert d.is_config
    assert d.fields["config"] is True
    with pytest.raises(ValueError, match="lower-case"):
        register_kind("Bad Name", Custom, config=False)


def test_payload_validation_names_the_field() -> None:
    with pytest.raises(InputError) as info:
        draft_state_change("model_version", {"model": "m"}, origin=ORIGIN)
    assert info.value.field == "payload.version"
    with pytest.raises(InputError) as info:
        draft_state_change("model_version", {"model": "m", "version": 2}, origin=ORIGIN)
    assert info.value.field == "payload.version"
    with pytest.raises(InputError, match="Extra inputs"):
        draft_state_change("model_version", {"model": "m", "version": "1", "x": 1}, origin=ORIGIN)
    with pytest.raises(InputError, match="JSON object"):
        draft_state_change("model_version", [1, 2], origin=ORIGIN)  # type: ignore[arg-type]


def test_floats_are_refused_even_inside_free_form_fields() -> None:
    with pytest.raises(ProfileError, match="float") as info:
        draft_decision({"decision": "triage", "outcome": {"score": 0.5}}, origin=ORIGIN)
    assert info.value.field == "payload.outcome.score"
    with pytest.raises(ProfileError, match="2\\^53"):
        draft_decision({"decision": "triage", "outcome": {"n": 2**53}}, origin=ORIGIN)
    with pytest.raises(ProfileError, match="ASCII"):
        draft_decision({"decision": "triage", "outcome": {"clé": 1}}, origin=ORIGIN)
    with pytest.raises(ProfileError, match="UTF-8"):
        draft_decision({"decision": "triage", "outcome": {"k": "\ud800"}}, origin=ORIGIN)


def test_personal_fields_must_be_tokens_or_commitments() -> None:
    with pytest.raises(InputError) as info:
        draft_decision({"decision": "triage", "subject": "alice@example.com"}, origin=ORIGIN)
    assert info.value.field == "payload.subject"
    draft_decision(
        {"decision": "triage", "subject": "tok:abc_-1", "input": "c:AAAA"}, origin=ORIGIN
    )


def test_size_limit() -> None:
    big = "x" * MAX_ENTRY_BYTES
    with pytest.raises(ProfileError, match="fit a leaf") as info:
        draft_decision({"decision": "triage", "outcome": {"note": big}}, origin=ORIGIN)
    assert "vault" in (info.value.hint or "")
    ok = "x" * (MAX_ENTRY_BYTES - 1000)
    d = draft_decision({"decision": "triage", "outcome": {"note": ok}}, origin=ORIGIN)
    assert len(d.finish(2**53 - 1, 2**53 - 1)) <= MAX_ENTRY_BYTES


def test_finish_adds_idx_and_config_idx_and_round_trips() -> None:
    d = draft_decision(
        {"decision": "triage", "outcome": {"code": "refer", "human_review": True}},
        origin=ORIGIN,
        actor="tok:svc",
    )
    raw = d.finish(7, 3)
    e = decode_entry(raw)
    assert e.idx == 7
    assert e.config_idx == 3
    assert e.type == "decision"
    assert e.kind == "decision"
    assert e.fields["v"] == ENTRY_SCHEMA
    assert e.fields["log"] == ORIGIN
    assert raw == canonical_json(json.loads(raw)) == rfc8785.dumps(json.loads(raw))
    s = draft_state_change(
        "waiver",
        {"action": "grant", "target": "guardrail:pii", "reason": "r", "approver": "maya"},
        origin=ORIGIN,
    )
    e2 = decode_entry(s.finish(8, 3))
    assert e2.is_config
    assert "config_idx" not in e2.fields
    assert e2.kind == "waiver"
    assert len({d.entry_id, s.entry_id}) == 2
    assert d.entry_id[14] == "7"


def test_decode_rejects_non_entries() -> None:
    for raw, msg in (
        (b"not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"v":"other"}', "schema"),
        (b'{"v":"monday.audit/v1","type":"x","idx":1,"payload":{}}', "type"),
        (b'{"v":"monday.audit/v1","type":"decision","payload":{}}', "idx"),
        (b'{"v":"monday.audit/v1","type":"decision","idx":1,"payload":{"a":1.5}}', "profile"),
    ):
        with pytest.raises(EntryFormatError, match=msg):
            decode_entry(raw)


def test_a_full_check_accepts_only_the_writers_exact_bytes() -> None:
    raw = draft_decision({"decision": "t"}, origin=ORIGIN).finish(1, None)
    assert decode_entry(raw).idx == 1
    text = raw.decode()
    for bad, msg in (
        (text.replace('"idx":1,', '"idx":0,"idx":1,').encode(), "canonical"),  # duplicate key
        (text.replace(":", ": ", 1).encode(), "canonical"),  # other spacing
        (b"\xff\xfe" + text.encode("utf-16-le"), "not UTF-8"),  # a BOM'd UTF-16 leaf
        (text.replace('"t"', '"\\ud800"', 1).encode(), "lone surrogate"),
        (text.replace('"t"', '"\\u0074"', 1).encode(), "canonical"),  # needless escape
    ):
        with pytest.raises(EntryFormatError, match=msg):
            decode_entry(bad)
        if msg == "canonical":  # the quick read takes them: only the full check refuses
            assert decode_entry(bad, full_check=False).idx == 1


_keys = st.text(alphabet=st.characters(max_codepoint=127), max_size=8)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_canonical_bytes_equal_rfc8785(value: object) -> None:
    out = canonical_json(value)
    assert out == rfc8785.dumps(value)
    # and the stdlib's sorted compact dumps, which the profile was defined by
    stdlib = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert out == stdlib.encode("utf-8")


def test_canonical_escapes_every_control_character_like_jcs() -> None:
    value = {"s": "".join(chr(c) for c in range(0x80)) + "\u2028\u2029\u00e9\U0001f600"}
    assert canonical_json(value) == rfc8785.dumps(value)
    with pytest.raises(ProfileError, match="surrogate"):
        canonical_json({"s": "\ud800"})


@settings(max_examples=200, deadline=None)
@given(
    actor=st.none() | st.from_regex(r"tok:[A-Za-z0-9_-]{1,20}", fullmatch=True),
    entry_id=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,20}", fullmatch=True).filter(
        lambda x: not x.isdigit()
    ),
    idx=st.integers(0, 2**53 - 1),
    config_idx=st.none() | st.integers(0, 2**53 - 1),
    kind=st.sampled_from(["decision", "access", "model_version"]),
)
def test_finished_bytes_are_canonical(
    actor: str | None, entry_id: str, idx: int, config_idx: int | None, kind: str
) -> None:
    if kind == "decision":
        d = draft_decision({"decision": "t"}, origin=ORIGIN, actor=actor, entry_id=entry_id)
    elif kind == "access":
        d = draft_state_change(
            "access", {"purpose": "p"}, origin=ORIGIN, actor=actor, entry_id=entry_id
        )
    else:
        payload = {"model": "m", "version": "1"}
        d = draft_state_change(kind, payload, origin=ORIGIN, actor=actor, entry_id=entry_id)
    raw = d.finish(idx, config_idx)
    assert raw == rfc8785.dumps(json.loads(raw))
    e = decode_entry(raw)
    assert e.idx == idx
    assert e.id == entry_id
    assert e.fields.get("actor") == actor
    if kind == "decision":
        assert e.config_idx == config_idx


@settings(max_examples=200, deadline=None)
@given(actor=st.text(max_size=24), entry_id=st.text(min_size=1, max_size=24))
def test_an_actor_that_is_no_token_or_an_id_that_is_no_identifier_is_refused(
    actor: str, entry_id: str
) -> None:
    actor_ok = re.fullmatch(r"tok:[A-Za-z0-9_-]{1,128}", actor) is not None
    id_ok = re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]*", entry_id) is not None
    id_ok = id_ok and not entry_id.isdigit()
    for kwargs, ok, field in (
        ({"actor": actor}, actor_ok, "actor"),
        ({"entry_id": entry_id}, id_ok, "id"),
    ):
        if ok:
            draft_decision({"decision": "t"}, origin=ORIGIN, **kwargs)
            continue
        with pytest.raises(InputError) as caught:
            draft_decision({"decision": "t"}, origin=ORIGIN, **kwargs)
        assert caught.value.field == field
    for given_actor in ("alice@example.com", "tok:", "tok:a b", "Tok:x"):
        with pytest.raises(InputError, match="not a subject token"):
            draft_many("decision", [{"decision": "t"}], origin=ORIGIN, actor=given_actor)
    for given_id in ("3", "\x00", " x", "a/b", "x" * 129):
        with pytest.raises(InputError, match="not a valid id"):
            draft_decision({"decision": "t"}, origin=ORIGIN, entry_id=given_id)


class _Text(str):
    """A str subclass, as ruamel.yaml, markupsafe or an ORM hand out."""


class _Number(int):
    """An int subclass that is not an enum."""


def test_str_and_int_subclasses_encode_as_their_plain_values() -> None:
    # The profile check accepts them; the bytes must be those of the plain values (what the
    # stdlib encoder gave), not a TypeError out of the encoder.
    value = {"a": _Text("x"), "n": _Number(3), "l": (_Text("y"), _Number(-4))}
    out = canonical_json(value)
    assert out == b'{"a":"x","l":["y",-4],"n":3}'
    assert out == json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    assert encode_value({"v": _Text("x")}) == encode_value({"v": "x"})
    ts = "2025-01-02T03:04:05.000000Z"
    plain = draft_decision({"decision": "t"}, origin=ORIGIN, actor="tok:ops", entry_id="e1", ts=ts)
    sub = draft_decision(
        {"decision": "t"},
        origin=_Text(ORIGIN),
        actor=_Text("tok:ops"),
        entry_id=_Text("e1"),
        ts=_Text(ts),
    )
    assert sub.finish(5, None) == plain.finish(5, None)
    [bulk] = draft_many(
        "decision", [{"decision": "t"}], origin=_Text(ORIGIN), actor=_Text("tok:ops")
    )
    assert decode_entry(bulk.finish(5, None)).fields["actor"] == "tok:ops"


def test_any_mapping_or_sequence_the_profile_accepts_is_encoded_not_a_traceback() -> None:
    value = {"m": MappingProxyType({"b": 1, "a": [2]}), "r": range(2)}
    assert canonical_json(value) == b'{"m":{"a":[2],"b":1},"r":[0,1]}'


def test_a_memoryview_is_outside_the_profile() -> None:
    # msgspec would write it as a base64 string: bytes the profile check never saw
    with pytest.raises(ProfileError, match="memoryview"):
        canonical_json({"b": memoryview(b"ab")})
    with pytest.raises(InputError, match="outside Monday's JSON profile"):
        encode_value({"b": memoryview(b"ab")})


def test_a_field_outside_its_pattern_is_explained_in_words() -> None:
    with pytest.raises(
        InputError, match="legal_basis_ref must be a ticket or request id"
    ) as caught:
        draft_state_change(
            "erasure",
            {"subject": "tok:abc", "legal_basis_ref": "John Smith, 1 Main St"},
            origin=ORIGIN,
        )
    assert "String should match pattern" not in str(caught.value)
