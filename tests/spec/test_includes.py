"""``include``: sections in their own files, resolved relative to the including file."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import VALID_SPEC, write_project

from mondaytest.errors import ConfigError
from mondaytest.spec import load_spec

ONCALL_START = VALID_SPEC.index("oncall:\n")
BASE = VALID_SPEC[:ONCALL_START]
ONCALL = "\n".join(line[2:] for line in VALID_SPEC[ONCALL_START:].splitlines()[1:]) + "\n"


def test_section_include_loads_with_positions_in_the_included_file(tmp_path: Path) -> None:
    spec = write_project(tmp_path, BASE + "oncall: {include: ops/oncall.yaml}\n")
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "oncall.yaml").write_text(ONCALL)
    loaded = load_spec(spec)
    assert loaded.model.oncall.timezone == "Europe/London"
    assert [p.name for p in loaded.files] == ["monday.yaml", "oncall.yaml"]
    loc = loaded.location(("oncall", "timezone"))
    assert loc.file.endswith("ops/oncall.yaml")
    assert loc.line == 1


def test_include_digest_equals_inline_digest(tmp_path: Path) -> None:
    a = tmp_path / "a"
    b = tmp_path / "b"
    inline = load_spec(write_project(a))
    spec = write_project(b, BASE + "oncall: {include: oncall.yaml}\n")
    (b / "oncall.yaml").write_text(ONCALL)
    assert load_spec(spec).digest == inline.digest


def test_error_in_included_file_names_that_file(tmp_path: Path) -> None:
    spec = write_project(tmp_path, BASE + "oncall: {include: oncall.yaml}\n")
    (tmp_path / "oncall.yaml").write_text(ONCALL.replace("Europe/London", "Nowhere/City"))
    with pytest.raises(ConfigError) as info:
        load_spec(spec)
    assert "oncall.yaml:1:" in str(info.value)


def test_include_cycle_refused(tmp_path: Path) -> None:
    spec = write_project(tmp_path, BASE + "oncall: {include: x.yaml}\n")
    (tmp_path / "x.yaml").write_text("timezone: UTC\nrotations: {include: y.yaml}\n")
    (tmp_path / "y.yaml").write_text("primary: {include: x.yaml}\n")
    with pytest.raises(ConfigError) as info:
        load_spec(spec)
    assert "include cycle" in str(info.value)
    assert "y.yaml:1:" in str(info.value)


def test_self_include_refused(tmp_path: Path) -> None:
    spec = write_project(tmp_path, BASE + "oncall: {include: monday.yaml}\n")
    with pytest.raises(ConfigError, match="include cycle"):
        load_spec(spec)


def test_include_outside_project_refused(tmp_path: Path) -> None:
    project = tmp_path / "p"
    spec = write_project(project, BASE + "oncall: {include: ../elsewhere.yaml}\n")
    (tmp_path / "elsewhere.yaml").write_text(ONCALL)
    with pytest.raises(ConfigError, match="outside the project"):
        load_spec(spec)


def test_missing_include_names_the_line(tmp_path: Path) -> None:
    spec = write_project(tmp_path, BASE + "oncall: {include: nope.yaml}\n")
    with pytest.raises(ConfigError) as info:
        load_spec(spec)
    line = BASE.count("\n") + 1
    assert f"monday.yaml:{line}:" in str(info.value)
    assert "does not exist" in str(info.value)


def test_include_with_siblings_refused(tmp_path: Path) -> None:
    spec = write_project(tmp_path, BASE + "oncall: {include: o.yaml, timezone: UTC}\n")
    (tmp_path / "o.yaml").write_text(ONCALL)
    with pytest.raises(ConfigError, match="must stand alone"):
        load_spec(spec)


def test_top_level_include_merges_sections(tmp_path: Path) -> None:
    spec = write_project(tmp_path, "include: [ops.yaml]\n" + BASE)
    (tmp_path / "ops.yaml").write_text(
        "oncall:\n" + "".join("  " + ln + "\n" for ln in ONCALL.splitlines())
    )
    assert load_spec(spec).model.oncall.timezone == "Europe/London"


def test_top_level_include_duplicate_section_refused(tmp_path: Path) -> None:
    spec = write_project(tmp_path, "include: ops.yaml\n" + VALID_SPEC)
    (tmp_path / "ops.yaml").write_text("oncall:\n  timezone: UTC\n")
    with pytest.raises(ConfigError, match="defined both here"):
        load_spec(spec)
