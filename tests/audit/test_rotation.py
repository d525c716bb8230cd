"""Key rotation: verifiers holding only the old key, or only the new one, keep verifying."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path

import pytest
from tests.audit.conftest import ORIGIN, make_config

from mondaytest.audit import LogConfig, open_log
from mondaytest.audit.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from mondaytest.audit.keys import generate_key_file, load_signer
from mondaytest.audit.merkle import consistency_proof, root_at, verify_consistency
from mondaytest.audit.note import Ed25519Signer, SignatureError, parse_vkey
from mondaytest.audit.publisher import publish_checkpoint
from mondaytest.audit.rotation import rotate_finish, rotate_start
from mondaytest.audit.rotation_proof import rotation_statement, sign_rotation, verified_rotation
from mondaytest.audit.store import open_store
from mondaytest.audit.store.interface import StoredCheckpoint
from mondaytest.audit.verify import follow_rotations, fsck, unsigned_rotations
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


def _forged_rotation(config: LogConfig, phase: str, old_vkey: str, attacker: Ed25519Signer) -> int:
    """Append a key_rotation from ``old_vkey`` to ``attacker``'s key the way anyone with write
    access to the store can: both signatures made with the attacker's key."""
    statement = rotation_statement(ORIGIN, phase, old_vkey, attacker.vkey)
    sig = base64.b64encode(attacker.sign(statement)).decode()
    with open_log(config) as log:
        idx = log.append(
            "key_rotation",
            {
                "phase": phase,
                "old_vkey": old_vkey,
                "new_vkey": attacker.vkey,
                "old_sig": sig,
                "new_sig": sig,
            },
        )
        log.checkpoint()  # the genuine writer signs over it: the entry is in the signed log
    assert idx is not None
    return idx


def test_a_rotation_entry_not_signed_by_the_old_key_introduces_no_key(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    assert config.vkey is not None
    _append(config, 3)
    attacker = Ed25519Signer.generate(ORIGIN)
    forged = _forged_rotation(config, "start", config.vkey, attacker)
    store = open_store(config.store_url)
    try:
        publish_checkpoint(store, ORIGIN, [attacker], republish=True)  # signed by the attacker only
        trusted = [parse_vkey(config.vkey)]
        followed = follow_rotations(store, trusted, ORIGIN)
        assert [v.key_id for v in followed] == [trusted[0].key_id]
        assert unsigned_rotations(store, ORIGIN) == [forged]
        report = fsck(store, trusted, origin=ORIGIN)
        assert not report.ok
        messages = [f.message for f in report.findings]
        assert any(f"entry {forged}: a key_rotation without" in m for m in messages), messages
        assert any("does not verify" in m for m in messages), messages  # the attacker's checkpoint
    finally:
        store.close()


def test_a_forged_finish_entry_does_not_stop_the_genuine_writer(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    assert config.vkey is not None
    _append(config, 2)
    _forged_rotation(config, "finish", config.vkey, Ed25519Signer.generate(ORIGIN))
    cp = _append(config, 2)  # would raise KeyRetired if the forged entry were believed
    open_checkpoint(cp.note, [parse_vkey(config.vkey)], origin=ORIGIN)


def test_rotation_entries_carry_both_keys_signatures(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    _append(config, 1)
    started = rotate_start(config)
    with open_log(config, readonly=True) as log:
        payload = log.entry(started.entry).payload
    keys = verified_rotation(ORIGIN, payload)
    assert keys is not None
    assert [k.vkey for k in keys] == [started.old_vkey, started.new_vkey]
    # each signature alone, the phase, the origin and the key strings are all bound
    for field, value in (
        ("phase", "finish"),
        ("old_sig", payload["new_sig"]),
        ("new_sig", payload["old_sig"]),
        ("new_vkey", Ed25519Signer.generate(ORIGIN).vkey),
    ):
        assert verified_rotation(ORIGIN, {**payload, field: value}) is None, field
    assert verified_rotation("other.example/log", payload) is None


def _rotate(config: LogConfig) -> tuple[LogConfig, int]:
    """A whole rotation; the config of the new key and the finish entry's index."""
    rotate_start(config)
    finished = rotate_finish(config, None)
    assert finished is not None
    return replace(config, vkey=finished.new_vkey), finished.entry


def test_a_replayed_genuine_finish_entry_does_not_stop_the_key_in_force(tmp_path: Path) -> None:
    config_a = make_config(tmp_path)
    _append(config_a, 1)
    config_b, finish_ab = _rotate(config_a)
    config_c, _ = _rotate(config_b)
    with open_log(config_c, readonly=True) as log:
        genuine = log.entry(finish_ab).payload
    with open_log(config_c) as log:
        log.append("key_rotation", dict(genuine))  # anyone can copy a signed entry
    cp = _append(config_c, 1)  # the writer on key C still signs
    assert config_c.vkey is not None
    open_checkpoint(cp.note, [parse_vkey(config_c.vkey)], origin=ORIGIN)


def test_a_retired_key_vouches_for_nothing_after_its_retirement(tmp_path: Path) -> None:
    config_a = make_config(tmp_path)
    assert config_a.vkey is not None
    _append(config_a, 2)
    retired_key = load_signer(config_a.key or "", base_dir=config_a.base_dir)
    config_b, finish = _rotate(config_a)
    _append(config_b, 3)
    store = open_store(config_a.store_url)
    try:
        # the retired key file is still on disk: sign the current tree with it alone
        forged = sign_checkpoint(
            Checkpoint(ORIGIN, store.size(), root_at(store.size(), store)), [retired_key]
        )
        assert store.size() > finish + 1
        for keys in ([parse_vkey(config_a.vkey)], [retired_key.verifier()]):
            followed = follow_rotations(store, keys, ORIGIN)
            with pytest.raises(SignatureError):
                open_checkpoint(forged, followed, origin=ORIGIN)
            report = fsck(store, keys, origin=ORIGIN, saved=[("forged", forged)])
            assert any(
                "saved checkpoint forged does not verify" in f.message for f in report.findings
            )
        # what it signed before its retirement still verifies with it alone
        assert fsck(store, [parse_vkey(config_a.vkey)], origin=ORIGIN).ok
    finally:
        store.close()


def test_trust_follows_whole_keys_not_key_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rotation whose old key only shares the trusted key's name and 4-byte ID (a collision
    someone searched for) introduces nothing."""
    config = make_config(tmp_path)
    assert config.vkey is not None
    _append(config, 2)
    trusted = parse_vkey(config.vkey)
    lookalike = Ed25519Signer.generate(ORIGIN).verifier()
    lookalike.key_id = trusted.key_id  # what a 2^32 search would find
    intruder = Ed25519Signer.generate(ORIGIN)
    forged = _forged_rotation(config, "start", config.vkey, intruder)
    import mondaytest.audit.rotation_proof as rotation_proof

    monkeypatch.setattr(
        rotation_proof,
        "verified_rotation",
        lambda origin, payload: (lookalike, intruder.verifier()),
    )
    store = open_store(config.store_url)
    try:
        assert forged < store.size()
        followed = follow_rotations(store, [trusted], ORIGIN)
    finally:
        store.close()
    assert [v.public_key for v in followed] == [trusted.public_key]


def test_finish_needs_the_start_of_this_rotation_in_this_store(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    _append(config, 1)
    elsewhere = replace(config, store_url=f"sqlite:///{tmp_path / 'typo.db'}")
    with pytest.raises(InputError, match="there is no store at"):
        rotate_start(elsewhere)  # a mistyped store is not created
    assert not (tmp_path / "typo.db").exists()
    generate_key_file(tmp_path / "audit.key.next", ORIGIN)  # a next key, no start logged
    with pytest.raises(InputError, match="holds no start of a rotation"):
        rotate_finish(config, None)


def test_why_proves_an_entry_from_before_a_rotation_with_the_old_key_alone(
    tmp_path: Path,
) -> None:
    from mondaytest.audit.why import explain

    config_a = make_config(tmp_path)
    with open_log(config_a) as log:
        idx = log.decision(decision="triage")
    assert idx is not None
    config_b, _ = _rotate(config_a)
    _append(config_b, 2)  # the newest checkpoint is signed by the new key only
    with open_log(config_a, readonly=True) as log:  # a verifier holding only the old vkey
        result = explain(log, idx)
    failed = [c.text for c in result.checks if c.ok is False]
    assert not any("does not verify" in t for t in failed), failed
    assert any("inclusion proved" in c.text for c in result.checks if c.ok)


def test_a_policy_naming_only_the_retired_key_hints_at_the_rotation(tmp_path: Path) -> None:
    from mondaytest.audit.policy import parse_policy
    from mondaytest.audit.verify import newest_witnessed_checkpoint
    from mondaytest.errors import CheckFailed

    config_a = make_config(tmp_path)
    _append(config_a, 1)
    config_b, _ = _rotate(config_a)
    _append(config_b, 1)
    policy = parse_policy(f"log {config_a.vkey}\nquorum none\n", "p.policy")
    store = open_store(config_a.store_url)
    try:
        with pytest.raises(CheckFailed) as caught:
            newest_witnessed_checkpoint(store, policy, origin=ORIGIN)
    finally:
        store.close()
    assert caught.value.hint is not None
    assert "add its new vkey to the policy's `log` line" in caught.value.hint


def test_a_rotation_to_a_retired_key_is_not_followed(tmp_path: Path) -> None:
    """Someone holding a leaked retired key and a key of their own logs a signed rotation from
    their key to the retired one: nothing becomes trusted through it."""
    config_a = make_config(tmp_path)
    _append(config_a, 1)
    key_a = load_signer(config_a.key or "", base_dir=config_a.base_dir)
    config_b, _ = _rotate(config_a)
    intruder = Ed25519Signer.generate(ORIGIN)
    payload = {"phase": "start", "old_vkey": intruder.vkey, "new_vkey": key_a.vkey}
    payload.update(sign_rotation(ORIGIN, "start", intruder, key_a))
    with open_log(config_b) as log:
        log.append("key_rotation", payload)
        log.checkpoint()  # the genuine writer (key B) signs over it
    assert config_b.vkey is not None
    store = open_store(config_a.store_url)
    try:
        followed = follow_rotations(store, [parse_vkey(config_b.vkey)], ORIGIN)
    finally:
        store.close()
    assert intruder.public_key not in [getattr(v, "public_key", None) for v in followed]


def test_a_writer_opened_in_the_window_keeps_signing_verifiably_after_the_finish(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path)
    _append(config, 1)
    rotate_start(config)
    window = open_log(config)  # signs with both keys
    try:
        finished = rotate_finish(config, None)
        assert finished is not None
        window.decision(decision="after")
        window.checkpoint()
    finally:
        window.close()
    store = open_store(config.store_url)
    try:
        for vkey in (config.vkey, finished.new_vkey):
            assert vkey is not None
            report = fsck(store, [parse_vkey(vkey)], origin=ORIGIN)
            assert report.ok, report.findings
    finally:
        store.close()


def test_an_interrupted_finish_completes_when_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(tmp_path)
    _append(config, 1)
    rotate_start(config)
    real_replace = Path.replace
    calls = {"n": 0}

    def failing_replace(self: Path, target: Path) -> Path:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(28, "No space left on device")
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", failing_replace)
    with pytest.raises(InputError, match=r"finish entry .* is logged"):
        rotate_finish(config, None)
    monkeypatch.setattr(Path, "replace", real_replace)
    finished = rotate_finish(config, None)
    assert finished is not None
    store = open_store(config.store_url)
    try:
        finishes = [
            r.idx for r in store.search(kind="key_rotation") if b'"phase":"finish"' in r.body
        ]
    finally:
        store.close()
    assert finishes == [finished.entry]  # logged once
