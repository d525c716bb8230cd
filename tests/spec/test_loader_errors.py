"""Every class of malformed contract exits 2 and names the exact FILE:LINE."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tests.conftest import VALID_SPEC, write_project

from mondaytest.cli.app import main
from mondaytest.errors import ConfigError
from mondaytest.spec import SpecErrors, load_spec


def _replace(old: str, new: str) -> str:
    assert old in VALID_SPEC, old
    return VALID_SPEC.replace(old, new, 1)


BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
)

# (name, spec text or bytes, expected "FILE:LINE" suffix, fragment of the message)
CASES: list[tuple[str, str | bytes, str, str]] = [
    ("wrong type", _replace("customer_facing: true", "customer_facing: maybe"), ":20:", "boolean"),
    ("unknown key", _replace("  risk: high", "  risk: high\n  rsik: high"), ":6:", "did you mean"),
    (
        "unknown top key",
        _replace("handoff_window: P90D", "handoff_windw: P90D"),
        ":16:",
        "handoff_window",
    ),
    (
        "missing required",
        _replace("  description: Routes claims.\n", ""),
        ":2:",
        "missing required field 'description'",
    ),
    ("bad literal", _replace("risk: high", "risk: extreme"), ":5:", "high"),
    (
        "bad date",
        _replace("cutover: 2026-12-07T09:00:00+00:00", "cutover: 2026-13-40"),
        ":15:",
        "cutover",
    ),
    (
        "naive cutover",
        _replace("cutover: 2026-12-07T09:00:00+00:00", "cutover: 2026-12-07T09:00:00"),
        ":15:",
        "time zone",
    ),
    (
        "bad duration",
        _replace("handoff_window: P90D", "handoff_window: 90 days"),
        ":16:",
        "ISO 8601 duration",
    ),
    (
        "duplicate key",
        _replace("  risk: high", "  risk: high\n  risk: low"),
        ":6:",
        "duplicate key",
    ),
    ("duplicate id", _replace("{id: regression,", "{id: outage,"), ":24:", "duplicate id"),
    (
        "unknown reference",
        _replace('notify: ["rotation:primary"]', 'notify: ["rotation:primry"]'),
        ":41:",
        "did you mean 'primary'",
    ),
    ("unknown person", _replace("members: [ana]", "members: [anna]"), ":37:", "unknown person"),
    ("missing runbook", _replace("runbooks/c.md", "runbooks/missing.md"), ":25:", "runbook file"),
    ("missing dataset", _replace("evals/triage.jsonl", "evals/nope.jsonl"), ":29:", "dataset file"),
    ("yaml syntax", _replace("  risk: high", "  risk: [high"), ":", "YAML"),
    ("empty", "", ":1:", "empty"),
    ("only comments", "# nothing here\n\n", ":1:", "empty"),
    ("non-utf8", VALID_SPEC.encode().replace(b"Routes", b"Rout\xe9s"), ":4:", "UTF-8"),
    ("alias bomb", BOMB, ":1:", "alias bomb"),
    (
        "too few failure modes",
        _replace("  - {id: unsafe, title: Unsafe, severity: P1, runbook: runbooks/c.md}\n", ""),
        ":22:",
        "at least three",
    ),
    ("bad severity", _replace("severity: P2", "severity: P7"), ":24:", "P1"),
    (
        "bad time zone",
        _replace("timezone: Europe/London", "timezone: Mars/Olympus"),
        ":35:",
        "time zone",
    ),
    (
        "secret in clear",
        _replace(
            "  routes:",
            "  pagers:\n    - {kind: slack, webhook: https://hooks.example.com/x}\n  routes:",
        ),
        ":43:",
        "env:VAR_NAME",
    ),
    ("bad id", _replace("name: claims-triage", "name: Claims Triage"), ":3:", "pattern"),
    ("not a mapping", "- just\n- a list\n", ":1:", "mapping"),
    ("future version", _replace("version: 1", "version: 9"), ":1:", "newer"),
    ("bad email", _replace("maya@example.com", "not-an-email"), ":10:", "email"),
    (
        "override backwards",
        _replace(
            "  escalation:",
            "  overrides:\n    - {rotation: primary, who: ana, from: "
            "2026-12-09T09:00:00, to: 2026-12-08T09:00:00, reason: swap}\n  escalation:",
        ),
        ":39:",
        "ends before it starts",
    ),
    ("non-string key", _replace("  risk: high", "  risk: high\n  1: x"), ":6:", "not a string"),
]


@pytest.mark.parametrize(("name", "text", "where", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_malformed_spec_exits_2_naming_the_place(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    text: str | bytes,
    where: str,
    fragment: str,
) -> None:
    spec = write_project(tmp_path, "")
    spec.write_bytes(text.encode() if isinstance(text, str) else text)
    started = time.perf_counter()
    rc = main(["spec", "validate", str(spec)])
    elapsed = time.perf_counter() - started
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    assert f"monday.yaml{where}" in err, err
    assert fragment.lower() in err.lower(), err
    assert elapsed < 1.0, f"{name} took {elapsed:.2f}s"


def test_at_least_twenty_error_classes() -> None:
    assert len(CASES) >= 20


def test_oversize_file_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_project(tmp_path)
    spec.write_text(VALID_SPEC + "#" * (1024 * 1024 + 10) + "\n")
    assert main(["spec", "validate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "monday.yaml" in err
    assert "byte limit" in err


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    text = _replace("risk: high", "risk: extreme").replace(
        "customer_facing: true", "customer_facing: 3"
    )
    spec = write_project(tmp_path, text)
    with pytest.raises(SpecErrors) as info:
        load_spec(spec)
    lines = [str(p.location.line) for p in info.value.problems if p.location]
    assert lines == ["5", "20"]


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec", "validate", str(tmp_path / "nope.yaml")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_no_spec_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["spec", "validate"]) == 2
    assert "monday init" in capsys.readouterr().err


def test_alias_bomb_refused_quickly(tmp_path: Path) -> None:
    spec = write_project(tmp_path, BOMB)
    started = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        load_spec(spec)
    assert time.perf_counter() - started < 1.0
    assert "alias" in str(info.value)


def test_debug_shows_traceback(project: Path) -> None:
    project.write_text(_replace("risk: high", "risk: extreme"))
    with pytest.raises(SpecErrors):
        main(["--debug", "spec", "validate", str(project)])
