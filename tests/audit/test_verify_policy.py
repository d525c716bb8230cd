"""``verify --policy`` on a whole store and on a tiles export: the latest checkpoint must be
signed by a log of the policy and carry the witness quorum; then everything is verified."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.audit.conftest import ORIGIN, make_config

from mondaytest.audit import LogConfig, open_log
from mondaytest.audit.export import export_store
from mondaytest.audit.note import CosignatureSigner, add_signatures
from mondaytest.audit.policy import QuorumNotMet, load_policy
from mondaytest.audit.retention import enforce_retention
from mondaytest.audit.store import open_store
from mondaytest.audit.verify import verify_store, verify_tiles_export
from mondaytest.cli.app import main
from mondaytest.errors import CheckFailed

W1 = CosignatureSigner.generate("w1.example/witness")
W2 = CosignatureSigner.generate("w2.example/witness")
W3 = CosignatureSigner.generate("w3.example/witness")


@pytest.fixture
def log_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LogConfig:
    """A log of 40 entries with a checkpoint over them, and ``p.policy`` (2 of W1, W2, W3)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONDAY_DATABASE_URL", raising=False)
    config = make_config(tmp_path)
    with open_log(config) as log:
        log.append_drafts([log.draft("decision", {"decision": "triage"}) for _ in range(39)])
        log.checkpoint()
    Path("p.policy").write_text(
        f"log {config.vkey}\n"
        f"witness W1 {W1.vkey}\nwitness W2 {W2.vkey}\nwitness W3 {W3.vkey}\n"
        "group witnesses 2 W1 W2 W3\nquorum witnesses\n",
        encoding="utf-8",
    )
    return config


def _cosign_latest(config: LogConfig, *witnesses: CosignatureSigner) -> None:
    """Store a copy of the newest checkpoint cosigned by ``witnesses`` (as an operator would
    after collecting the cosignatures)."""
    store = open_store(config.store_url)
    try:
        latest = store.latest_checkpoint()
        assert latest is not None
        note = add_signatures(latest.note, list(witnesses))
        with store.write() as tx:
            tx.insert_checkpoint(latest.size, latest.root, note, time.time())
    finally:
        store.close()


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["audit", "verify", *args])
    captured = capsys.readouterr()
    return code, " ".join(captured.out.split()), " ".join(captured.err.split())


# --- store --------------------------------------------------------------------------------


def test_store_under_a_policy(log_config: LogConfig, capsys: pytest.CaptureFixture[str]) -> None:
    store = ["--store", log_config.store_url, "--policy", "p.policy"]
    # no cosignature: the quorum is named with what was found
    code, _out, err = _run(capsys, *store)
    assert code == 1
    assert "witness quorum witnesses of p.policy is not met" in err
    assert f"{ORIGIN} at size 40" in err
    assert "needs 2 of 3 (W1, W2, W3) and has 0" in err
    # one cosignature is still short of 2
    _cosign_latest(log_config, W1)
    code, _out, err = _run(capsys, *store)
    assert code == 1
    assert "needs 2 of 3 (W1, W2, W3) and has 1 (W1); 1 more from: W2, W3" in err
    # two: met, and the whole store is recomputed as without a policy
    _cosign_latest(log_config, W3)  # the newest stored checkpoint now carries W1 and W3
    code, out, _err = _run(capsys, *store)
    assert code == 0, _err
    assert "40 entries of" in out
    assert "cosigned by W1, W3; quorum witnesses met" in out
    # the same with --vkey, and as JSON
    code, out, _err = _run(capsys, *store, "--vkey", str(log_config.vkey), "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["ok"] is True
    assert report["size"] == 40
    assert "quorum witnesses met" in report["policy"]


def test_store_policy_met_but_the_store_was_changed(
    log_config: LogConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    _cosign_latest(log_config, W1, W2)
    db = Path(log_config.store_url.removeprefix("sqlite:///"))
    conn = sqlite3.connect(db)
    body = conn.execute("SELECT body FROM entries WHERE idx = 7").fetchone()[0]
    conn.execute(
        "UPDATE entries SET body = ? WHERE idx = 7", (bytes(body).replace(b"triage", b"triagE"),)
    )
    conn.commit()
    conn.close()
    code, _out, err = _run(capsys, "--store", log_config.store_url, "--policy", "p.policy")
    assert code == 1
    assert "first bad entry: 7" in err


def test_store_policy_that_does_not_list_the_log(
    log_config: LogConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    _cosign_latest(log_config, W1, W2)
    Path("other.policy").write_text(f"witness W1 {W1.vkey}\nquorum W1\n", encoding="utf-8")
    code, _out, err = _run(capsys, "--store", log_config.store_url, "--policy", "other.policy")
    assert code == 1
    assert f"trusts no log with origin {ORIGIN!r}" in err
    # a log key the policy does not list may be added with --vkey, as for receipts
    code, out, _err = _run(
        capsys,
        "--store",
        log_config.store_url,
        "--policy",
        "other.policy",
        "--vkey",
        str(log_config.vkey),
    )
    assert code == 0, _err
    assert "quorum W1 met" in out


def test_store_policy_user_errors_exit_2(
    log_config: LogConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = _run(capsys, "--store", log_config.store_url, "--policy", "missing.policy")
    assert code == 2
    assert "cannot read policy file" in err
    Path("bad.policy").write_text("quorum nobody\n", encoding="utf-8")
    code, _out, err = _run(capsys, "--store", log_config.store_url, "--policy", "bad.policy")
    assert code == 2
    assert "bad.policy:1" in err
    sqlite3.connect(tmp_path / "empty.db").close()
    code, _out, err = _run(
        capsys, "--store", f"sqlite:///{tmp_path}/empty.db", "--policy", "p.policy"
    )
    assert code == 2
    assert "is not a Monday audit store" in err
    code, _out, err = _run(capsys, "--store", str(tmp_path / "nope.db"), "--policy", "p.policy")
    assert code == 2
    assert "there is no store at" in err
    assert not (tmp_path / "nope.db").exists()  # not created by looking
    assert "Traceback" not in err


def test_a_store_without_a_checkpoint_fails_a_policy(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with open_log(config) as log:
        log.append_drafts([log.draft("decision", {"decision": "triage"})])
    conn = sqlite3.connect(config.store_url.removeprefix("sqlite:///"))
    conn.execute("DELETE FROM checkpoints")  # as if no checkpoint had been published yet
    conn.commit()
    conn.close()
    Path(tmp_path / "p.policy").write_text(f"log {config.vkey}\nquorum none\n", encoding="utf-8")
    store = open_store(config.store_url)
    try:
        with pytest.raises(CheckFailed, match="has no checkpoint") as err:
            verify_store(store, [], policy=load_policy(tmp_path / "p.policy"))
    finally:
        store.close()
    assert err.value.exit_code == 1


# --- tiles --------------------------------------------------------------------------------


def _export(config: LogConfig, directory: Path) -> None:
    with open_log(config, readonly=True) as log:
        export_store(log, directory)


def _cosign_export(directory: Path, *witnesses: CosignatureSigner) -> None:
    path = directory / "checkpoint"
    path.write_bytes(add_signatures(path.read_bytes(), list(witnesses)))


def test_tiles_under_a_policy(
    log_config: LogConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tiles = tmp_path / "tiles"
    _export(log_config, tiles)
    args = ["--tiles", str(tiles), "--policy", "p.policy"]
    code, _out, err = _run(capsys, *args)
    assert code == 1
    assert "witness quorum witnesses of p.policy is not met" in err
    assert "needs 2 of 3 (W1, W2, W3) and has 0" in err
    _cosign_export(tiles, W2)
    code, _out, err = _run(capsys, *args)
    assert code == 1
    assert "has 1 (W2); 1 more from: W1, W3" in err
    _cosign_export(tiles, W3)
    code, out, _err = _run(capsys, *args)
    assert code == 0, _err
    assert "40 entries of" in out
    assert "40 entries checked against their leaf hashes" in out
    assert "cosigned by W2, W3; quorum witnesses met" in out
    # the quorum does not excuse the rest: a changed entry still fails
    bundle = tiles / "tile/entries/000.p/40"
    bundle.write_bytes(bundle.read_bytes().replace(b"triage", b"triagE", 1))
    code, _out, err = _run(capsys, *args)
    assert code == 1
    assert "does not match its leaf hash" in err


def test_tiles_under_a_policy_library_and_pruned(log_config: LogConfig, tmp_path: Path) -> None:
    policy = load_policy("p.policy")
    config = replace(log_config, retention="P200D")
    with open_log(config) as log:
        log.append_drafts([log.draft("decision", {"decision": "triage"}) for _ in range(260)])
        assert enforce_retention(log, now=datetime.now(UTC) + timedelta(days=201)).entry == 300
    tiles = tmp_path / "tiles"
    _export(config, tiles)
    assert not (tiles / "tile/entries/000").exists()
    with pytest.raises(QuorumNotMet) as err:
        verify_tiles_export(tiles, [], policy=policy)
    assert err.value.result.witnesses == ()
    _cosign_export(tiles, W1, W2, W3)
    report, result = verify_tiles_export(tiles, [], policy=policy)
    assert result is not None
    assert result.witnesses == ("W1", "W2", "W3")
    assert (report.checkpoint.size, report.entries_checked) == (301, 45)
    assert (report.min_index, report.pruned) == (300, 256)


# --- a growing store: the newest checkpoint that meets the quorum ---------------------------


def _grow(config: LogConfig, n: int) -> None:
    """Append ``n`` entries; closing the log publishes a (not cosigned) checkpoint over them."""
    with open_log(config) as log:
        log.append_drafts([log.draft("decision", {"decision": "triage"}) for _ in range(n)])


def test_a_growing_store_passes_on_its_newest_cosigned_checkpoint(
    log_config: LogConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    _cosign_latest(log_config, W1, W3)  # size 40
    _grow(log_config, 5)  # a newer checkpoint at size 45, cosigned by nobody
    store = open_store(log_config.store_url)
    try:
        rows = store.checkpoints()
        assert (rows[-1].size, rows[-2].size) == (45, 40)
        report, result = verify_store(store, [], policy=load_policy("p.policy"))
    finally:
        store.close()
    assert report.ok
    assert result is not None
    assert result.seq == rows[-2].seq
    assert result.witnessed.checkpoint.size == 40
    assert result.witnessed.witnesses == ("W1", "W3")
    assert (result.newest_size, result.entries, result.unwitnessed) == (45, 45, 5)
    assert result.newest_gap == (
        "group witnesses needs 2 of 3 (W1, W2, W3) and has 0; 2 more from: W1, W2, W3"
    )

    args = ["--store", log_config.store_url, "--policy", "p.policy"]
    code, out, err = _run(capsys, *args)
    assert code == 0, err
    assert "45 entries of" in out  # the whole store is recomputed, not only up to 40
    assert (
        f"checkpoint of {ORIGIN} at size 40 signed by the log; cosigned by W1, W3; quorum "
        "witnesses met under policy p.policy (from --policy); 5 entries after it (40..44) are "
        "not yet witnessed (the newest checkpoint, at size 45, does not meet the quorum yet: "
        "group witnesses needs 2 of 3 (W1, W2, W3) and has 0" in out
    )
    code, out, err = _run(capsys, *args, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["ok"], data["size"]) == (True, 45)
    assert (data["witnessed_size"], data["newest_checkpoint_size"]) == (40, 45)
    assert data["not_yet_witnessed"] == 5
    assert "needs 2 of 3" in data["newest_quorum_gap"]
    assert "quorum witnesses met" in data["policy"]

    # once the newest checkpoint is cosigned too, nothing is left unwitnessed
    _cosign_latest(log_config, W2, W3)
    code, out, err = _run(capsys, *args, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["witnessed_size"], data["not_yet_witnessed"]) == (45, 0)
    assert data["newest_quorum_gap"] is None
    code, out, _err = _run(capsys, *args)
    assert "not yet witnessed" not in out


def test_a_growing_store_without_any_checkpoint_meeting_the_quorum_fails(
    log_config: LogConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    _cosign_latest(log_config, W1)  # one cosignature: short of 2
    _grow(log_config, 5)
    store = open_store(log_config.store_url)
    try:
        older = len(store.checkpoints()) - 1
        with pytest.raises(QuorumNotMet) as err:
            verify_store(store, [], policy=load_policy("p.policy"))
    finally:
        store.close()
    assert err.value.exit_code == 1
    assert err.value.result.checkpoint.size == 45  # what the newest checkpoint carries
    code, _out, text = _run(capsys, "--store", log_config.store_url, "--policy", "p.policy")
    assert code == 1
    assert (
        f"witness quorum witnesses of p.policy is not met for {ORIGIN} at size 45: group "
        "witnesses needs 2 of 3 (W1, W2, W3) and has 0; 2 more from: W1, W2, W3; none of the "
        f"{older} older stored checkpoints meets it either" in text
    )
    assert "monday audit cosign" in text


def test_a_change_before_the_witnessed_checkpoint_still_fails(
    log_config: LogConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    _cosign_latest(log_config, W1, W2)  # size 40
    _grow(log_config, 5)
    db = Path(log_config.store_url.removeprefix("sqlite:///"))
    args = ["--store", log_config.store_url, "--policy", "p.policy"]
    for idx in (7, 42):  # covered by the witnessed checkpoint, and after it
        conn = sqlite3.connect(db)
        body = bytes(conn.execute("SELECT body FROM entries WHERE idx = ?", (idx,)).fetchone()[0])
        conn.execute(
            "UPDATE entries SET body = ? WHERE idx = ?", (body.replace(b"triage", b"triagE"), idx)
        )
        conn.commit()
        conn.close()
        code, out, err = _run(capsys, *args)
        assert code == 1
        assert f"first bad entry: {idx}" in err
        assert "not yet witnessed" not in out
        conn = sqlite3.connect(db)
        conn.execute("UPDATE entries SET body = ? WHERE idx = ?", (body, idx))
        conn.commit()
        conn.close()
        assert _run(capsys, *args)[0] == 0
