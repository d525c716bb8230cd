"""The collector pause around bulk work: only for bulk sizes, always restored as it was."""

from __future__ import annotations

import gc

import pytest

from mondaytest._util.gcpause import BULK_THRESHOLD, gc_paused
from mondaytest.audit.entries import draft_many
from mondaytest.errors import InputError


def test_pauses_only_bulk_work_and_restores_the_collector() -> None:
    assert gc.isenabled()
    with gc_paused(BULK_THRESHOLD - 1):
        assert gc.isenabled()
    with gc_paused(BULK_THRESHOLD):
        assert not gc.isenabled()
    assert gc.isenabled()


def test_restored_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), gc_paused(10**6):
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_the_application_disabled_stays_disabled() -> None:
    gc.disable()
    try:
        with gc_paused(10**6):
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_bulk_drafting_leaves_the_collector_on_even_when_a_payload_is_bad() -> None:
    items: list[dict[str, object]] = [{"decision": "ok"}] * BULK_THRESHOLD
    assert len(draft_many("decision", items, origin="o")) == BULK_THRESHOLD
    assert gc.isenabled()
    with pytest.raises(InputError, match="payload 1024"):
        draft_many("decision", [*items, {"decision": 1}], origin="o")
    assert gc.isenabled()
