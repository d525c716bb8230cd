"""Datasets: JSONL, CSV and YAML; every malformed row is named by FILE:LINE."""

from __future__ import annotations

import json
import string
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mondaytest.errors import InputError
from mondaytest.evals import dataset as dataset_mod
from mondaytest.evals.dataset import DatasetError, load_dataset
from mondaytest.evals.model import MISSING


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_fields_and_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.jsonl",
        '{"id": "a", "input": {"q": 1}, "expected": null, "tags": ["x", "x", "y"], "cluster": 7}\n'
        "\n"
        '{"id": 2, "input": "hi", "weight": 2, "metadata": {"k": "v"}}\n',
    )
    ds = load_dataset(path)
    assert len(ds) == 2
    assert ds.format == "jsonl"
    assert ds.in_memory
    a, b = list(ds)
    assert (a.id, a.input, a.expected, a.tags, a.cluster, a.line) == (
        "a",
        {"q": 1},
        None,
        ("x", "y"),
        "7",
        1,
    )
    assert (b.id, b.expected, b.weight, b.metadata, b.line) == ("2", MISSING, 2.0, {"k": "v"}, 3)
    assert len(ds.sha256) == 64


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "a", "input": 1', "invalid JSON"),
        ('["a", 1]', "a case must be a mapping"),
        ('{"input": 1}', "case has no 'id'"),
        ('{"id": "b"}', "has no 'input'"),
        ('{"id": true, "input": 1}', "id must be a string or an integer"),
        ('{"id": "  ", "input": 1}', "id is empty"),
        ('{"id": "b", "input": 1, "expect": 2}', "did you mean 'expected'"),
        ('{"id": "b", "input": 1, "tags": "critical"}', "tags must be a list"),
        ('{"id": "b", "input": 1, "weight": 0}', "weight must be a number > 0"),
        ('{"id": "b", "input": 1, "cluster": [1]}', "cluster must be a string"),
        ('{"id": "b", "input": 1, "metadata": 3}', "metadata must be a mapping"),
        ('{"id": "b", "input": NaN}', "NaN is not valid JSON"),
        ('{"id": "a", "input": 2}', "duplicate id 'a' (first at line 1)"),
    ],
)
def test_jsonl_problems_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, "c.jsonl", '{"id": "a", "input": 1}\n\n' + line + "\n")
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    text = str(info.value)
    assert message in text
    assert info.value.location is not None
    assert info.value.location.line == 3
    assert text.startswith(f"{info.value.location.file}:3")
    assert info.value.exit_code == 2


def test_many_problems_are_listed_together(tmp_path: Path) -> None:
    rows = ['{"id": "x", "input": 1}'] * 3 + ["oops"] + ['{"input": 1}']
    path = write(tmp_path, "c.jsonl", "\n".join(rows) + "\n")
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    lines = [p.location.line for p in info.value.problems if p.location]
    assert lines == [2, 3, 4, 5]
    assert "4 problems found" in str(info.value)


def test_problem_count_is_capped(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", "nope\n" * 100)
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert len(info.value.problems) == dataset_mod.MAX_PROBLEMS
    assert "stopped after" in str(info.value)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no cases"):
        load_dataset(write(tmp_path, "e.jsonl", "\n\n"))
    with pytest.raises(InputError, match="not found"):
        load_dataset(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="unknown dataset format"):
        load_dataset(write(tmp_path, "x.txt", "a"))


def test_utf8_bom_and_bad_bytes(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": "a", "input": 1}\n{"id": "b", "input": "\xff"}\n')
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert info.value.location is not None
    assert info.value.location.line == 2
    assert "UTF-8" in str(info.value)


def test_large_jsonl_is_read_lazily(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dataset_mod, "IN_MEMORY_BYTES", 10)
    rows = [{"id": f"c{i}", "input": {"n": i}, "tags": ["t"]} for i in range(50)]
    path = write(tmp_path, "big.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    ds = load_dataset(path)
    assert not ds.in_memory
    assert ds.case(37).input == {"n": 37}
    assert ds.case(37).line == 38
    assert [c.id for c in ds] == [f"c{i}" for i in range(50)]
    ds.close()


def test_csv_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.csv",
        "id,input.text,input.channel,expected,tags,weight,metadata.src\n"
        'a,"hello, world",web,HELLO,critical;x,2,m1\n'
        "b,bye,mail,,,,\n"
        'c,"multi\nline",web,X,,,\n'
        "d,ok,web,Y,,,\n",
    )
    ds = load_dataset(path)
    a, b, c, d = list(ds)
    assert a.input == {"text": "hello, world", "channel": "web"}
    assert (a.expected, a.tags, a.weight, a.metadata) == (
        "HELLO",
        ("critical", "x"),
        2.0,
        {"src": "m1"},
    )
    assert b.expected is MISSING
    assert b.tags == ()
    assert c.input["text"] == "multi\nline"
    assert (a.line, b.line, c.line, d.line) == (2, 3, 4, 6)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("id,inputs\na,1\n", 1, "unknown column 'inputs'"),
        ("id,expected\na,1\n", 1, "needs an 'id' and an 'input'"),
        ("id,input,input.x\na,1,2\n", 1, "clashes"),
        ("id,input\na,1\nb,2,3\n", 3, "row has 3 fields"),
        ("id,input,weight\na,1,heavy\n", 2, "weight must be a number"),
        ("id,input\na,1\na,2\n", 3, "duplicate id"),
    ],
)
def test_csv_problems(tmp_path: Path, text: str, line: int, message: str) -> None:
    with pytest.raises(InputError) as info:
        load_dataset(write(tmp_path, "c.csv", text))
    assert message in str(info.value)
    assert info.value.location is not None
    assert info.value.location.line == line


def test_yaml_list_and_cases_key(tmp_path: Path) -> None:
    ds = load_dataset(
        write(
            tmp_path,
            "c.yaml",
            "# hand-written\n- id: a\n  input: {q: 1.5}\n  expected: true\n"
            "- id: b\n  input: when\n  expected: 2026-01-01\n",
        )
    )
    a, b = list(ds)
    assert (a.input, a.expected, a.line) == ({"q": 1.5}, True, 2)
    assert (b.expected, b.line) == ("2026-01-01", 5)
    ds2 = load_dataset(write(tmp_path, "d.yml", "cases:\n  - {id: a, input: 1}\n"))
    assert len(ds2) == 1


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a: 1\n", 1, "list of cases"),
        ("- id: a\n  input: 1\n- id: a\n  input: 2\n", 3, "duplicate id"),
        ("- id: a\n  input: [1\n", 3, ""),
        ("- id: a\n  input: 1\n- nope\n", 3, "must be a mapping"),
    ],
)
def test_yaml_problems(tmp_path: Path, text: str, line: int, message: str) -> None:
    with pytest.raises(InputError) as info:
        load_dataset(write(tmp_path, "c.yaml", text))
    assert message in str(info.value)
    assert info.value.location is not None
    assert info.value.location.line == line


# ----------------------------------------------------------------------------- properties

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
ids = st.text(
    alphabet=string.ascii_letters + string.digits + "-_.:/ é", min_size=1, max_size=12
).filter(lambda s: s.strip() != "")
case_rows = st.lists(
    st.fixed_dictionaries(
        {"id": ids, "input": json_values},
        optional={
            "expected": json_values,
            "tags": st.lists(st.text(string.ascii_lowercase, min_size=1, max_size=5), max_size=3),
            "cluster": st.text(string.ascii_lowercase, min_size=1, max_size=4),
            "weight": st.floats(min_value=0.01, max_value=100),
        },
    ),
    min_size=1,
    max_size=20,
    unique_by=lambda r: r["id"],
)


@settings(
    max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(rows=case_rows)
def test_jsonl_round_trip(tmp_path: Path, rows: list[dict[str, Any]]) -> None:
    path = tmp_path / "rt.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    ds = load_dataset(path)
    assert len(ds) == len(rows)
    for i, (row, case) in enumerate(zip(rows, ds, strict=True)):
        assert case.id == row["id"]
        assert case.line == i + 1
        assert case.input == row["input"]
        assert case.expected == row.get("expected", MISSING)
        assert case.tags == tuple(dict.fromkeys(row.get("tags", [])))


@settings(
    max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(rows=case_rows, data=st.data())
def test_one_corrupted_line_is_located(
    tmp_path: Path, rows: list[dict[str, Any]], data: st.DataObject
) -> None:
    lines = [json.dumps(r) for r in rows]
    bad = data.draw(st.integers(0, len(lines) - 1))
    kind = data.draw(st.sampled_from(["cut", "dup", "noid", "list"]))
    if kind == "cut":
        lines[bad] = lines[bad][: max(1, len(lines[bad]) // 2)]
    elif kind == "dup":
        if bad == 0:
            bad = len(lines)
            lines.append(lines[0])
        else:
            lines[bad] = json.dumps({**rows[bad], "id": rows[0]["id"]})
    elif kind == "noid":
        lines[bad] = json.dumps({k: v for k, v in rows[bad].items() if k != "id"})
    else:
        lines[bad] = json.dumps([rows[bad]])
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert [p.location.line for p in info.value.problems if p.location] == [bad + 1]


# ------------------------------------------------------------------ strings UTF-8 cannot encode


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ('{"id": "\\ud800", "input": 1}', "id"),
        ('{"id": "ok", "input": 1, "tags": ["crit", "\\udfff"]}', "tags[1]"),
        ('{"id": "ok", "input": {"text": "a\\ud83d"}}', "input.text"),
        ('{"id": "ok", "input": 1, "expected": ["\\udc00x"]}', "expected[0]"),
        ('{"id": "ok", "input": {"\\ud800": 1}}', "a key of input"),
        ('{"id": "ok", "input": 1, "cluster": "\\ud800"}', "cluster"),
    ],
)
def test_jsonl_lone_surrogate_is_refused_with_file_and_line(
    tmp_path: Path, line: str, where: str
) -> None:
    path = write(tmp_path, "s.jsonl", '{"id": "fine", "input": "\\ud83d\\ude00"}\n' + line + "\n")
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    err = info.value
    assert err.location is not None
    assert (Path(err.location.file).name, err.location.line) == ("s.jsonl", 2)
    assert f"{where} holds a lone surrogate" in str(err)
    assert err.exit_code == 2


def test_jsonl_surrogate_pair_is_one_character(tmp_path: Path) -> None:
    ds = load_dataset(write(tmp_path, "p.jsonl", '{"id": "\\ud83d\\ude00", "input": "\\\\u"}\n'))
    assert ds.case(0).id == "\U0001f600"
    assert ds.case(0).input == "\\u"


def test_yaml_lone_surrogate_is_refused_with_file_and_line(tmp_path: Path) -> None:
    text = (
        '- {id: a, input: 1}\n- id: "\\ud800"\n  input: 1\n- {id: c, input: 1, tags: ["\\udfff"]}\n'
    )
    with pytest.raises(DatasetError) as info:
        load_dataset(write(tmp_path, "s.yaml", text))
    problems = info.value.problems
    assert [(p.location.line if p.location else None) for p in problems] == [2, 4]
    assert "id holds a lone surrogate (U+D800)" in str(info.value)
    assert "tags[0] holds a lone surrogate (U+DFFF)" in str(info.value)


def test_csv_cannot_carry_a_lone_surrogate(tmp_path: Path) -> None:
    # CSV cells are never unescaped, so the only way in is surrogate bytes (CESU-8), which
    # strict UTF-8 decoding refuses at the right line; a literal "\ud800" stays six characters.
    path = tmp_path / "s.csv"
    path.write_bytes(b"id,input\na,1\n\xed\xa0\x80,2\n")
    with pytest.raises(InputError) as info:
        load_dataset(path)
    assert info.value.location is not None
    assert info.value.location.line == 3
    assert "UTF-8" in str(info.value)
    ds = load_dataset(write(tmp_path, "t.csv", "id,input\n\\ud800,1\n"))
    assert ds.case(0).id == "\\ud800"


def test_case_from_row_refuses_a_lone_surrogate() -> None:
    from mondaytest.errors import Location
    from mondaytest.evals.dataset import case_from_row

    with pytest.raises(InputError, match="id holds a lone surrogate"):
        case_from_row({"id": "\ud800", "input": 1}, Location("x.jsonl", 3))


def test_eval_run_with_a_lone_surrogate_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import VALID_SPEC, write_project

    from mondaytest.cli.app import main

    monkeypatch.setenv("CI", "true")
    spec = write_project(tmp_path, VALID_SPEC)
    (tmp_path / "app.py").write_text("def predict(x):\n    return x\n")
    (tmp_path / "evals" / "triage.jsonl").write_text(
        '{"id": "a", "input": 1, "expected": 1}\n{"id": "b\\ud800", "input": 2, "expected": 2}\n'
    )
    try:
        code = main(["eval", "run", "triage", "--spec", str(spec)])
    finally:
        sys.modules.pop("app", None)
        while str(tmp_path) in sys.path:
            sys.path.remove(str(tmp_path))
    assert code == 2
    err = capsys.readouterr().err
    assert "triage.jsonl:2" in err
    assert "lone surrogate" in err
