"""Committed baselines: bless, write, read back exactly, refuse broken files with FILE:LINE."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mondaytest._util.canonical import canonical_json
from mondaytest.errors import HarnessError, InputError
from mondaytest.evals.baseline import (
    BASELINE_SCHEMA,
    BASELINE_SCHEMA_V1,
    baseline_path,
    bless,
    dumps_baseline,
    loads_baseline,
    read_baseline,
    write_baseline,
)
from mondaytest.evals.gate import CaseOutcome, evaluate_gate
from mondaytest.spec.evals_gate import GateSpec

WHEN = datetime(2026, 5, 1, 12, 7, 33, tzinfo=UTC)


def outcomes() -> list[CaseOutcome]:
    return [
        CaseOutcome(
            "b-2", False, {"label": 0.0, "sim": 1 / 3}, ("x",), "k1", False, 412.25, Decimal("0.01")
        ),
        CaseOutcome("a-1", True, {"label": 1.0, "sim": 0.875}, ("critical",), None, False, 3.0),
        CaseOutcome("c-3", False, {}, (), None, True),
    ]


def test_bless_write_read_round_trip(tmp_path: Path) -> None:
    base = bless(
        outcomes(),
        suite="triage",
        run_id="run-1",
        spec_digest="sha256:aa",
        dataset_hash="sha256:bb",
        fingerprint="sha256:cc",
        created=WHEN,
    )
    assert [o.id for o in base.outcomes] == ["a-1", "b-2", "c-3"]
    path = write_baseline(baseline_path(tmp_path, "triage"), base)
    assert path == tmp_path / "evals" / "baselines" / "triage.json"
    again = read_baseline(path, suite="triage")
    assert again == base
    assert again.outcomes[1].scores["sim"] == 1 / 3  # floats survive exactly as decimal text
    assert again.outcomes[1].cost_usd == Decimal("0.01")
    assert again.digest() == base.digest()
    assert again.created == WHEN


def test_file_layout_is_reviewable_and_float_free(tmp_path: Path) -> None:
    base = bless(
        outcomes(), suite="triage", run_id="r", spec_digest=None, dataset_hash=None, created=WHEN
    )
    text = dumps_baseline(base)
    data = json.loads(text)
    assert data["schema"] == BASELINE_SCHEMA_V1  # no per-case hashes given
    assert data["created"] == "2026-05-01T12:07:33Z"
    canonical_json(data)  # raises on any float
    case_lines = [line for line in text.splitlines() if line.strip().startswith('{"')]
    assert len(case_lines) == 3  # one case per line: a changed case is a one-line diff
    assert '"sim":"0.875"' in case_lines[0]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=12),
            st.booleans(),
            st.floats(0, 1),
            st.none() | st.floats(0, 1e6),
        ),
        min_size=1,
        max_size=20,
        unique_by=lambda t: t[0],
    )
)
def test_round_trip_property(rows: list[tuple[str, bool, float, float | None]]) -> None:
    items = [CaseOutcome(i, p, {"m": s}, latency_ms=lat) for i, p, s, lat in rows]
    base = bless(items, suite="s", run_id="r", spec_digest=None, dataset_hash=None, created=WHEN)
    assert loads_baseline(dumps_baseline(base)) == base


def test_bless_refuses_empty_runs_duplicates_and_bad_names() -> None:
    with pytest.raises(InputError) as info:
        bless([], suite="s", run_id="r", spec_digest=None, dataset_hash=None)
    assert "nothing to bless" in str(info.value)
    with pytest.raises(HarnessError):
        bless(
            [CaseOutcome("a", True), CaseOutcome("a", False)],
            suite="s",
            run_id="r",
            spec_digest=None,
            dataset_hash=None,
        )
    with pytest.raises(InputError):
        bless([CaseOutcome("a", True)], suite="../x", run_id="r", spec_digest=None, dataset_hash="")
    with pytest.raises(InputError):
        bless(
            [CaseOutcome("a", True)],
            suite="s",
            run_id="r",
            spec_digest=None,
            dataset_hash=None,
            created=datetime(2026, 1, 1),  # naive
        )


def test_created_is_normalised_to_utc() -> None:
    local = datetime(2026, 5, 1, 14, 7, 33, 999, tzinfo=timezone(timedelta(hours=2)))
    base = bless(
        [CaseOutcome("a", True)],
        suite="s",
        run_id="r",
        spec_digest=None,
        dataset_hash=None,
        created=local,
    )
    assert base.created == WHEN


def _text() -> str:
    base = bless(
        outcomes(), suite="triage", run_id="r", spec_digest=None, dataset_hash=None, created=WHEN
    )
    return dumps_baseline(base)


def test_json_syntax_error_names_file_line_and_column() -> None:
    broken = _text().replace('"run_id": "r",', '"run_id": "r"')
    with pytest.raises(InputError) as info:
        loads_baseline(broken, source="evals/baselines/triage.json")
    assert str(info.value).startswith("evals/baselines/triage.json:5:")
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("old", "new", "field", "line"),
    [
        ('"sim":"0.875"', '"sim":0.875', "cases[0].scores.sim", 10),
        ('"sim":"0.875"', '"sim":"1.5"', "cases[0].scores", 10),
        ('"sim":"0.875"', '"sim":"lots"', "cases[0].scores.sim", 10),
        ('"latency_ms":"412.25"', '"latency_ms":"-1"', "cases[1].latency_ms", 11),
        ('"passed":true', '"passed":"yes"', "cases[0].passed", 10),
        ('"error":true', '"error":true,"note":1', "cases[2].note", 12),
        ('"schema": "monday.eval.baseline/1"', '"schema": "v0"', "schema", 2),
        ('"created": "2026-05-01T12:07:33Z"', '"created": "2026-05-01T12:07:33"', "created", 5),
        ('"suite": "triage"', '"suite": "../etc"', "suite", 3),
    ],
)
def test_invalid_content_names_the_field_and_line(
    old: str, new: str, field: str, line: int
) -> None:
    text = _text()
    assert old in text
    with pytest.raises(InputError) as info:
        loads_baseline(text.replace(old, new), source="b.json")
    assert info.value.field == field
    assert info.value.location is not None
    assert info.value.location.line == line


def test_duplicate_ids_wrong_suite_empty_and_nan() -> None:
    text = _text()
    dup = text.replace('"id":"b-2"', '"id":"a-1"')
    with pytest.raises(InputError) as info:
        loads_baseline(dup, source="b.json")
    assert "appears twice" in str(info.value)
    with pytest.raises(InputError) as info:
        loads_baseline(text, source="b.json", suite="other")
    assert "not 'other'" in str(info.value)
    empty = json.dumps({**json.loads(text), "cases": []})
    with pytest.raises(InputError) as info:
        loads_baseline(empty)
    assert info.value.field == "cases"
    with pytest.raises(InputError):
        loads_baseline(text.replace('"0.875"', "NaN"))
    with pytest.raises(InputError):
        loads_baseline("[]")


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_baseline(tmp_path / "missing.json")
    assert "bless" in (info.value.hint or "")
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(InputError):
        read_baseline(bad)


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    base = bless(
        outcomes(), suite="triage", run_id="r", spec_digest=None, dataset_hash=None, created=WHEN
    )
    target = tmp_path / "b.json"
    target.write_text("old")
    write_baseline(target, base)
    assert read_baseline(target) == base
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json"]


def test_a_baseline_feeds_the_gate(tmp_path: Path) -> None:
    base = bless(
        outcomes(), suite="triage", run_id="r", spec_digest=None, dataset_hash=None, created=WHEN
    )
    path = write_baseline(tmp_path / "b.json", base)
    loaded = read_baseline(path)
    gate = GateSpec.model_validate(
        {"regression": {"metrics": ["label"]}, "budgets": {"error_rate": {"max": 1}}}
    )
    verdict = evaluate_gate(list(loaded.outcomes), loaded.outcomes, gate)
    assert verdict.n_paired == 2  # the errored case is not paired
    assert verdict.inputs["baseline"] == loaded.digest()


# ------------------------------------------------------------------ per-case hashes (schema /2)

H_IN, H_EXP = "1" * 64, "2" * 64


def hashed(ids: list[str] | None = None) -> dict[str, tuple[str, str]]:
    return {i: (H_IN, H_EXP) for i in ids or ["a-1", "b-2", "c-3"]}


def test_hashes_are_written_canonically_and_read_back(tmp_path: Path) -> None:
    base = bless(
        outcomes(),
        suite="triage",
        run_id="r",
        spec_digest=None,
        dataset_hash=None,
        created=WHEN,
        case_hashes=hashed() | {"b-2": ("3" * 64, "4" * 64)},
    )
    text = dumps_baseline(base)
    data = json.loads(text)
    assert data["schema"] == BASELINE_SCHEMA == "monday.eval.baseline/2"
    for line, case in zip(
        [x.strip().rstrip(",") for x in text.splitlines() if x.strip().startswith('{"')],
        data["cases"],
        strict=True,
    ):
        assert line == canonical_json(case).decode()  # still canonical: keys sorted
    assert data["cases"][1]["input_hash"] == "3" * 64
    assert data["cases"][1]["expected_hash"] == "4" * 64
    again = loads_baseline(text)
    assert again == base
    assert again.case_hashes is not None
    assert again.case_hashes["b-2"] == ("3" * 64, "4" * 64)
    assert again.digest() == base.digest()  # the outcomes digest does not change with hashes


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=10, unique=True))
def test_hashes_survive_any_id(ids: list[str]) -> None:
    ids = [*ids, ',"id":"x","latency_ms":'] if ',"id":"x","latency_ms":' not in ids else ids
    base = bless(
        [CaseOutcome(i, True, {"m": 1.0}, (), i) for i in ids],
        suite="s",
        run_id="r",
        spec_digest=None,
        dataset_hash=None,
        created=WHEN,
        case_hashes=hashed(ids),
    )
    assert loads_baseline(dumps_baseline(base)) == base


def test_bless_refuses_a_case_without_hashes() -> None:
    with pytest.raises(HarnessError, match="'c-3' of run 'r' has no input/expected hash"):
        bless(
            outcomes(),
            suite="s",
            run_id="r",
            spec_digest=None,
            dataset_hash=None,
            case_hashes=hashed(["a-1", "b-2"]),
        )


def test_schema_and_hashes_must_agree() -> None:
    v2 = dumps_baseline(
        bless(
            outcomes(),
            suite="s",
            run_id="r",
            spec_digest=None,
            dataset_hash=None,
            created=WHEN,
            case_hashes=hashed(),
        )
    )
    with pytest.raises(InputError, match="has no input_hash") as info:
        loads_baseline(v2.replace(f'"input_hash":"{H_IN}",', "", 1), source="b.json")
    assert info.value.field == "cases[0].input_hash"
    with pytest.raises(InputError, match=r"which schema monday\.eval\.baseline/1 does not have"):
        loads_baseline(v2.replace("baseline/2", "baseline/1"))
    with pytest.raises(
        InputError, match=r"'monday\.eval\.baseline/3' is not one this Monday reads"
    ):
        loads_baseline(v2.replace("baseline/2", "baseline/3"), source="b.json")
    with pytest.raises(InputError, match="pattern"):
        loads_baseline(v2.replace(H_IN, "xyz", 1))


def test_old_schema_files_are_still_read() -> None:
    v1 = dumps_baseline(
        bless(outcomes(), suite="s", run_id="r", spec_digest=None, dataset_hash=None, created=WHEN)
    )
    assert '"schema": "monday.eval.baseline/1"' in v1
    old = loads_baseline(v1)
    assert old.case_hashes is None
    assert old.schema == BASELINE_SCHEMA_V1
