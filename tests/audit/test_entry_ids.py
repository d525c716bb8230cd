"""Entry ids: RFC 9562 UUIDv7s that sort in creation order within a process, and drafts that
hold only bytes and strings while they wait for their commit."""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import uuid

from mondaytest.audit import entries
from mondaytest.audit.entries import _uuid7, _uuid7_of, _Uuid7Clock, draft_decision, draft_many

ORIGIN = "monday.test/audit/ids"


def _check_v7(text: str) -> uuid.UUID:
    u = uuid.UUID(text)
    assert str(u) == text
    assert u.version == 7
    assert u.variant == uuid.RFC_4122
    return u


def test_ids_are_uuid7_and_strictly_increasing_in_creation_order() -> None:
    ids = [_uuid7() for _ in range(20_000)]  # many per millisecond
    for text in ids[:100]:
        _check_v7(text)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    # the timestamp is the creation millisecond (within the run's span)
    ms = [_check_v7(t).int >> 80 for t in (ids[0], ids[-1])]
    assert ms[0] <= ms[1]


def test_drafts_in_bulk_and_one_by_one_get_increasing_ids() -> None:
    bulk = draft_many("decision", [{"decision": "d"}] * 500, origin=ORIGIN)
    one = [draft_decision({"decision": "d"}, origin=ORIGIN) for _ in range(500)]
    ids = [d.entry_id for d in bulk + one]
    assert ids == sorted(ids)
    assert len(set(ids)) == 1000


def test_the_clock_keeps_order_when_time_steps_back_or_a_millisecond_fills() -> None:
    clock = _Uuid7Clock()
    a = clock.next(1_000)
    b = clock.next(999)  # the wall clock stepped back: stay on the last millisecond
    assert b[0] == 1_000
    assert b[1] > a[1]
    # a millisecond whose sequence is nearly used up borrows the next one
    clock._seq = (1 << 74) - 2
    c = clock.next(1_000)
    assert c[0] == 1_001
    assert _uuid7_of(*c) > _uuid7_of(*b)
    # version and variant survive the extreme sequence values
    _check_v7(_uuid7_of(1_000, (1 << 74) - 1))
    _check_v7(_uuid7_of(1_000, 0))


def test_steps_are_random_so_ids_are_not_guessable() -> None:
    clock = _Uuid7Clock()
    seqs = [clock.next(5)[1] for _ in range(50)]
    steps = {b - a for a, b in itertools.pairwise(seqs)}
    assert len(steps) > 40  # not a counter


def _child_ids(queue: multiprocessing.Queue[list[str]]) -> None:
    queue.put([_uuid7() for _ in range(50)])


def test_a_forked_child_does_not_continue_the_parents_sequence() -> None:
    before = [_uuid7() for _ in range(5)]
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[list[str]] = ctx.Queue()
    child = ctx.Process(target=_child_ids, args=(queue,))
    child.start()
    theirs = queue.get(timeout=30)
    child.join(30)
    ours = [_uuid7() for _ in range(50)]
    assert not set(theirs) & set(ours)
    assert not set(theirs) & set(before)


def test_a_waiting_draft_holds_no_containers_for_the_collector() -> None:
    d = draft_decision(
        {"decision": "triage", "outcome": {"code": "refer", "nested": {"a": [1, 2]}}},
        origin=ORIGIN,
        actor="tok:abc",
    )
    # only strings, bools and a tuple of bytes: nothing the cyclic collector must walk
    for ref in gc.get_referents(d):
        assert not isinstance(ref, dict | list | set)
        if isinstance(ref, tuple):
            assert all(isinstance(x, bytes) for x in ref)
    # and the envelope is still all there
    assert d.fields["payload"]["outcome"]["nested"] == {"a": [1, 2]}
    assert d.fields["actor"] == "tok:abc"
    assert d.entry_id == d.fields["id"]
    assert entries.decode_entry(d.finish(3, None)).fields["ts"] == d.ts


def test_finished_bytes_are_the_canonical_encoding_of_the_whole_entry() -> None:
    from mondaytest._util.canonical import canonical_json
    from mondaytest.audit.entries import draft_state_change

    cases = [
        draft_decision({"decision": "d", "outcome": {"k": [1, "x"]}}, origin=ORIGIN),
        draft_decision({"decision": "d"}, origin=ORIGIN, actor="tok:a"),
        draft_state_change("model_version", {"model": "m", "version": "2"}, origin=ORIGIN),
        draft_state_change(
            "model_version", {"model": "m", "version": "3"}, origin=ORIGIN, actor="tok:b"
        ),
    ]
    for d in cases:
        for idx, cfg in ((0, None), (17, 4), (2**40, 2**40 - 1)):
            whole = dict(d.fields, idx=idx)
            if d.is_decision:
                whole["config_idx"] = cfg
            assert d.finish(idx, cfg) == canonical_json(whole)
