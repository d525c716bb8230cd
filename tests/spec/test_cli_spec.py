"""The spec commands and ``monday init`` end to end through the CLI entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mondaytest.cli.app import main
from mondaytest.spec import load_spec
from mondaytest.spec.docs import json_schema, reference_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_init_then_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "proj"
    assert main(["init", str(target)]) == 0
    assert main(["spec", "validate", str(target / "monday.yaml")]) == 0
    for book in ("provider-outage", "quality-regression", "unsafe-decisions", "ground-truth-slip"):
        text = (target / "runbooks" / f"{book}.md").read_text()
        for section in (
            "Symptoms",
            "Impact",
            "Diagnosis",
            "Mitigation",
            "Escalation",
            "Verification",
            "Rollback",
        ):
            assert f"## {section}" in text
    workflow = (target / ".github" / "workflows" / "monday.yml").read_text()
    assert "monday eval gate" in workflow
    assert "monday check" in workflow
    assert ".monday/" in (target / ".gitignore").read_text()
    assert load_spec(target).model.system.name == "proj"


def test_init_twice_changes_nothing(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path)]) == 0
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert main(["init", str(tmp_path)]) == 0
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert before == after


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path)]) == 0
    book = tmp_path / "runbooks" / "provider-outage.md"
    book.write_text("# our own runbook\n")
    (tmp_path / ".gitignore").write_text("node_modules/\n")
    assert main(["init", str(tmp_path)]) == 0
    assert book.read_text() == "# our own runbook\n"
    assert (tmp_path / ".gitignore").read_text() == "node_modules/\n.monday/\n" or (
        tmp_path / ".gitignore"
    ).read_text().startswith("node_modules/\n")
    assert main(["init", "--force", str(tmp_path)]) == 0
    assert "## Symptoms" in book.read_text()


def test_init_into_a_file_is_an_input_error(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["init", str(f)]) == 2


def test_show_json_has_provenance_and_digest(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subprocess.run(["git", "init", "-q", str(project.parent)], check=True)
    assert main(["spec", "show", str(project), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["provenance"]["digest"] == load_spec(project).digest
    assert out["provenance"]["git_dirty"] is True
    assert out["provenance"]["git_commit"] is None
    assert out["spec"]["handoff_window"] == "P90D"
    assert out["spec"]["audit"]["durability"] == "sequenced"  # default filled in


def test_show_text_is_plain_when_piped(project: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mondaytest", "spec", "show", str(project)],
        capture_output=True,
        text=True,
        env={"CI": "true", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "\x1b[" not in done.stdout
    assert "digest    sha256:" in done.stdout


def test_schema_validates_a_real_contract(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import jsonschema

    from mondaytest.spec.loader import load_document

    assert main(["spec", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    data = load_document(project)[0]
    jsonschema.validate(data, schema)
    data["system"]["risk"] = "extreme"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)


def test_committed_docs_are_current() -> None:
    assert (DOCS / "monday.schema.json").read_text() == json_schema(), "run `make docs`"
    assert (DOCS / "spec-reference.md").read_text() == reference_markdown(), "run `make docs`"


def test_migrate_current_version_is_a_no_op(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = project.read_text()
    assert main(["spec", "migrate", str(project)]) == 0
    assert "already at version 1" in capsys.readouterr().out
    assert project.read_text() == before


def test_migrate_refuses_unknown_old_version(project: Path) -> None:
    project.write_text(project.read_text().replace("version: 1", "version: 0"))
    assert main(["spec", "migrate", str(project)]) == 2


def test_validate_says_migrate_for_old_version(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write_text(project.read_text().replace("version: 1", "version: 0"))
    assert main(["spec", "validate", str(project)]) == 2
    assert "monday spec migrate" in capsys.readouterr().err


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("monday ")


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec", "validate", "--no-such-flag"]) == 2


def test_init_into_an_unwritable_path_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "f").write_text("x")
    for target in ("/proc/x", str(tmp_path / "f" / "sub")):
        assert main(["init", target]) == 2
        err = capsys.readouterr().err
        assert "cannot write" in err
        assert "internal error" not in err
