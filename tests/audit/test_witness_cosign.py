"""The CI witness cosigns what it saves, and cosignatures come back into the store: the witness
adds a timestamped ``cosignature/v1``, :func:`store_cosignatures` checks the note against the
store's newest checkpoint and every cosignature against known witness keys, and a republished
checkpoint keeps them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from tests.audit.conftest import ORIGIN, make_config

from mondaytest.audit import LogConfig, open_log
from mondaytest.audit.checkpoint import (
    Checkpoint,
    carry_cosignatures,
    open_checkpoint,
    peek_checkpoint,
    sign_checkpoint,
)
from mondaytest.audit.keys import load_signer
from mondaytest.audit.note import (
    CosignatureSigner,
    CosignatureVerifier,
    Ed25519Signer,
    NoteSignature,
    add_signatures,
    cosignature_message,
    split_note,
)
from mondaytest.audit.policy import parse_policy
from mondaytest.audit.store import open_store
from mondaytest.audit.verify import fsck, newest_witnessed_checkpoint
from mondaytest.audit.witness import store_cosignatures, witness, witness_file
from mondaytest.errors import CheckFailed, InputError

T0 = 1_790_000_000


def _witness_key(name: str, now: list[int]) -> CosignatureSigner:
    """A witness key whose clock reads ``now[0]``."""
    signer = CosignatureSigner.generate(name)
    return CosignatureSigner(name, signer._key, clock=lambda: now[0])


@pytest.fixture
def log_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LogConfig:
    """A log of 10 entries (with genesis) and a checkpoint over them."""
    monkeypatch.chdir(tmp_path)
    config = make_config(tmp_path)
    with open_log(config) as log:
        log.append_drafts([log.draft("decision", {"decision": "triage"}) for _ in range(9)])
        log.checkpoint()
    return config


def _rows(config: LogConfig) -> list[tuple[int, int, bytes]]:
    conn = sqlite3.connect(config.store_url.removeprefix("sqlite:///"))
    try:
        return [
            (int(seq), int(size), bytes(note))
            for seq, size, note in conn.execute("SELECT seq, size, note FROM checkpoints")
        ]
    finally:
        conn.close()


def _witness(config: LogConfig, directory: Path, cosigner: CosignatureSigner | None) -> Path:
    store = open_store(config.store_url)
    try:
        result = witness(
            store, config.verifiers(), ORIGIN, directory, commit=False, cosigner=cosigner
        )
    finally:
        store.close()
    return result.path


def _cosign(config: LogConfig, note: bytes, *keys: CosignatureSigner) -> tuple[int | None, int]:
    store = open_store(config.store_url)
    try:
        result = store_cosignatures(
            store, note, config.verifiers(), [k.verifier() for k in keys], source="w.checkpoint"
        )
    finally:
        store.close()
    return result.seq, len(result.added)


def _latest_note(config: LogConfig) -> bytes:
    return _rows(config)[-1][2]


# --- the witness cosigns --------------------------------------------------------------------


def test_the_witness_cosigns_the_checkpoint_it_saves(log_config: LogConfig, tmp_path: Path) -> None:
    now = [T0]
    ci = _witness_key("ci.example/witness", now)
    path = _witness(log_config, tmp_path / "w", ci)
    note = path.read_bytes()
    cp = open_checkpoint(note, [*log_config.verifiers(), ci.verifier()], origin=ORIGIN)
    assert cp.size == 10
    assert [(s.name, s.timestamp) for s in cp.cosignatures] == [("ci.example/witness", T0)]
    # the cosignature is the C2SP one: Ed25519 over "cosignature/v1\ntime T\n" + the body
    text, sigs = split_note(note)
    raw = sigs[-1].signature
    assert int.from_bytes(raw[:8], "big") == T0
    ci._key.public_key().verify(raw[8:], cosignature_message(text.encode(), T0))
    # a later run with nothing new re-cosigns at the new time: one cosignature by this key
    now[0] = T0 + 60
    note = _witness(log_config, tmp_path / "w", ci).read_bytes()
    cp = open_checkpoint(note, [*log_config.verifiers(), ci.verifier()], origin=ORIGIN)
    assert [s.timestamp for s in cp.cosignatures] == [T0 + 60]
    # without a key the saved note is the log's, as before
    plain = _witness(log_config, tmp_path / "plain", None).read_bytes()
    assert plain == _latest_note(log_config)


def test_the_witness_signs_nothing_when_the_log_was_rolled_back(
    log_config: LogConfig, tmp_path: Path
) -> None:
    ci = _witness_key("ci.example/witness", [T0])
    with open_log(log_config) as log:
        log.append_drafts([log.draft("decision", {"decision": "triage"})])
        log.checkpoint()
    path = _witness(log_config, tmp_path / "w", ci)
    saved = path.read_bytes()
    conn = sqlite3.connect(log_config.store_url.removeprefix("sqlite:///"))
    conn.execute("DELETE FROM checkpoints WHERE size = 11")  # back to the checkpoint at 10
    conn.commit()
    conn.close()
    with pytest.raises(CheckFailed, match="rolled back or truncated"):
        _witness(log_config, tmp_path / "w", _witness_key("ci.example/witness", [T0 + 5]))
    assert path.read_bytes() == saved


def test_a_witness_key_named_after_the_log_is_refused(
    log_config: LogConfig, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="the log's own origin") as err:
        _witness(log_config, tmp_path / "w", _witness_key(ORIGIN, [T0]))
    assert err.value.exit_code == 2
    assert not witness_file(tmp_path / "w", ORIGIN).exists()


# --- cosignatures reach the store -------------------------------------------------------------


def test_cosignatures_are_stored_and_meet_the_policy(log_config: LogConfig, tmp_path: Path) -> None:
    w1 = _witness_key("w1.example/w", [T0])
    w2 = _witness_key("w2.example/w", [T0 + 1])
    policy = parse_policy(
        f"log {log_config.vkey}\nwitness W1 {w1.vkey}\nwitness W2 {w2.vkey}\n"
        "group both all W1 W2\nquorum both\n",
        "p.policy",
    )
    before = len(_rows(log_config))
    note = _witness(log_config, tmp_path / "w", w1).read_bytes()
    assert _cosign(log_config, note, w1, w2) == (before + 1, 1)
    # a second witness's note, cosigned on its own, is merged with what is stored
    alone = add_signatures(_log_only(note), [w2])
    assert _cosign(log_config, alone, w1, w2) == (before + 2, 1)
    result = policy.check(_latest_note(log_config), origin=ORIGIN)
    assert result.witnesses == ("W1", "W2")
    assert result.cosigned_at == {"W1": T0, "W2": T0 + 1}
    # the same file again stores nothing
    assert _cosign(log_config, alone, w1, w2) == (None, 0)
    assert len(_rows(log_config)) == before + 2
    # fsck accepts the cosigned rows (same size and root as the log's checkpoint)
    store = open_store(log_config.store_url)
    try:
        report = fsck(store, log_config.verifiers())
    finally:
        store.close()
    assert report.ok, report.findings
    assert report.checkpoints == before + 2


def _log_only(note: bytes) -> bytes:
    """``note`` with only the log's signature line."""
    text, sigs = split_note(note)
    return (text + "\n" + "".join(s.line() for s in sigs if s.name == ORIGIN)).encode()


def test_a_newer_cosignature_by_the_same_witness_replaces_the_older(
    log_config: LogConfig, tmp_path: Path
) -> None:
    now = [T0]
    ci = _witness_key("ci.example/witness", now)
    _cosign(log_config, _witness(log_config, tmp_path / "w", ci).read_bytes(), ci)
    now[0] = T0 + 600
    seq, added = _cosign(log_config, _witness(log_config, tmp_path / "w", ci).read_bytes(), ci)
    assert seq is not None
    assert added == 1
    cp = open_checkpoint(_latest_note(log_config), [*log_config.verifiers(), ci.verifier()])
    assert [s.timestamp for s in cp.cosignatures] == [T0 + 600]


def test_republishing_the_same_checkpoint_keeps_its_cosignatures(
    log_config: LogConfig, tmp_path: Path
) -> None:
    ci = _witness_key("ci.example/witness", [T0])
    _cosign(log_config, _witness(log_config, tmp_path / "w", ci).read_bytes(), ci)
    keys = [*log_config.verifiers(), ci.verifier()]
    with open_log(log_config) as log:
        republished = log.checkpoint()  # same size and root, signed again
    assert republished.size == 10
    assert len(open_checkpoint(republished.note, keys).cosignatures) == 1
    assert _latest_note(log_config) == republished.note
    # a checkpoint of a bigger tree has another text: nothing is carried to it
    with open_log(log_config) as log:
        log.append_drafts([log.draft("decision", {"decision": "triage"})])
        grown = log.checkpoint()
    assert open_checkpoint(grown.note, keys).cosignatures == ()


def test_carry_cosignatures_only_between_notes_of_one_text() -> None:
    w = CosignatureSigner.generate("w.example/w")
    key = Ed25519Signer.generate(ORIGIN)
    old_key = Ed25519Signer.generate(ORIGIN)
    a = Checkpoint(ORIGIN, 5, b"\x01" * 32)
    b = Checkpoint(ORIGIN, 6, b"\x02" * 32)
    cosigned = add_signatures(sign_checkpoint(a, [old_key, key]), [w])
    fresh = sign_checkpoint(a, [key])
    carried = carry_cosignatures(fresh, cosigned)
    names = [s.name for s in split_note(carried)[1]]
    assert names == [ORIGIN, "w.example/w"]  # the retired log key's line is not carried
    assert carry_cosignatures(sign_checkpoint(b, [key]), cosigned) == sign_checkpoint(b, [key])
    assert carry_cosignatures(b"junk", cosigned) == b"junk"


def test_a_cosignature_by_an_unknown_key_is_refused(log_config: LogConfig, tmp_path: Path) -> None:
    ci = _witness_key("ci.example/witness", [T0])
    stranger = _witness_key("stranger.example/w", [T0])
    note = add_signatures(_witness(log_config, tmp_path / "w", ci).read_bytes(), [stranger])
    before = _rows(log_config)
    with pytest.raises(CheckFailed, match=r"signature by stranger.example/w \(") as err:
        _cosign(log_config, note, ci)
    assert "is from a key that is not trusted" in err.value.message
    assert err.value.exit_code == 1
    assert _rows(log_config) == before


def test_a_bad_cosignature_by_a_known_witness_is_refused(
    log_config: LogConfig, tmp_path: Path
) -> None:
    ci = _witness_key("ci.example/witness", [T0])
    note = _witness(log_config, tmp_path / "w", ci).read_bytes()
    text, sigs = split_note(note)
    bad = bytearray(sigs[-1].signature)
    bad[-1] ^= 1
    forged = (
        text + "\n" + sigs[0].line() + NoteSignature(ci.name, ci.key_id, bytes(bad)).line()
    ).encode()
    before = _rows(log_config)
    with pytest.raises(
        CheckFailed, match=r"w\.checkpoint: signature by ci\.example/witness"
    ) as err:
        _cosign(log_config, forged, ci)
    assert err.value.exit_code == 1
    assert _rows(log_config) == before


def test_notes_that_are_not_the_stores_newest_checkpoint(
    log_config: LogConfig, tmp_path: Path
) -> None:
    ci = _witness_key("ci.example/witness", [T0])
    old = _witness(log_config, tmp_path / "w", ci).read_bytes()
    signer = load_signer(str(log_config.key))
    cp = peek_checkpoint(old)
    # the log signed another tree of the same size: a fork
    fork = add_signatures(
        sign_checkpoint(Checkpoint(ORIGIN, cp.size, b"\x07" * 32), [signer]), [ci]
    )
    with pytest.raises(CheckFailed, match="two different trees of one size") as err:
        _cosign(log_config, fork, ci)
    assert err.value.exit_code == 1
    # a bigger tree than the store holds: another store, or a rolled-back one
    ahead = add_signatures(sign_checkpoint(Checkpoint(ORIGIN, 99, b"\x07" * 32), [signer]), [ci])
    with pytest.raises(CheckFailed, match="newest checkpoint is of size 10"):
        _cosign(log_config, ahead, ci)
    # not signed by the log's key
    other = Ed25519Signer.generate(ORIGIN)
    foreign = add_signatures(sign_checkpoint(Checkpoint(ORIGIN, 10, cp.root), [other]), [ci])
    with pytest.raises(CheckFailed, match="carries no valid signature by the log's own key"):
        _cosign(log_config, foreign, ci)
    # no cosignature at all: nothing to store (exit 2)
    with pytest.raises(InputError, match="carries no witness cosignature") as err2:
        _cosign(log_config, _log_only(old), ci)
    assert err2.value.exit_code == 2
    with pytest.raises(InputError, match="is not a checkpoint note"):
        _cosign(log_config, b"hello\n", ci)


def test_an_older_checkpoint_is_cosigned_in_place_and_meets_the_policy(
    log_config: LogConfig, tmp_path: Path
) -> None:
    ci = _witness_key("ci.example/witness", [T0])
    old = _witness(log_config, tmp_path / "w", ci).read_bytes()
    old_cp = peek_checkpoint(old)
    # the log moves on while the witness runs (a busy log publishes every second)
    with open_log(log_config) as log:
        log.append_drafts([log.draft("decision", {"decision": "triage"})])
        log.checkpoint()
    before = _rows(log_config)
    seq, added = _cosign(log_config, old, ci)
    assert added == 1
    after = _rows(log_config)
    assert len(after) == len(before)  # no new row: sizes in publication order never go down
    changed = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert len(changed) == 1
    (row_before, row_after) = changed[0]
    assert row_after[0] == seq
    assert row_after[1] == old_cp.size
    # the same text and log signature, plus the witness's cosignature
    assert split_note(row_after[2])[0] == split_note(row_before[2])[0]
    assert set(split_note(row_before[2])[1]) < set(split_note(row_after[2])[1])
    # cosigning it again stores nothing
    assert _cosign(log_config, old, ci) == (None, 0)
    assert _rows(log_config) == after
    # fsck accepts it, and a policy needing the CI witness stands on that older checkpoint
    policy = parse_policy(f"log {log_config.vkey}\nwitness CI {ci.vkey}\nquorum CI\n", "p.policy")
    store = open_store(log_config.store_url)
    try:
        report = fsck(store, log_config.verifiers())
        assert report.ok, report.findings
        result = newest_witnessed_checkpoint(store, policy, origin=ORIGIN)
    finally:
        store.close()
    assert result.witnessed.checkpoint.size == old_cp.size
    assert result.seq == seq
    assert result.newest_size == old_cp.size + 1  # the newer checkpoint lacks the quorum
    assert result.newest_gap is not None


def test_cosignature_verifier_round_trip() -> None:
    ci = _witness_key("ci.example/witness", [T0])
    assert isinstance(ci.verifier(), CosignatureVerifier)
    assert ci.vkey.split("+")[2].startswith("B")  # type 0x04


def test_two_witness_runs_at_once_never_move_the_saved_checkpoint_back(
    log_config: LogConfig, tmp_path: Path
) -> None:
    import threading

    from mondaytest.audit import witness as w

    directory = tmp_path / "wit"
    paused, resume = threading.Event(), threading.Event()
    real = w.open_checkpoint

    def slow_open(note: bytes, *args: object, **kwargs: object) -> object:
        if threading.current_thread().name == "slow" and not paused.is_set():
            paused.set()
            resume.wait(10)
        return real(note, *args, **kwargs)  # type: ignore[arg-type]

    results: dict[str, int] = {}

    def run(name: str) -> None:
        store = open_store(log_config.store_url)
        try:
            results[name] = w.witness(
                store, log_config.verifiers(), ORIGIN, directory, commit=False
            ).current.size
        finally:
            store.close()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(w, "open_checkpoint", slow_open)
        slow = threading.Thread(target=run, args=("slow",), name="slow")
        slow.start()
        assert paused.wait(10)  # the slow run holds the directory and read size 10
        with open_log(log_config) as log:  # the log moves on
            log.append_drafts([log.draft("decision", {"decision": "triage"})] * 3)
            log.checkpoint()
        fast = threading.Thread(target=run, args=("fast",), name="fast")
        fast.start()  # waits for the slow run instead of racing it
        resume.set()
        slow.join(10)
        fast.join(10)
    assert results == {"slow": 10, "fast": 13}
    saved = peek_checkpoint(witness_file(directory, ORIGIN).read_bytes())
    assert saved.size == 13


def test_a_damaged_witness_file_is_named_with_how_to_restore_it(
    log_config: LogConfig, tmp_path: Path
) -> None:
    path = _witness(log_config, tmp_path / "w", None)
    path.write_bytes(path.read_bytes().replace(b"\n\n", b"\n", 1))
    store = open_store(log_config.store_url)
    try:
        with pytest.raises(InputError, match=r"the witnessed checkpoint .*git checkout") as err:
            witness(store, log_config.verifiers(), ORIGIN, tmp_path / "w", commit=False)
    finally:
        store.close()
    assert str(path) in str(err.value)


def test_a_malformed_older_checkpoint_fails_the_policy_check_naming_its_row(
    log_config: LogConfig,
) -> None:
    ci = CosignatureSigner.generate("ci.example/witness")
    with open_log(log_config) as log:
        log.append_drafts([log.draft("decision", {"decision": "triage"})])
        first = log.checkpoint()
        log.append_drafts([log.draft("decision", {"decision": "triage"})])
        log.checkpoint()
    conn = sqlite3.connect(log_config.store_url.removeprefix("sqlite:///"))
    with conn:  # a CR inside the older note: it no longer parses
        conn.execute(
            "UPDATE checkpoints SET note = ? WHERE seq = ?",
            (first.note.replace(b"\n", b"\r\n", 1), first.seq),
        )
    conn.close()
    policy = parse_policy(f"log {log_config.vkey}\nwitness CI {ci.vkey}\nquorum CI\n", "p.policy")
    store = open_store(log_config.store_url)
    try:
        with pytest.raises(CheckFailed, match=rf"stored checkpoint #{first.seq} .* is malformed"):
            newest_witnessed_checkpoint(store, policy, origin=ORIGIN)
    finally:
        store.close()
