"""Key rotation: verifiers holding only the old key, or only the new one, keep verifying."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from tests.audit.conftest import ORIGIN, make_config

from mondaytest.audit import LogConfig, open_log
from mondaytest.audit.checkpoint import open_checkpoint
from mondaytest.audit.merkle import consistency_proof, verify_consistency
from mondaytest.audit.note import SignatureError, parse_vkey
from mondaytest.audit.rotation import rotate_finish, rotate_start
from mondaytest.audit.store import open_store
from mondaytest.audit.store.interface import StoredCheckpoint
from mondaytest.audit.verify import fsck
from mondaytest.errors import InputError


def _append(config: LogConfig, n: int) -> StoredCheckpoint:
    with open_log(config) as log:
        for _ in range(n):
            log.decision(decision="triage")
        return log.checkpoint()


def test_rotation_keeps_both_verifiers_working(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    old_vkey = config.vkey
    assert old_vkey is not None
    pre = _append(config, 5)
    started = rotate_start(config)
    assert started.old_vkey == old_vkey
    mid = _append(config, 5)  # the writer signs with both keys during the window
    finished = rotate_finish(config, None)
    new_config = replace(config, vkey=finished.new_vkey)
    with pytest.raises(Exception, match="not the key of the recorded vkey"):
        open_log(config)  # the old vkey no longer matches the key file
    post = _append(new_config, 5)

    old_only = [parse_vkey(old_vkey)]
    new_only = [parse_vkey(finished.new_vkey)]
    for cp in (pre, started.checkpoint, mid, finished.checkpoint):
        open_checkpoint(cp.note, old_only, origin=ORIGIN)
    for cp in (started.checkpoint, mid, finished.checkpoint, post):
        open_checkpoint(cp.note, new_only, origin=ORIGIN)
    with pytest.raises(SignatureError):
        open_checkpoint(post.note, old_only, origin=ORIGIN)
    with pytest.raises(SignatureError):
        open_checkpoint(pre.note, new_only, origin=ORIGIN)

    store = open_store(config.store_url)
    try:
        # across the window: old key → the dual-signed end; dual-signed start → new key
        proof = consistency_proof(pre.size, finished.checkpoint.size, store)
        verify_consistency(
            pre.size, finished.checkpoint.size, proof, pre.root, finished.checkpoint.root
        )
        proof = consistency_proof(started.checkpoint.size, post.size, store)
        verify_consistency(
            started.checkpoint.size, post.size, proof, started.checkpoint.root, post.root
        )
        # the whole store verifies with either key alone, following the rotation entries
        for keys in (old_only, new_only):
            report = fsck(store, keys, origin=ORIGIN)
            assert report.ok, report.findings
            assert report.checkpoints == len(store.checkpoints())
        kinds = [r.idx for r in store.search(kind="key_rotation")]
        assert kinds == [finished.entry, started.entry]
    finally:
        store.close()
    retired = finished.retired_key
    assert retired is not None
    assert retired.exists()


def test_rotation_misuse(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    _append(config, 1)
    with pytest.raises(InputError, match="no rotation is under way"):
        rotate_finish(config, None)
    rotate_start(config)
    with pytest.raises(InputError, match="already under way"):
        rotate_start(config)
    with pytest.raises(InputError, match="rotate-key works on key files"):
        rotate_start(replace(config, key="env:SOME_KEY"))


def test_a_writer_opened_before_the_rotation_signs_nothing_with_the_retired_key(
    tmp_path: Path,
) -> None:
    from mondaytest.audit.publisher import KeyRetired

    config = make_config(tmp_path)
    _append(config, 2)
    running = open_log(config)  # an application's writer, opened before the rotation
    try:
        running.decision(decision="before")
        rotate_start(config)
        finished = rotate_finish(config, None)
        assert finished is not None
        running.decision(decision="after")  # committed: sequencing needs no key
        with pytest.raises(KeyRetired, match="signs with the retired key"):
            running.checkpoint()
        store = open_store(config.store_url)
        try:
            latest = store.latest_checkpoint()
            assert latest is not None
            new_only = [parse_vkey(finished.new_vkey)]
            open_checkpoint(latest.note, new_only, origin=ORIGIN)  # the newest: new key only
        finally:
            store.close()
    finally:
        running.close()
