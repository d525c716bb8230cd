"""``monday audit`` end to end: keygen into a commented contract, append, receipts, verify."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from tests.conftest import VALID_SPEC, write_project

from mondaytest.cli.app import main

COMMENTED = VALID_SPEC.replace(
    "audit:\n  origin: audit.example.com/claims\n",
    "# The signed log.\naudit:\n  origin: audit.example.com/claims   # the log's name\n"
    "  # where the key lives; never commit it\n  key: file:.monday/keys/audit.key\n"
    "  durability: sequenced # keep\n",
)


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A governed project in a git repository, as the current directory."""
    spec = write_project(tmp_path, COMMENTED)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONDAY_DATABASE_URL", raising=False)
    return spec


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8"))))


def _keygen(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["audit", "keygen"]) == 0
    return capsys.readouterr().out.strip()


def test_keygen_records_the_vkey_and_keeps_every_comment(
    proj: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = proj.read_text()
    vkey = _keygen(capsys)
    assert vkey.startswith("audit.example.com/claims+")
    after = proj.read_text()
    inserted = [line for line in after.splitlines() if line not in before.splitlines()]
    assert inserted == [f"  vkey: {vkey}"]
    assert after.replace(f"  vkey: {vkey}\n", "") == before  # nothing else moved
    key = proj.parent / ".monday" / "keys" / "audit.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    ignored = subprocess.run(["git", "check-ignore", "-q", str(key)], cwd=proj.parent, check=False)
    assert ignored.returncode == 0
    # again: the key is reused, the contract unchanged
    assert _keygen(capsys) == vkey
    assert proj.read_text() == after


def test_keygen_replaces_an_existing_vkey_line_in_place(
    proj: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vkey = _keygen(capsys)
    assert main(["audit", "keygen", "--force"]) == 0
    new = capsys.readouterr().out.strip()
    assert new != vkey
    text = proj.read_text()
    assert text.count("vkey:") == 1
    assert f"  vkey: {new}\n" in text


def test_keygen_outside_a_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "k.key"
    assert main(["audit", "keygen", "--out", str(out), "--origin", "x.example/log"]) == 0
    assert capsys.readouterr().out.startswith("x.example/log+")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert main(["audit", "keygen", "--out", str(out)]) == 2
    assert "--out needs --origin" in capsys.readouterr().err


def test_init_keygen_append_with_no_hand_edits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONDAY_DATABASE_URL", raising=False)
    assert main(["init", "."]) == 0
    assert main(["audit", "keygen"]) == 0
    capsys.readouterr()
    _stdin(monkeypatch, '{"kind": "decision", "payload": {"decision": "classify"}}\n')
    assert main(["audit", "append"]) == 0
    assert capsys.readouterr().out == "1\n"


def test_append_prints_indexes_and_log_shows_them(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _keygen(capsys)
    lines = [
        {"kind": "model_version", "payload": {"model": "m", "version": "1"}},
        {"kind": "decision", "payload": {"decision": "triage", "outcome": {"code": "a"}}},
        {"type": "decision", "payload": {"decision": "triage"}, "actor": "tok:svc"},
    ]
    _stdin(monkeypatch, "\n".join(json.dumps(x) for x in lines) + "\n\n")
    assert main(["audit", "append"]) == 0
    assert capsys.readouterr().out.split() == ["1", "2", "3"]
    _stdin(monkeypatch, json.dumps(lines[1]) + "\n")
    assert main(["audit", "append", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"indexes": [4]}
    assert main(["audit", "log", "-n", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3
    assert "config_idx=1" in out[-1]
    assert main(["audit", "log", "--kind", "model_version", "--format", "json"]) == 0
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["idx"] for e in entries] == [1]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('{"kind": "decision", "payload": {"decision": "t"}}\nnot json\n', 2, "not JSON"),
        ("[1, 2]\n", 1, "must be a JSON object"),
        ('{"payload": {}}\n', 1, 'missing "kind"'),
        ('{"kind": "decision"}\n', 1, 'missing "payload"'),
        ('{"kind": "nope", "payload": {}}\n', 1, "unknown entry kind 'nope'"),
        ('{"kind": "decision", "payload": {"decision": "t", "x": 1}}\n', 1, "payload.x"),
        ('{"kind": "decision", "payload": {"decision": "t"}, "extra": 1}\n', 1, "unknown field"),
        ('\n\n{"kind": "decision", "payload": {"decision": 1.5}}\n', 3, "payload.decision"),
        ('{"kind": "decision", "payload": {"decision": "t", "outcome": {"s": 0.5}}}\n', 1, "float"),
        ('{"kind": "decision", "payload": {"decision": "t"}, "actor": 5}\n', 1, '"actor"'),
        ('{"kind": "decision", "payload": {"decision": NaN}}\n', 1, "NaN"),
        ('{"type": "other", "payload": {}}\n', 1, "type must be"),
    ],
)
def test_append_bad_line_exits_2_naming_the_line_and_writes_nothing(
    proj: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    line: int,
    message: str,
) -> None:
    _keygen(capsys)
    _stdin(monkeypatch, text)
    assert main(["audit", "append"]) == 2
    err = capsys.readouterr().err
    assert f"<stdin>:{line}:" in err
    assert message in err
    assert "Traceback" not in err
    assert not (proj.parent / ".monday" / "audit.db").exists()  # bad input creates nothing


def _size(proj: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(proj.parent / ".monday" / "audit.db")
    try:
        return int(conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0])
    finally:
        conn.close()


def test_append_with_non_utf8_input(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _keygen(capsys)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b'{"kind": "\xff"}\n')))
    assert main(["audit", "append"]) == 2
    assert "<stdin>:1: not UTF-8" in capsys.readouterr().err


def test_append_without_a_key_says_what_to_do(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, "")
    assert main(["audit", "append"]) == 2
    err = capsys.readouterr().err
    assert "keygen" in err


def test_checkpoint_receipt_verify_consistency_export(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    vkey = _keygen(capsys)
    _stdin(monkeypatch, '{"kind": "decision", "payload": {"decision": "triage"}}\n' * 5)
    assert main(["audit", "append"]) == 0
    assert main(["audit", "checkpoint", "-o", "old.checkpoint"]) == 0
    _stdin(monkeypatch, '{"kind": "decision", "payload": {"decision": "triage"}}\n' * 5)
    assert main(["audit", "append"]) == 0
    capsys.readouterr()
    assert main(["audit", "checkpoint", "--format", "json"]) == 0
    cp = json.loads(capsys.readouterr().out)
    assert cp["size"] == 11
    Path("new.checkpoint").write_text(cp["note"])

    assert main(["audit", "receipt", "3", "-o", "r.tlog-proof"]) == 0
    assert main(["audit", "verify", "r.tlog-proof"]) == 0
    out = capsys.readouterr().out
    assert "✓ entry 3 (decision" in out
    assert "audit.example.com/claims at size 11" in out
    # offline: only the receipt and the vkey
    os.rename(".monday", ".elsewhere")
    assert main(["audit", "verify", "r.tlog-proof", "--vkey", vkey, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["index"] == 3
    os.rename(".elsewhere", ".monday")
    # a changed receipt fails with exit 1
    data = Path("r.tlog-proof").read_bytes()
    Path("bad.tlog-proof").write_bytes(data.replace(b"index 3", b"index 4"))
    assert main(["audit", "verify", "bad.tlog-proof"]) == 1
    # receipt without the entry needs --entry
    assert main(["audit", "receipt", "3", "--no-entry", "-o", "bare.tlog-proof"]) == 0
    assert main(["audit", "verify", "bare.tlog-proof"]) == 2
    assert "--entry" in capsys.readouterr().err

    assert main(["audit", "consistency", "old.checkpoint", "new.checkpoint"]) == 0
    assert "size 6 is a prefix of the log of size 11" in capsys.readouterr().out

    assert main(["audit", "export", "--tiles", "tiles"]) == 0
    assert main(["audit", "verify", "--tiles", "tiles", "--vkey", vkey]) == 0
    assert "11 entries" in capsys.readouterr().out
    bundle = Path("tiles/tile/entries/000.p/11")
    bundle.write_bytes(bundle.read_bytes().replace(b"triage", b"triagE", 1))
    assert main(["audit", "verify", "--tiles", "tiles", "--vkey", vkey]) == 1

    assert main(["audit", "fsck", "--deep", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert report["size"] == 11


def test_receipt_by_decision_id(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _keygen(capsys)
    line = {"kind": "decision", "payload": {"decision": "triage"}, "id": "claim-42-decision"}
    _stdin(monkeypatch, json.dumps(line) + "\n")
    assert main(["audit", "append"]) == 0
    capsys.readouterr()
    assert main(["audit", "receipt", "claim-42-decision"]) == 0
    assert capsys.readouterr().out.startswith("c2sp.org/tlog-proof@v1\nextra ")
    assert main(["audit", "receipt", "no-such-id"]) == 2
    assert "no entry with id" in capsys.readouterr().err
    assert main(["audit", "receipt", "99"]) == 2


def test_witness_commits_and_catches_a_rollback(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _keygen(capsys)
    _stdin(monkeypatch, '{"kind": "decision", "payload": {"decision": "triage"}}\n' * 3)
    assert main(["audit", "append"]) == 0
    assert main(["audit", "checkpoint", "-o", "/dev/null"]) == 0
    db = Path(".monday/audit.db")
    old = db.read_bytes()
    assert main(["audit", "witness", "--no-git"]) == 0
    _stdin(monkeypatch, '{"kind": "decision", "payload": {"decision": "triage"}}\n' * 3)
    assert main(["audit", "append"]) == 0
    assert main(["audit", "checkpoint", "-o", "/dev/null"]) == 0
    assert main(["audit", "witness", "--no-git"]) == 0
    assert "at size 7 (was size 4)" in capsys.readouterr().out
    # roll the store back to the older copy: the witness and fsck both catch it
    db.write_bytes(old)
    for suffix in ("-wal", "-shm"):
        Path(f".monday/audit.db{suffix}").unlink(missing_ok=True)
    assert main(["audit", "witness", "--no-git"]) == 1
    assert "rolled back" in capsys.readouterr().err
    assert main(["audit", "fsck"]) == 1
    assert "truncated or rolled back" in capsys.readouterr().out


def test_verify_needs_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "verify"]) == 2
    assert "--vkey" in capsys.readouterr().err
    assert main(["audit", "verify", "--vkey", "garbage", "--store", "x.db"]) == 2
    assert "--vkey: verifier key must have three" in capsys.readouterr().err


def test_rotate_key_through_the_cli(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _keygen(capsys)
    line = '{"kind": "decision", "payload": {"decision": "triage"}}\n'
    _stdin(monkeypatch, line * 3)
    assert main(["audit", "append"]) == 0
    assert main(["audit", "rotate-key"]) == 0
    out = capsys.readouterr().out
    assert "rotation started" in out
    _stdin(monkeypatch, line * 3)
    assert main(["audit", "append"]) == 0
    assert main(["audit", "rotate-key", "--finish"]) == 0
    capsys.readouterr()
    new = next(x.split()[1] for x in proj.read_text().splitlines() if "vkey:" in x)
    assert new != old
    _stdin(monkeypatch, line)
    assert main(["audit", "append"]) == 0
    assert main(["audit", "checkpoint", "-o", "/dev/null"]) == 0
    assert main(["audit", "fsck"]) == 0
    for key in (old, new):
        assert (
            main(["audit", "verify", "--vkey", key, "--store", "sqlite:///.monday/audit.db"]) == 0
        )
    assert main(["audit", "rotate-key", "--finish"]) == 2


def test_erase_backup_retention_through_the_cli(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mondaytest.audit import open_log
    from mondaytest.spec import load_spec

    _keygen(capsys)
    assert main(["audit", "keygen", "--vault"]) == 0
    vault_key = proj.parent / ".monday" / "keys" / "vault.key"
    assert stat.S_IMODE(vault_key.stat().st_mode) == 0o600
    assert main(["audit", "keygen", "--vault"]) == 2  # never overwritten
    with open_log(load_spec(proj)) as log:
        log.decision(decision="triage", subject_id="cust-9", raw={"input": "my address is …"})
    capsys.readouterr()
    assert main(["audit", "erase", "cust-9", "--legal-basis", "DSAR-7"]) == 0
    assert "erased 1 vault record(s)" in capsys.readouterr().out
    assert main(["audit", "erase", "cust-9"]) == 2
    assert "holds nothing for this subject" in capsys.readouterr().err
    assert main(["audit", "scrub"]) == 0
    assert "truncated" in capsys.readouterr().out
    assert main(["audit", "log", "--kind", "erasure", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["payload"]["legal_basis_ref"] == "DSAR-7"
    assert main(["audit", "backup", "copy.db"]) == 0
    assert "verified" in capsys.readouterr().out
    assert main(["audit", "fsck", "--store", "sqlite:///copy.db"]) == 0
    assert main(["audit", "retention", "--dry-run"]) == 0
    assert "dry run" in capsys.readouterr().out
    assert main(["audit", "retention"]) == 0
    assert "nothing is past it" in capsys.readouterr().out
    with open_log(load_spec(proj)) as log:
        log.decision(decision="triage", subject_id="cust-10", raw={"input": "…"})
    _stdin(monkeypatch, "cust-10\n")
    assert main(["audit", "erase", "-", "--legal-basis", "DSAR-8"]) == 0  # the id from stdin
    assert "erased 1 vault record(s)" in capsys.readouterr().out
    _stdin(monkeypatch, "")
    assert main(["audit", "erase", "-"]) == 2
    assert "no subject id on stdin" in capsys.readouterr().err


def test_verify_a_receipt_under_a_witness_policy(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mondaytest.audit.note import CosignatureSigner, add_signatures

    vkey = _keygen(capsys)
    _stdin(monkeypatch, '{"kind": "decision", "payload": {"decision": "triage"}}\n')
    assert main(["audit", "append"]) == 0
    assert main(["audit", "receipt", "1", "-o", "r.tlog-proof"]) == 0
    witness = CosignatureSigner.generate("ci.example/witness")
    Path("p.policy").write_text(
        f"log {vkey}\nwitness CI {witness.vkey}\nquorum CI\n", encoding="utf-8"
    )
    assert main(["audit", "verify", "r.tlog-proof", "--policy", "p.policy"]) == 1
    assert "quorum CI" in capsys.readouterr().err
    data = Path("r.tlog-proof").read_bytes()
    head, note = data.split(b"\n\n", 1)
    Path("cosigned.tlog-proof").write_bytes(head + b"\n\n" + add_signatures(note, [witness]))
    assert main(["audit", "verify", "cosigned.tlog-proof", "--policy", "p.policy"]) == 0
    out = capsys.readouterr().out
    assert "cosigned by CI" in out
    assert "quorum CI met" in out


def test_a_private_key_passed_as_vkey_is_never_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mondaytest.audit.keys import generate_signer
    from mondaytest.audit.note import format_signer_key

    secret = format_signer_key(generate_signer("x.example/log"))
    b64 = secret.split("+", 4)[4]
    log_dir = tmp_path / "tiles"
    log_dir.mkdir()
    code = main(["audit", "verify", "--tiles", str(log_dir), "--vkey", secret])
    err = capsys.readouterr().err
    assert code == 2
    assert b64 not in err
    assert "this is a private key; pass its vkey" in err


def _ignored(repo: Path, path: Path) -> bool:
    check = subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=repo, check=False)
    return check.returncode == 0


def test_keygen_at_the_repository_root_ignores_the_key_and_its_rotation_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "notes.txt").write_text("keep me\n")
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "keygen", "--out", "k.key", "--origin", "x.example/log"]) == 0
    capsys.readouterr()
    assert "/./" not in (tmp_path / ".gitignore").read_text()
    assert _ignored(tmp_path, tmp_path / "k.key")
    assert _ignored(tmp_path, tmp_path / "k.key.next")
    assert _ignored(tmp_path, tmp_path / "k.key.retired-20260101")
    assert not _ignored(tmp_path, tmp_path / "notes.txt")  # not the whole folder


def test_keygen_in_a_subfolder_ignores_only_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "conf").mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "keygen", "--out", "conf/k.key", "--origin", "x.example/log"]) == 0
    capsys.readouterr()
    assert _ignored(tmp_path, tmp_path / "conf" / "k.key")
    assert _ignored(tmp_path, tmp_path / "conf" / "k.key.next")
    assert not _ignored(tmp_path, tmp_path / "conf" / "settings.yaml")


def test_keygen_fails_when_git_still_does_not_ignore_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / ".gitignore").write_text("!k.key\n!k.key.*\n")
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "keygen", "--out", "conf/k.key", "--origin", "x.example/log"]) == 2
    err = capsys.readouterr().err
    assert "git does not ignore the private key" in err


def test_keygen_refuses_a_key_file_git_already_tracks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "keygen", "--out", "k.key", "--origin", "x.example/log"]) == 0
    before = Path("k.key").read_bytes()
    subprocess.run(["git", "add", "-f", "k.key"], check=True)  # someone forced it in
    capsys.readouterr()
    for args in (
        ["audit", "keygen", "--out", "k.key", "--origin", "x.example/log"],  # reuse it
        ["audit", "keygen", "--out", "k.key", "--origin", "x.example/log", "--force"],
    ):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert "git tracks the private key file" in err
        assert "git rm --cached k.key" in err
        assert Path("k.key").read_bytes() == before  # nothing was overwritten
    subprocess.run(["git", "rm", "-q", "--cached", "k.key"], check=True)
    assert main(["audit", "keygen", "--out", "k.key", "--origin", "x.example/log"]) == 0


def test_keygen_refuses_a_tracked_key_whose_folder_was_deleted_from_another_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The key's folder was removed with ``rm -r`` (not ``git rm``): git still tracks the key.
    Run from outside the repository, keygen must refuse before writing anything."""
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "keys").mkdir()
    (repo / "keys" / "k.key").write_text("old")
    subprocess.run(["git", "-C", str(repo), "add", "-f", "keys/k.key"], check=True)
    (repo / "keys" / "k.key").unlink()
    (repo / "keys").rmdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.chdir(outside)
    key = repo / "keys" / "k.key"
    for args in (
        ["audit", "keygen", "--out", str(key), "--origin", "x.example/log"],
        ["audit", "keygen", "--vault", "--out", str(key)],
    ):
        assert main(args) == 2, args
        assert "git tracks the private key file" in capsys.readouterr().err
        assert not key.exists()  # nothing was written


def test_unwritable_output_paths_are_input_errors(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _keygen(capsys)
    _stdin(monkeypatch, '{"kind": "decision", "payload": {"decision": "triage"}}\n' * 3)
    assert main(["audit", "append"]) == 0
    assert main(["audit", "checkpoint", "-o", "/dev/null"]) == 0
    capsys.readouterr()
    Path("a-file").write_text("x")
    for args in (
        ["audit", "export", "--tiles", "/proc/x"],
        ["audit", "export", "--tiles", "a-file"],
        ["audit", "witness", "--commit", "/proc/x", "--no-git"],
        ["audit", "witness", "--commit", "a-file/w", "--no-git"],
    ):
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert "cannot write" in err, args
        assert "internal error" not in err
    # a non-empty folder that holds no earlier export is refused, untouched
    Path("docs").mkdir()
    Path("docs/readme.md").write_text("mine")
    assert main(["audit", "export", "--tiles", "docs"]) == 2
    assert "holds no earlier export" in capsys.readouterr().err
    assert [p.name for p in Path("docs").iterdir()] == ["readme.md"]
    # an earlier export is updated in place
    assert main(["audit", "export", "--tiles", "tiles"]) == 0
    assert main(["audit", "export", "--tiles", "tiles"]) == 0


def test_bad_verify_fsck_backup_arguments_are_input_errors(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    vkey = _keygen(capsys)
    _stdin(monkeypatch, '{"kind": "decision", "payload": {"decision": "triage"}}\n' * 3)
    assert main(["audit", "append"]) == 0
    assert main(["audit", "checkpoint", "-o", "good.checkpoint"]) == 0
    capsys.readouterr()
    missing = str(proj.parent / "no-such-dir")
    assert main(["audit", "verify", "--tiles", missing, "--vkey", vkey]) == 2
    assert "is not a directory" in capsys.readouterr().err
    Path("passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    Path("binary").write_bytes(b"\xff\xfe\x00garbage")
    for name in ("passwd", "binary"):
        assert main(["audit", "fsck", "--checkpoint", name]) == 2, name
        err = capsys.readouterr().err
        assert "is not a checkpoint note" in err
        assert "internal error" not in err
    assert main(["audit", "fsck", "--checkpoint", "good.checkpoint"]) == 0
    capsys.readouterr()
    assert main(["audit", "backup", "/proc/x/y"]) == 2
    err = capsys.readouterr().err
    assert "cannot write /proc/x/y" in err
    assert "store" not in err.split("—")[0]


def test_unusual_entry_targets_and_huge_inputs_are_input_errors(
    proj: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _keygen(capsys)
    _stdin(monkeypatch, '{"kind": "decision", "payload": {"decision": "t"}}\n')
    assert main(["audit", "append"]) == 0
    capsys.readouterr()
    assert main(["audit", "receipt", "²"]) == 2  # a non-ASCII digit is an id, and none matches
    assert "no entry with id" in capsys.readouterr().err
    assert main(["audit", "receipt", "9" * 5000]) == 2
    assert "too large" in capsys.readouterr().err
    huge = proj.parent / "huge.tlog-proof"
    huge.write_bytes(b"x" * (3 << 20))
    assert main(["audit", "verify", str(huge)]) == 2
    assert "larger than" in capsys.readouterr().err


def test_keygen_never_swaps_the_log_key_of_a_fresh_clone(
    proj: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vkey = _keygen(capsys)
    key = proj.parent / ".monday" / "keys" / "audit.key"
    key.unlink()  # a fresh clone: the key is git-ignored, the vkey is in monday.yaml
    before = proj.read_bytes()
    assert main(["audit", "keygen"]) == 2
    err = capsys.readouterr().err
    assert "private key file" in err
    assert "is missing" in err
    assert "rotate-key" in err
    assert not key.exists()
    assert proj.read_bytes() == before
    assert vkey in before.decode()


def test_keygen_keeps_crlf_line_ends(proj: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj.write_bytes(proj.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    lines_before = proj.read_bytes().count(b"\r\n")
    _keygen(capsys)
    data = proj.read_bytes()
    assert data.count(b"\r\n") == lines_before + 1  # one line added, every line still CRLF
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_a_private_key_anywhere_in_a_key_reference_is_never_echoed(
    proj: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mondaytest.audit.note import Ed25519Signer, format_signer_key

    secret = format_signer_key(Ed25519Signer.generate("ci.example.com/witness"))
    tail = secret.rsplit("+", 1)[-1]
    for ref in (f"env:{secret}", f"file:{secret}", f"'{secret}'"):
        code = main(["audit", "witness", "--key", ref, "--no-git"])
        captured = capsys.readouterr()
        assert code == 2
        assert tail not in captured.out + captured.err
    text = proj.read_text().replace("key: file:.monday/keys/audit.key", f"key: 'file:{secret}'")
    proj.write_text(text)
    assert main(["spec", "validate"]) == 2
    captured = capsys.readouterr()
    assert "holds a private key" in captured.out + captured.err
    assert tail not in captured.out + captured.err


def test_an_interrupted_rotation_finish_is_completed_by_running_it_again(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import mondaytest.audit.rotation as rotation

    _keygen(capsys)
    _stdin(monkeypatch, '{"kind": "decision", "payload": {"decision": "t"}}\n')
    assert main(["audit", "append"]) == 0
    assert main(["audit", "rotate-key"]) == 0
    capsys.readouterr()

    def unwritable(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rotation, "record_vkey", unwritable)
        assert main(["audit", "rotate-key", "--finish"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "finish entry" in err
    assert "the new vkey is" in err
    assert "run `monday audit rotate-key --finish` again" in err
    assert main(["audit", "rotate-key", "--finish"]) == 0
    assert "completed the interrupted rotation" in capsys.readouterr().out
    _stdin(monkeypatch, '{"kind": "decision", "payload": {"decision": "t"}}\n')
    assert main(["audit", "append"]) == 0  # signs with the new key, which the contract names
    assert main(["audit", "fsck"]) == 0


def test_a_key_file_open_to_others_gets_one_warning_line(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import warnings

    _keygen(capsys)
    key = proj.parent / ".monday" / "keys" / "audit.key"
    key.chmod(0o644)
    _stdin(monkeypatch, '{"kind": "decision", "payload": {"decision": "t"}}\n')
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(["audit", "append"]) == 0
    err = capsys.readouterr().err
    assert "warning: unsafe key file" in err
    assert "chmod 600" in err
    assert "InsecureKeyFileWarning" not in err
    assert "warnings.warn" not in err
    assert ".py:" not in err


def test_append_refuses_an_id_the_log_or_another_line_already_has(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _keygen(capsys)
    line = '{"kind": "decision", "id": "dec-001", "payload": {"decision": "t"}}\n'
    _stdin(monkeypatch, line + line)
    assert main(["audit", "append"]) == 2
    assert "the id 'dec-001' is taken: another line has it" in capsys.readouterr().err
    assert not (proj.parent / ".monday" / "audit.db").exists()
    _stdin(monkeypatch, line)
    assert main(["audit", "append"]) == 0
    capsys.readouterr()
    _stdin(monkeypatch, line)
    assert main(["audit", "append"]) == 2
    assert "an entry of the log has it" in capsys.readouterr().err
    assert _size(proj) == 2  # genesis and the first dec-001


def test_append_fails_when_its_checkpoint_cannot_be_signed(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A process still configured with a key a finished rotation retired: its entries are
    sequenced, but no checkpoint is signed with the retired key, and the command says so."""
    old_vkey = _keygen(capsys)
    line = '{"kind": "decision", "payload": {"decision": "t"}}\n'
    _stdin(monkeypatch, line)
    assert main(["audit", "append"]) == 0
    assert main(["audit", "rotate-key"]) == 0
    assert main(["audit", "rotate-key", "--finish"]) == 0
    capsys.readouterr()
    keys = proj.parent / ".monday" / "keys"
    (retired,) = keys.glob("audit.key.retired-*")
    retired.replace(keys / "audit.key")  # the old key and the old vkey, as before the rotation
    spec_text = proj.read_text()
    new_vkey = next(
        ln.split("vkey:", 1)[1].strip() for ln in spec_text.splitlines() if "vkey:" in ln
    )
    proj.write_text(spec_text.replace(new_vkey, old_vkey))
    _stdin(monkeypatch, line)
    code = main(["audit", "append"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "signs with the retired key" in err
