"""``monday audit`` CLI fixes: literal rendering of markup-like text, verify's options of other
modes, bounded and validated ``log`` options, ``checkpoint --format json -o``, ``consistency``
naming the bad file and refusing a smaller NEW, the offline hints, ``log --store`` alone, the
empty-log monitor, JSON on a failed verify, the private-key ``--vkey`` hint, the fsck runbook
the error points at, and the scaffolded workflow's store advice. All through the real CLI."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest
from tests.conftest import write_project

from mondaytest.cli.app import main

LINE = '{"kind": "decision", "payload": {"decision": "triage"}}\n'
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "auditor-guide.md"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr (whitespace runs joined: long lines may wrap)."""
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, " ".join(captured.out.split()), " ".join(captured.err.split())


def _append(monkeypatch: pytest.MonkeyPatch, text: str) -> int:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8"))))
    return main(["audit", "append"])


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A governed project in a git repository, as the current directory."""
    root = tmp_path / "proj"
    root.mkdir()
    spec = write_project(root)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    monkeypatch.chdir(root)
    monkeypatch.delenv("MONDAY_DATABASE_URL", raising=False)
    for var in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(var, "CI")
    for var in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(var, "ci@example.com")
    return spec


@pytest.fixture
def vkey(proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    """keygen, 3 decisions, checkpoint old.cp, 2 more, checkpoint new.cp, receipt r.tlog-proof
    of entry 2, export tiles/; the log's vkey."""
    code, out, err = _run(capsys, "audit", "keygen")
    assert code == 0, err
    assert _append(monkeypatch, LINE * 3) == 0
    assert main(["audit", "checkpoint", "-o", "old.cp"]) == 0
    assert _append(monkeypatch, LINE * 2) == 0
    assert main(["audit", "checkpoint", "-o", "new.cp"]) == 0
    assert main(["audit", "receipt", "2", "-o", "r.tlog-proof"]) == 0
    assert main(["audit", "export", "--tiles", "tiles"]) == 0
    capsys.readouterr()
    return out


def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with no monday.yaml above it, as the current directory."""
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.chdir(outside)
    return outside


# --- 1: user and core text is printed literally, never read as Rich markup -------------------


def test_markup_like_text_in_errors_prints_literally(
    proj: Path, vkey: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = _run(capsys, "audit", "verify", "[/x]", "--vkey", vkey)
    assert code == 2
    assert "cannot read receipt [/x]" in err
    assert "Traceback" not in err
    assert "MarkupError" not in err
    code, _out, err = _run(capsys, "audit", "verify", "a[red]b", "--vkey", vkey)
    assert code == 2
    assert "cannot read receipt a[red]b:" in err
    capsys.readouterr()
    assert _append(monkeypatch, '{"kind":"[/b]","payload":{}}\n') == 2
    err = capsys.readouterr().err
    assert "unknown entry kind '[/b]'" in err
    assert "Traceback" not in err
    code, _out, err = _run(capsys, "audit", "why", "[/b]")
    assert code == 2
    assert "'[/b]'" in err


def test_the_witness_identity_hint_keeps_its_bot_names(
    proj: Path, vkey: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for var in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "EMAIL",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    code, _out, err = _run(capsys, "audit", "witness", "--commit", ".monday-witness")
    assert code == 2
    assert "github-actions[bot] and 41898282+github-actions[bot]@users.noreply" in err


def test_markup_like_text_in_normal_output_prints_literally(
    proj: Path, vkey: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "audit", "export", "--tiles", "t[red]x")
    assert code == 0, err
    assert "to t[red]x;" in out
    assert "verify --tiles t[red]x`" in out
    code, _out, err = _run(capsys, "audit", "checkpoint", "-o", "c[/b].cp")
    assert code == 0, err
    assert "written to c[/b].cp" in err
    code, _out, err = _run(capsys, "audit", "receipt", "1", "-o", "[bold]r.tlog-proof")
    assert code == 0, err
    assert "receipt written to [bold]r.tlog-proof" in err
    code, out, err = _run(capsys, "audit", "verify", "--tiles", "t[red]x", "--vkey", vkey)
    assert code == 0, err
    assert "tiles in t[red]x:" in out


# --- 2: verify refuses options of another mode ------------------------------------------------


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--tiles", "tiles", "--checkpoint", "old.cp"], ["--checkpoint", "--tiles"]),
        (["r.tlog-proof", "--checkpoint", "old.cp"], ["--checkpoint", "RECEIPT"]),
        (["--entry", "r.tlog-proof"], ["--entry", "RECEIPT"]),
        (["r.tlog-proof", "--tiles", "tiles"], ["RECEIPT", "--tiles"]),
        (["--deep", "--tiles", "tiles"], ["--deep", "--tiles"]),
        (["r.tlog-proof", "--deep"], ["--deep", "RECEIPT"]),
    ],
)
def test_verify_refuses_an_option_of_another_mode(
    proj: Path,
    vkey: str,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    names: list[str],
) -> None:
    code, out, err = _run(capsys, "audit", "verify", *args)
    assert code == 2, out
    assert "✓" not in out
    for name in names:
        assert name in err
    assert "drop" in err or "separately" in err or "one after the other" in err
    # each mode on its own still passes
    assert main(["audit", "verify", "r.tlog-proof"]) == 0
    assert main(["audit", "verify", "--tiles", "tiles"]) == 0
    assert main(["audit", "verify", "--checkpoint", "old.cp", "--deep"]) == 0


# --- 3, 5, 8: log ------------------------------------------------------------------------------


def test_log_bounds_n_with_a_usage_error(
    proj: Path, vkey: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for n in ("99999999999999999999", "1000001", "0"):
        code, out, err = _run(capsys, "audit", "log", "-n", n)
        assert code == 2, (n, out, err)
        assert "--limit" in err
        assert "internal error" not in err
    assert main(["audit", "log", "-n", "1000000"]) == 0


def test_log_refuses_an_unknown_kind_listing_the_kinds(
    proj: Path, vkey: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "audit", "log", "--kind", "decisions")
    assert code == 2
    assert "'decisions'" in err
    assert "decision" in err
    assert "model_version" in err
    assert "log_genesis" in err
    assert "no matching entries" not in err + out
    code, out, _err = _run(capsys, "audit", "log", "--kind", "decision")
    assert code == 0
    assert out.count("decision") >= 5
    assert _run(capsys, "audit", "log", "--kind", "erasure")[0] == 0  # known, none logged


def test_log_with_a_store_alone_needs_no_contract(
    proj: Path,
    vkey: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = proj.parent / ".monday" / "audit.db"
    _elsewhere(tmp_path, monkeypatch)
    code, out, err = _run(capsys, "audit", "log", "--store", f"sqlite:///{db}", "-n", "2")
    assert code == 0, err
    assert re.search(r"\b4 .* decision .* 5 .* decision", out), out
    code, _out, err = _run(capsys, "audit", "log", "--store", "sqlite:///missing.db")
    assert code == 2
    assert "no store at" in err


# --- 4: checkpoint --format json -o -----------------------------------------------------------


def test_checkpoint_json_honours_out(
    proj: Path, vkey: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "audit", "checkpoint", "--format", "json", "-o", "cp.json")
    assert code == 0, err
    assert out == ""
    data = json.loads(Path("cp.json").read_text())
    assert data["size"] == 6
    assert data["note"].startswith("audit.example.com/claims\n6\n")
    assert "written to cp.json" in err
    code, out, _err = _run(capsys, "audit", "checkpoint", "--format", "json")
    assert code == 0
    assert json.loads(out)["size"] == 6


# --- 6: consistency ---------------------------------------------------------------------------


def test_consistency_names_the_file_that_does_not_parse(
    proj: Path, vkey: str, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("bad.cp").write_text("garbage\n")
    code, _out, err = _run(capsys, "audit", "consistency", "bad.cp", "new.cp")
    assert code == 2
    assert "OLD (bad.cp):" in err
    code, _out, err = _run(capsys, "audit", "consistency", "old.cp", "bad.cp")
    assert code == 2
    assert "NEW (bad.cp):" in err


def test_consistency_refuses_a_new_smaller_than_old(
    proj: Path, vkey: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "audit", "consistency", "new.cp", "old.cp")
    assert code == 1
    assert "✓" not in out
    assert "NEW (old.cp) covers 4 entries, fewer than OLD (new.cp) with 6" in err
    assert "rolled back" in err
    assert "wrong order" in err
    code, out, _err = _run(capsys, "audit", "consistency", "old.cp", "new.cp")
    assert code == 0
    assert "size 4 is a prefix of the log of size 6" in out


# --- 7, 11: hints ------------------------------------------------------------------------------


def test_receipt_outside_a_project_hints_only_the_vkey(
    proj: Path,
    vkey: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    receipt = proj.parent / "r.tlog-proof"
    _elsewhere(tmp_path, monkeypatch)
    code, _out, err = _run(capsys, "audit", "verify", str(receipt))
    assert code == 2
    assert "--vkey VKEY" in err
    assert "--store" not in err
    assert main(["audit", "verify", str(receipt), "--vkey", vkey]) == 0


def test_a_private_key_given_as_vkey_gets_a_hint_vkey_accepts(
    proj: Path, vkey: str, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = (proj.parent / ".monday" / "keys" / "audit.key").read_text().strip()
    code, _out, err = _run(capsys, "audit", "verify", "r.tlog-proof", "--vkey", secret)
    assert code == 2
    assert "private key" in err
    assert "file:PATH" not in err
    assert "env:VAR" not in err
    assert "vkey" in err
    assert secret not in err
    code, _out, err = _run(capsys, "audit", "cosign", "new.cp", "--witness-vkey", secret)
    assert code == 2
    assert "--witness-vkey: this is a private key" in err
    assert "file:PATH" not in err
    assert secret not in err


# --- 9: monitor on an empty log ---------------------------------------------------------------


def test_monitor_on_an_empty_log_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mondaytest.audit.store import open_store

    url = f"sqlite:///{_elsewhere(tmp_path, monkeypatch) / 'empty.db'}"
    monkeypatch.delenv("MONDAY_DATABASE_URL", raising=False)
    store = open_store(url)
    try:
        assert store.size() == 0  # an existing store without entries
    finally:
        store.close()
    code, out, err = _run(capsys, "audit", "monitor", "--store", url)
    assert code == 0, err
    assert "the log is empty" in out
    assert "..-1" not in out
    code, out, _err = _run(capsys, "audit", "monitor", "--store", url, "--format", "json")
    assert code == 0
    assert json.loads(out)["end"] == 0


# --- 10: verify --format json on failure ------------------------------------------------------


def test_verify_json_reports_a_failed_receipt_and_tiles(
    proj: Path, vkey: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = Path("r.tlog-proof").read_bytes()
    Path("bad.tlog-proof").write_bytes(data.replace(b"index 2", b"index 3"))
    code, out, err = _run(capsys, "audit", "verify", "bad.tlog-proof", "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    assert report["receipt"] == "bad.tlog-proof"
    assert report["problems"]
    assert report["problems"][0]["message"] in err
    bundle = Path("tiles/tile/entries/000.p/6")
    bundle.write_bytes(bundle.read_bytes().replace(b"triage", b"triagE", 1))
    code, out, err = _run(capsys, "audit", "verify", "--tiles", "tiles", "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    assert report["tiles"] == "tiles"
    assert report["problems"][0]["message"] in err


# --- 12: the fsck runbook the failure points at exists -----------------------------------------


def test_the_fsck_failure_points_at_a_runbook_section_of_the_auditor_guide(
    proj: Path, vkey: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = sqlite3.connect(proj.parent / ".monday" / "audit.db")
    try:
        (body,) = db.execute("SELECT body FROM entries WHERE idx = 2").fetchone()
        db.execute(
            "UPDATE entries SET body = ? WHERE idx = 2",
            (bytes(body).replace(b"triage", b"triagE"),),
        )
        db.commit()
    finally:
        db.close()
    code, _out, err = _run(capsys, "audit", "fsck")
    assert code == 1
    found = re.search(r"see the (auditor guide) \(([^)]+)\)", err)
    assert found, err
    title = found.group(2)
    headings = [
        line for line in GUIDE.read_text(encoding="utf-8").splitlines() if line.startswith("## ")
    ]
    assert any(title in heading for heading in headings), (title, headings)
    section = GUIDE.read_text(encoding="utf-8").split(title, 1)[1]
    for finding in ("stored leaf hash does not match", "covers S entries but the store has N"):
        assert finding in section


# --- 13: the scaffolded workflow promises no PostgreSQL ---------------------------------------


def test_the_scaffolded_workflow_does_not_promise_postgresql(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path / "p")]) == 0
    text = (tmp_path / "p" / ".github" / "workflows" / "monday.yml").read_text()
    comments = " ".join(
        line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#")
    )
    assert "e.g. postgresql" not in comments
    assert "sqlite:///" in comments
    assert "PostgreSQL stores come with the Monday server" in comments


# --- later review: receipts in consistency, --store in other modes, witness on a rollback ---


def test_consistency_refuses_a_receipt_as_a_checkpoint(
    proj: Path, vkey: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = _run(capsys, "audit", "consistency", "old.cp", "r.tlog-proof")
    assert code == 2
    assert "NEW (r.tlog-proof) is a receipt (c2sp.org/tlog-proof), not a checkpoint note" in err


def test_verify_refuses_store_with_a_receipt_or_tiles(
    proj: Path, vkey: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = "sqlite:///.monday/audit.db"
    for args in (["r.tlog-proof"], ["--tiles", "tiles"]):
        code, _out, err = _run(capsys, "audit", "verify", *args, "--store", store)
        assert code == 2, err
        assert "--store names a store to check" in err


def test_witness_names_a_store_rolled_back_below_its_checkpoint(
    proj: Path, vkey: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "witness", "--commit", "wit", "--no-git"]) == 0
    conn = sqlite3.connect(".monday/audit.db")
    with conn:
        conn.execute("DELETE FROM entries WHERE idx >= 4")
    conn.close()
    code, _out, err = _run(capsys, "audit", "witness", "--commit", "wit", "--no-git")
    assert code == 1, err
    assert "fewer than its newest checkpoint signs" in err
