"""``monday release`` end to end through the CLI entry point: exit codes, messages, JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.evals.releasekit import (
    FP_A,
    FP_B,
    ReleaseProject,
    cleanup,
    make_project,
    run_data,
    verdict,
)

from mondaytest.audit import open_log
from mondaytest.audit.note import sign_note
from mondaytest.cli.app import app, main
from mondaytest.cli.release import release_app
from mondaytest.evals.evidence import record_gate_verdict
from mondaytest.evals.release import WAIVER_HEADER, sign_waiver

if not any(g.typer_instance is release_app for g in app.registered_groups):
    app.add_typer(release_app, name="release")  # until cli/app.py registers the group


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReleaseProject]:
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("MONDAY_DATABASE_URL", raising=False)
    monkeypatch.delenv("EVERY", raising=False)
    monkeypatch.chdir(tmp_path)
    project = make_project(tmp_path)
    yield project
    cleanup(tmp_path)


def gate(proj: ReleaseProject, kind: str = "pass", fp: str = FP_A) -> int:
    loaded = proj.load()
    with open_log(loaded) as log:
        return record_gate_verdict(
            log, verdict(kind), suite="triage", run=run_data(fp), spec_digest=loaded.digest
        )


def sign(proj: ReleaseProject, out: str = "w.note", *extra: str, key: str = "") -> int:
    return main(
        [
            "release", "waiver", "sign",
            "--model", "scorer", "--version", "2",
            "--reason", "hotfix for INC-7",
            "--approver", "maya",
            "--key", key or f"file:{proj.maya_key}",
            "--out", out,
            *extra,
        ]
    )  # fmt: skip


def test_record_and_show(proj: ReleaseProject, capsys: pytest.CaptureFixture[str]) -> None:
    g = gate(proj)
    assert (
        main(["release", "record", "--model", "scorer", "--version", "1", "--fingerprint", FP_A])
        == 0
    )
    out = capsys.readouterr().out
    assert "released scorer 1" in out
    assert f"bound to eval_gate entry {g}" in out
    args = ["release", "record", "--model", "scorer", "--version", "1", "--fingerprint", FP_A]
    assert main([*args, "--format", "json", "--approval", "PR-12"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model_version"]["eval_gate_idx"] == g
    assert data["model_version"]["approval"] == "PR-12"
    assert data["eval_gate"]["result"] == "pass"
    assert any("already in force" in n for n in data["notes"])
    assert main(["release", "show"]) == 0
    out = capsys.readouterr().out
    assert "scorer" in out
    assert f"eval_gate {g}: suite triage, run run-1, pass" in out
    assert main(["release", "show", "--model", "scorer", "--format", "json"]) == 0
    [shown] = json.loads(capsys.readouterr().out)
    assert (shown["version"], shown["eval_gate"]["idx"]) == ("1", g)
    assert main(["release", "show", "--model", "other"]) == 2
    assert "no release" in capsys.readouterr().err


def test_refusals_exit_1_and_say_why(
    proj: ReleaseProject, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["release", "record", "--model", "scorer", "--version", "1"]
    assert main([*args, "--fingerprint", FP_A]) == 1  # no gate yet
    assert "no eval gate verdict" in capsys.readouterr().err
    failed = gate(proj, "fail")
    assert main([*args, "--fingerprint", FP_A]) == 1
    err = capsys.readouterr().err
    assert f"failed for target aaaaaaaaaaaa… at entry {failed}" in err
    assert "waiver sign" in err
    assert main([*args, "--fingerprint", FP_B]) == 1
    assert "no gate verdict judged target fingerprint bbbbbbbbbbbb" in capsys.readouterr().err
    assert main(args) == 2  # neither --suite nor --fingerprint
    assert "--suite" in capsys.readouterr().err
    assert main(["release", "show"]) == 0
    assert "no model version has been released" in capsys.readouterr().out


def test_waiver_sign_verify_and_record(
    proj: ReleaseProject, capsys: pytest.CaptureFixture[str]
) -> None:
    gate(proj, "fail")
    assert sign(proj) == 0
    note = (proj.root / "w.note").read_bytes()
    assert note.startswith(WAIVER_HEADER.encode() + b"\n{")
    assert b"\n\n\xe2\x80\x94 maya " in note  # a C2SP signature line by the key "maya"
    capsys.readouterr()
    assert (
        main(["release", "waiver", "verify", "w.note", "--model", "scorer", "--version", "2"]) == 0
    )
    assert "valid: scorer 2 waived by maya" in capsys.readouterr().out
    assert (
        main(["release", "waiver", "verify", "w.note", "--model", "scorer", "--version", "9"]) == 1
    )
    args = ["release", "record", "--model", "scorer", "--version", "2", "--fingerprint", FP_A]
    assert main([*args, "--waiver", "w.note", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["waiver"]["approver"] == "maya"
    assert data["model_version"]["waiver_idx"] == data["waiver_idx"]
    assert "failed" in data["model_version"]["waived"]
    assert main(["release", "show"]) == 0
    assert f"waiver {data['waiver_idx']}: maya until" in capsys.readouterr().out


def test_sign_refuses_someone_elses_key_and_long_waivers(
    proj: ReleaseProject, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sign(proj, key=f"file:{proj.tom_key}") == 2
    assert "not maya's key" in capsys.readouterr().err
    assert sign(proj, "w.note", "--days", "31") == 2
    far = (datetime.now(UTC) + timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert sign(proj, "w.note", "--expires", far) == 2
    assert "at most 30 days" in capsys.readouterr().err
    assert sign(proj, "w.note", "--expires", "2026-12-01") == 2
    assert "time zone" in capsys.readouterr().err
    assert not (proj.root / "w.note").exists()


def test_bad_waiver_files(proj: ReleaseProject, capsys: pytest.CaptureFixture[str]) -> None:
    gate(proj, "fail")
    args = ["release", "record", "--model", "scorer", "--version", "2", "--fingerprint", FP_A]
    # malformed: exit 2 with a clear message
    (proj.root / "junk.note").write_text("hello, I am a waiver\n")
    assert main([*args, "--waiver", "junk.note"]) == 2
    err = capsys.readouterr().err
    assert "not a signed note" in err
    assert "waiver sign" in err
    (proj.root / "json.note").write_bytes(sign_note(WAIVER_HEADER + "\n[1, 2]\n", [proj.maya]))
    assert main([*args, "--waiver", "json.note"]) == 2
    assert "not an object" in capsys.readouterr().err
    assert main([*args, "--waiver", "missing.note"]) == 2
    assert "cannot read waiver" in capsys.readouterr().err
    # signed by tom for approver maya: refused, exit 1
    (proj.root / "tom.note").write_bytes(
        sign_waiver(proj.tom, model="scorer", version="2", reason="mine", approver="maya")
    )
    assert main([*args, "--waiver", "tom.note"]) == 1
    assert "not signed by its approver 'maya'" in capsys.readouterr().err
    assert sign(proj) == 0
    # tampered after signing: refused, exit 1
    tampered = (proj.root / "w.note").read_bytes().replace(b"INC-7", b"INC-9")
    (proj.root / "t.note").write_bytes(tampered)
    assert main([*args, "--waiver", "t.note"]) == 1
    assert "does not verify" in capsys.readouterr().err
    # expired: a waiver issued 10 days ago for 1 day
    old = json.dumps(
        {
            "model": "scorer",
            "version": "2",
            "reason": "old",
            "approver": "maya",
            "issued": (datetime.now(UTC) - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "expires": (datetime.now(UTC) - timedelta(days=9)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    (proj.root / "old.note").write_bytes(sign_note(f"{WAIVER_HEADER}\n{old}\n", [proj.maya]))
    assert main([*args, "--waiver", "old.note"]) == 1
    assert "expired at" in capsys.readouterr().err
    with open_log(proj.load(), readonly=True) as log:
        assert log.tail(50, kind="model_version") == []
        assert log.tail(50, kind="waiver") == []


def test_record_by_suite_through_the_cli(
    proj: ReleaseProject, capsys: pytest.CaptureFixture[str]
) -> None:
    from mondaytest.evals.evidence import record_gate_result
    from mondaytest.evals.gating import gate_run
    from mondaytest.evals.runs import resolve_run
    from mondaytest.evals.suites import suite_from_spec

    assert main(["eval", "run", "triage", "-q"]) == 0
    assert main(["eval", "baseline", "bless", "latest"]) == 0
    loaded = proj.load()
    ref = suite_from_spec(loaded, "triage")
    g = record_gate_result(loaded, gate_run(ref, resolve_run(ref.root_dir, "latest")))
    capsys.readouterr()
    assert (
        main(["release", "record", "--model", "scorer", "--version", "1", "--suite", "triage"]) == 0
    )
    assert f"bound to eval_gate entry {g}: suite triage" in capsys.readouterr().out
    assert main(["release", "record", "--model", "m", "--version", "1", "--suite", "nope"]) == 2
    assert "no suite named 'nope'" in capsys.readouterr().err


def test_a_private_key_pasted_as_key_reference_is_never_echoed(
    proj: ReleaseProject, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = proj.maya_key.read_text().strip()
    assert secret.startswith("PRIVATE+KEY+")
    b64 = secret.split("+", 4)[4]
    assert sign(proj, key=secret) == 2
    err = capsys.readouterr().err
    assert b64 not in err
    assert "this is a private key; pass its vkey" in err
