"""Releases bound to gate verdicts, and signed waivers, on a real SQLite audit log."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from tests.evals.releasekit import (
    FP_A,
    FP_B,
    NOW,
    ReleaseProject,
    cleanup,
    make_project,
    run_data,
    verdict,
)

from mondaytest.audit import AuditLog, open_log
from mondaytest.audit.entries import kind_info
from mondaytest.audit.note import open_note, parse_vkey, sign_note
from mondaytest.cli.app import main
from mondaytest.errors import ConfigError, InputError
from mondaytest.evals.evidence import record_gate_result, record_gate_verdict
from mondaytest.evals.gating import gate_run
from mondaytest.evals.release import (
    WAIVER_HEADER,
    ReleasePayload,
    ReleaseRefused,
    WaiverFormatError,
    WaiverRejected,
    find_approval,
    models_in_force,
    parse_waiver,
    release_model,
    sign_waiver,
    target_fingerprint_of,
    verify_waiver,
)
from mondaytest.evals.runs import resolve_run
from mondaytest.evals.suites import suite_from_spec


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReleaseProject]:
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("MONDAY_DATABASE_URL", raising=False)
    monkeypatch.delenv("EVERY", raising=False)
    project = make_project(tmp_path)
    yield project
    cleanup(tmp_path)


@pytest.fixture
def log(proj: ReleaseProject) -> Iterator[AuditLog]:
    with open_log(proj.load()) as opened:
        yield opened


def gate(log: AuditLog, proj: ReleaseProject, kind: str = "pass", fp: str = FP_A, **kw: str) -> int:
    """Record a gate verdict of ``kind`` for target ``fp`` under the current contract."""
    spec_digest = kw.pop("spec_digest", proj.load().digest)
    return record_gate_verdict(
        log, verdict(kind), suite="triage", run=run_data(fp, **kw), spec_digest=spec_digest
    )


def waiver_for(proj: ReleaseProject, version: str = "2", **kw: object) -> bytes:
    fields: dict[str, object] = {
        "model": "scorer",
        "version": version,
        "reason": "hotfix for INC-7; gate re-run tomorrow",
        "approver": "maya",
        "days": 7,
        "now": NOW,
    }
    fields.update(kw)
    signer = fields.pop("signer", proj.maya)
    return sign_waiver(signer, **fields)  # type: ignore[arg-type]


def test_model_version_payload_is_registered_as_configuration() -> None:
    info = kind_info("model_version")
    assert info.model is ReleasePayload
    assert info.config is True


def test_pass_releases_bound_to_the_gate(log: AuditLog, proj: ReleaseProject) -> None:
    loaded = proj.load()
    g = gate(log, proj)
    rec = release_model(log, loaded, model_id="scorer", version="1", target_fingerprint=FP_A)
    entry = log.entry(rec.idx)
    assert entry.kind == "model_version"
    assert entry.is_config
    p = entry.payload
    assert p["eval_gate_idx"] == g
    assert p["target"] == FP_A
    assert p["spec"]["digest"] == loaded.digest
    assert (p["model"], p["version"]) == ("scorer", "1")
    assert "previous" not in p
    assert "waiver_idx" not in p
    # the next release names the version it replaces, and binds to the newest pass
    g2 = gate(log, proj, fp=FP_B, run_id="run-2")
    idx = release_model(log, loaded, model_id="scorer", version="2", target_fingerprint=FP_B).idx
    p2 = log.entry(idx).payload
    assert (p2["previous"], p2["eval_gate_idx"]) == ("1", g2)
    [current] = models_in_force(log)
    assert (current.version, current.idx, current.gate.idx) == ("2", idx, g2)  # type: ignore[union-attr]
    assert current.problems == ()


def test_failed_gate_refuses_and_writes_nothing(log: AuditLog, proj: ReleaseProject) -> None:
    g = gate(log, proj, "fail")
    size = log.size()
    with pytest.raises(ReleaseRefused, match=rf"failed .* at entry {g}") as err:
        release_model(log, proj.load(), model_id="scorer", version="1", target_fingerprint=FP_A)
    assert err.value.exit_code == 1
    assert "waiver" in (err.value.hint or "")
    assert log.size() == size


def test_a_newer_failure_supersedes_an_older_pass(log: AuditLog, proj: ReleaseProject) -> None:
    older = gate(log, proj, "pass")
    gate(log, proj, "fail", run_id="run-2")
    with pytest.raises(ReleaseRefused, match=f"supersedes the pass at entry {older}"):
        release_model(log, proj.load(), model_id="scorer", version="1", target_fingerprint=FP_A)
    gate(log, proj, "pass", run_id="run-3")
    release_model(log, proj.load(), model_id="scorer", version="1", target_fingerprint=FP_A)


def test_inconclusive_never_releases(log: AuditLog, proj: ReleaseProject) -> None:
    gate(log, proj, "inconclusive")
    with pytest.raises(ReleaseRefused, match=r"inconclusive.*needs a pass"):
        release_model(log, proj.load(), model_id="scorer", version="1", target_fingerprint=FP_A)


def test_no_gate_run_refuses(log: AuditLog, proj: ReleaseProject) -> None:
    with pytest.raises(ReleaseRefused, match=r"no eval gate verdict.*monday eval gate"):
        release_model(log, proj.load(), model_id="scorer", version="1", target_fingerprint=FP_A)
    with pytest.raises(InputError, match="--suite"):
        release_model(log, proj.load(), model_id="scorer", version="1")


def test_fingerprint_mismatch_refuses_naming_both(log: AuditLog, proj: ReleaseProject) -> None:
    g = gate(log, proj, fp=FP_A)
    with pytest.raises(ReleaseRefused) as err:
        release_model(log, proj.load(), model_id="scorer", version="1", target_fingerprint=FP_B)
    message = str(err.value)
    assert "no gate verdict judged target fingerprint bbbbbbbbbbbb" in message
    assert f"entry {g}" in message
    assert "aaaaaaaaaaaa" in message
    assert "target changed" in message


def test_contract_changed_since_the_gate(log: AuditLog, proj: ReleaseProject) -> None:
    gate(log, proj, spec_digest="sha256:" + "0" * 64)
    with pytest.raises(ReleaseRefused, match=r"contract now is .*monday eval gate triage --run"):
        release_model(log, proj.load(), model_id="scorer", version="1", target_fingerprint=FP_A)


def test_valid_waiver_writes_a_waiver_entry_and_binds_to_it(
    log: AuditLog, proj: ReleaseProject
) -> None:
    failed = gate(log, proj, "fail")
    note = waiver_for(proj)
    rec = release_model(
        log,
        proj.load(),
        model_id="scorer",
        version="2",
        target_fingerprint=FP_A,
        waiver=note,
        now=NOW + timedelta(days=1),
    )
    mv = log.entry(rec.idx).payload
    assert rec.waiver_idx is not None
    assert mv["waiver_idx"] == rec.waiver_idx < rec.idx
    assert "eval_gate_idx" not in mv
    assert f"entry {failed}" in mv["waived"]
    w = log.entry(rec.waiver_idx)
    assert w.kind == "waiver"
    assert w.payload["action"] == "grant"
    assert w.payload["target"] == "release:scorer@2"
    assert w.payload["approver"] == "maya"
    assert w.payload["expires"] == "2026-12-08T09:00:00Z"
    # the signed note in the entry verifies with the approver's vkey alone
    opened = open_note(w.payload["signature"].encode(), [parse_vkey(proj.maya.vkey)])
    assert opened.text.startswith(WAIVER_HEADER + "\n")
    [current] = models_in_force(log, "scorer")
    assert current.waiver is not None
    assert current.gate is None
    assert current.problems == ()


def test_waiver_not_needed_when_the_gate_passes(log: AuditLog, proj: ReleaseProject) -> None:
    gate(log, proj)
    rec = release_model(
        log,
        proj.load(),
        model_id="scorer",
        version="2",
        target_fingerprint=FP_A,
        waiver=waiver_for(proj),
        now=NOW,
    )
    assert rec.waiver is None
    assert any("not used" in n for n in rec.notes)
    assert log.entry(rec.idx).payload["eval_gate_idx"] == rec.approval.gate.idx  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("make", "now", "error", "pattern"),
    [
        (lambda p: waiver_for(p), NOW + timedelta(days=8), WaiverRejected, "expired at"),
        (lambda p: waiver_for(p, signer=p.tom), NOW, WaiverRejected, "not signed by .*maya"),
        (lambda p: waiver_for(p, approver="ana"), NOW, WaiverRejected, "no signing key"),
        (lambda p: waiver_for(p, approver="zoe"), NOW, WaiverRejected, "not in owners"),
        (
            lambda p: waiver_for(p, version="3"),
            NOW,
            WaiverRejected,
            "covers model scorer version 3",
        ),
        (lambda p: waiver_for(p, fingerprint=FP_B), NOW, WaiverRejected, "fingerprint bbbb"),
        (lambda p: waiver_for(p, suite="other"), NOW, WaiverRejected, "covers suite other only"),
        (lambda p: waiver_for(p).replace(b"INC-7", b"INC-8"), NOW, WaiverRejected, "not signed"),
        (lambda p: waiver_for(p, now=NOW + timedelta(hours=1)), NOW, WaiverRejected, "future"),
        (lambda p: b"not a waiver\n", NOW, WaiverFormatError, "not a signed note"),
        (
            lambda p: sign_note("hello\n", [p.maya]),
            NOW,
            WaiverFormatError,
            "not a release waiver",
        ),
        (
            lambda p: sign_note(WAIVER_HEADER + '\n{"model": "scorer"}\n', [p.maya]),
            NOW,
            WaiverFormatError,
            "version",
        ),
        (
            lambda p: sign_note(WAIVER_HEADER + "\n{nope\n", [p.maya]),
            NOW,
            WaiverFormatError,
            "JSON is malformed",
        ),
    ],
)
def test_bad_waivers_are_refused(
    log: AuditLog,
    proj: ReleaseProject,
    make: object,
    now: object,
    error: type[Exception],
    pattern: str,
) -> None:
    gate(log, proj, "fail")
    note = make(proj)  # type: ignore[operator]
    size = log.size()
    with pytest.raises(error, match=pattern) as err:
        release_model(
            log,
            proj.load(),
            model_id="scorer",
            version="2",
            target_fingerprint=FP_A,
            waiver=note,
            now=now,  # type: ignore[arg-type]
        )
    assert err.value.exit_code == (2 if error is WaiverFormatError else 1)  # type: ignore[attr-defined]
    assert log.size() == size


def test_waivers_longer_than_30_days_are_refused(proj: ReleaseProject) -> None:
    with pytest.raises(InputError, match="at most 30 days"):
        waiver_for(proj, days=31)
    # a hand-made 40-day waiver, correctly signed, is refused when used
    body = json.dumps(
        {
            "model": "scorer",
            "version": "2",
            "reason": "long",
            "approver": "maya",
            "issued": "2026-12-01T09:00:00Z",
            "expires": "2027-01-10T09:00:00Z",
        }
    )
    note = sign_note(f"{WAIVER_HEADER}\n{body}\n", [proj.maya])
    assert parse_waiver(note).approver == "maya"
    with pytest.raises(WaiverRejected, match="valid for 40 days"):
        verify_waiver(note, proj.load().model, model="scorer", version="2", now=NOW)


def test_sign_waiver_round_trip(proj: ReleaseProject) -> None:
    note = waiver_for(proj, suite="triage", fingerprint=FP_A)
    signed = verify_waiver(
        note,
        proj.load().model,
        model="scorer",
        version="2",
        suite="triage",
        fingerprint=FP_A,
        now=NOW,
    )
    assert signed.key == f"maya+{proj.maya.key_id.hex()}"
    assert signed.waiver.expires == NOW + timedelta(days=7)
    assert signed.waiver.to_json()["fingerprint"] == FP_A


def test_release_by_suite_end_to_end(proj: ReleaseProject, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real runs: a passing gate releases the suite's target as it is now; the same code
    behaving worse fails the gate and the release is refused; new code was never gated."""
    s = str(proj.spec_path)
    assert main(["eval", "run", "triage", "--spec", s, "-q"]) == 0
    assert main(["eval", "baseline", "bless", "latest", "--spec", s]) == 0
    loaded = proj.load()
    ref = suite_from_spec(loaded, "triage")
    fp = target_fingerprint_of(loaded, "triage")
    passed = record_gate_result(loaded, gate_run(ref, resolve_run(ref.root_dir, "latest")))
    with open_log(loaded) as log:
        rec = release_model(log, loaded, model_id="scorer", version="1", suite="triage")
        assert log.entry(rec.idx).payload["eval_gate_idx"] == passed
        assert log.entry(rec.idx).payload["target"] == fp
        assert log.entry(passed).payload["target"]["fingerprint"] == fp
    # the same code (same fingerprint) now fails 14 of 100 cases
    monkeypatch.setenv("EVERY", "7")
    sys.modules.pop("app", None)
    assert main(["eval", "run", "triage", "--spec", s, "-q"]) == 0
    failed = record_gate_result(loaded, gate_run(ref, resolve_run(ref.root_dir, "latest")))
    assert target_fingerprint_of(loaded, "triage") == fp
    with open_log(loaded) as log, pytest.raises(ReleaseRefused, match=f"at entry {failed}"):
        release_model(log, loaded, model_id="scorer", version="2", suite="triage")
    # new code that no gate judged
    app = proj.root / "app.py"
    app.write_text(app.read_text() + "\n# v3: a change nobody gated\n")
    os.utime(app)
    sys.modules.pop("app", None)
    assert target_fingerprint_of(loaded, "triage") != fp
    with open_log(loaded) as log, pytest.raises(ReleaseRefused, match="target changed"):
        release_model(log, loaded, model_id="scorer", version="3", suite="triage")
    with pytest.raises(ConfigError, match="no suite named"), open_log(loaded) as log:
        release_model(log, loaded, model_id="scorer", version="3", suite="nope")


def test_find_approval_reports_dirty_trees(log: AuditLog, proj: ReleaseProject) -> None:
    data = run_data()
    data["provenance"]["git"]["dirty"] = True
    record_gate_verdict(log, verdict(), suite="triage", run=data, spec_digest=proj.load().digest)
    found = find_approval(log, fingerprint=FP_A, spec_digest=proj.load().digest)
    assert found.approved
    assert any("dirty working tree" in n for n in found.notes)
