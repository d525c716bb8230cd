"""Scorers: each family on its own, the classification report, judges and custom scorers."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from tests.evals.evalkit import Behaviour, Project, trials

from mondaytest.errors import ConfigError
from mondaytest.evals.model import MISSING, Case, Score
from mondaytest.evals.scorers.classification import classification_report
from mondaytest.evals.scorers.interface import ScorerContext
from mondaytest.evals.scorers.judge import parse_judgement
from mondaytest.evals.scorers.registry import SCORER_KINDS, build_scorer, register_scorer
from mondaytest.evals.scorers.text import lcs_length, rouge_l, token_f1
from mondaytest.spec.evals import SuiteSpec


def scorer(tmp_path: Path, **spec: Any):  # type: ignore[no-untyped-def]
    suite = SuiteSpec.model_validate(
        {"dataset": "d.jsonl", "target": {"python": "a:b"}, "scorers": [{"name": "m", **spec}]}
    )
    return build_scorer(suite.scorers[0], ScorerContext(tmp_path))


def s(sc: Any, output: Any, expected: Any = MISSING, input: Any = "in") -> Score:
    return sc.score(Case("c", input, expected), output)


def test_exact_and_fields(tmp_path: Path) -> None:
    sc = scorer(tmp_path, kind="exact")
    assert s(sc, {"a": 1}, {"a": 1}) == Score(1.0, True)
    bad = s(sc, "x", "y")
    assert (bad.value, bad.passed, bad.reason) == (0.0, False, "expected 'y', got 'x'")
    assert s(sc, "x").error == "the case has no expected value"
    f = scorer(tmp_path, kind="exact", field="label")
    assert s(f, {"label": "A"}, "A").passed  # scalar expected is used whole
    assert s(f, {"label": "A"}, {"label": "A", "x": 1}).passed
    assert s(f, {"other": 1}, "A").reason == "output has no $.label"
    g = scorer(tmp_path, kind="exact", field="answer.items[1]", expected_field="$")
    assert s(g, {"answer": {"items": [0, 7]}}, 7).passed
    assert sc.info.deterministic
    assert sc.info.kind == "exact"


def test_normalized(tmp_path: Path) -> None:
    sc = scorer(tmp_path, kind="normalised")
    assert s(sc, "  Hello,   WORLD! ", "hello world").passed
    assert s(sc, "Ｈｅｌｌｏ", "hello").passed  # NFKC
    assert s(sc, "b", ["a", "B"]).passed
    strict = scorer(tmp_path, kind="normalized", case=False)
    assert not s(strict, "Hello", "hello").passed
    assert sc.info.kind == "normalized"
    assert sc.info.fingerprint == scorer(tmp_path, kind="normalized").info.fingerprint


def test_regex(tmp_path: Path) -> None:
    fixed = scorer(tmp_path, kind="regex", pattern=r"claim-\d+", ignore_case=True)
    assert s(fixed, "see CLAIM-42 now").passed
    assert not s(scorer(tmp_path, kind="regex", pattern=r"\d+", fullmatch=True), "a1").passed
    from_case = scorer(tmp_path, kind="regex")
    assert s(from_case, "abc", "^a.c$").passed
    assert "invalid pattern" in (s(from_case, "abc", "(").error or "")
    with pytest.raises(ValueError, match="invalid regular expression"):
        scorer(tmp_path, kind="regex", pattern="(")


def test_contains(tmp_path: Path) -> None:
    sc = scorer(tmp_path, kind="contains")
    assert s(sc, "the fraud team", "fraud").passed
    assert s(sc, "a b c", ["a", "c"]).passed
    res = s(sc, "a b", ["a", "z"])
    assert not res.passed
    assert "z" in (res.reason or "")
    anyof = scorer(tmp_path, kind="contains", value=["x", "B"], mode="any", ignore_case=True)
    assert s(anyof, "abc").passed


def test_json_schema(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "required": ["label"],
        "properties": {"label": {"enum": ["a", "b"]}},
    }
    sc = scorer(tmp_path, kind="json_schema", schema=schema)
    assert s(sc, {"label": "a"}).passed
    assert s(sc, '{"label": "b"}').passed
    assert s(sc, "not json").reason == "output is not JSON"
    bad = s(sc, {"label": "c"})
    assert not bad.passed
    assert "at /label" in (bad.reason or "")
    (tmp_path / "s.json").write_text('{"type": "string"}')
    from_file = scorer(tmp_path, kind="json_schema", schema="s.json")
    assert s(from_file, "x").passed is False  # "x" parses? no: not JSON text -> fails
    assert s(from_file, '"x"').passed
    with pytest.raises(ConfigError, match="invalid JSON Schema"):
        scorer(tmp_path, kind="json_schema", schema={"type": 12})


def test_numeric(tmp_path: Path) -> None:
    sc = scorer(tmp_path, kind="numeric", abs_tol=0.5, rel_tol=0.1)
    assert s(sc, 10.9, 10).passed  # 0.5 + 1.0 allowed
    assert not s(sc, 11.6, 10).passed
    assert s(sc, "1,000", 1000).passed
    assert s(sc, "n/a", 1).reason == "output 'n/a' is not a number"
    assert "not a number" in (s(sc, 1, "x").error or "")


def test_classification_per_case_and_report(tmp_path: Path) -> None:
    sc = scorer(tmp_path, kind="classification", field="label")
    r = s(sc, {"label": "fraud"}, "standard")
    assert (r.value, r.passed, r.label, r.expected_label) == (0.0, False, "fraud", "standard")
    confusion = Counter({("a", "a"): 3, ("a", "b"): 1, ("b", "b"): 2, ("b", "a"): 2, ("c", "c"): 2})
    rep = classification_report(confusion)
    assert rep["accuracy"] == pytest.approx(7 / 10)
    # a: tp3 fp2 fn1 -> p .6 r .75 ; b: tp2 fp1 fn2 -> p 2/3 r .5 ; c: p1 r1
    assert rep["per_label"]["a"]["precision"] == pytest.approx(0.6)
    assert rep["per_label"]["b"]["recall"] == pytest.approx(0.5)
    f1 = [2 * 0.6 * 0.75 / 1.35, 2 * (2 / 3) * 0.5 / (2 / 3 + 0.5), 1.0]
    assert rep["macro"]["f1"] == pytest.approx(sum(f1) / 3)
    assert rep["micro"]["f1"] == pytest.approx(0.7)  # single-label: micro = accuracy
    assert rep["confusion"] == [[3, 1, 0], [2, 2, 0], [0, 0, 2]]
    ordered = classification_report(confusion, ["c", "b", "a", "d"])
    assert ordered["labels"] == ["c", "b", "a", "d"]
    assert ordered["confusion"][0] == [2, 0, 0, 0]


def test_text_overlap() -> None:
    assert token_f1("The cat sat", "a cat sat down") == pytest.approx(2 * 1 * (2 / 3) / (1 + 2 / 3))
    assert token_f1("", "") == 1.0
    assert token_f1("x", "") == 0.0
    assert lcs_length(list("ABCBDAB"), list("BDCABA")) == 4
    # ref: "police killed the gunman" vs "the gunman kill police": LCS on tokens
    assert rouge_l("police killed the gunman", "police kill the gunman") == pytest.approx(2 / 3)


def test_text_scorers_threshold(tmp_path: Path) -> None:
    f1 = scorer(tmp_path, kind="token_f1", threshold=0.5)
    assert s(f1, "red car", ["blue bike", "red car"]).value == 1.0
    res = s(f1, "red", "red car fast")
    assert res.value == pytest.approx(0.5)
    assert res.passed
    rl = scorer(tmp_path, kind="rouge_l")
    assert s(rl, "a b c", "a c").passed is None


@pytest.mark.parametrize(
    ("raw", "scale", "expected"),
    [
        (True, (0, 1), (1.0, True)),
        (0.25, (0, 1), (0.25, None)),
        (4, (1, 5), (0.75, None)),
        ({"score": 5, "reason": "good"}, (1, 5), (1.0, None)),
        ({"passed": False}, (0, 1), (0.0, False)),
        ('{"score": 0.5}', (0, 1), (0.5, None)),
        ("SCORE: 3\nbecause", (1, 5), (0.5, None)),
        ("PASS - the answer is grounded", (0, 1), (1.0, True)),
        ("no.", (0, 1), (0.0, False)),
        ("0.8", (0, 1), (0.8, None)),
    ],
)
def test_parse_judgement(
    raw: Any, scale: tuple[float, float], expected: tuple[float, bool | None]
) -> None:
    value, passed, _ = parse_judgement(raw, scale)
    assert (
        (value, passed) == pytest.approx(expected)
        if passed is None
        else (value, passed) == expected
    )


@pytest.mark.parametrize("raw", ["maybe", 7, {"verdict": 1}, None, [1]])
def test_unparsable_judgements(raw: Any) -> None:
    with pytest.raises(ValueError):
        parse_judgement(raw, (1, 5))


def test_judge_scorer_over_http_with_pin(
    http_server: tuple[str, Behaviour], evproj: Project
) -> None:
    base, behaviour = http_server
    evproj.write("evals/rubric.md", "Is {{output}} the same as {{expected}}? Answer SCORE: 1-5.")
    judge = {
        "name": "judge",
        "kind": "judge",
        "target": {"http": {"url": base + "/judge", "body": "{{input}}", "output": "$.verdict"}},
        "rubric": "evals/rubric.md",
        "scale": [1, 5],
    }
    result = evproj.run(
        target={"python": "app:wrong_on_odd"}, scorers=[{"name": "exact", "kind": "exact"}, judge]
    )
    rows = trials(result)
    c2 = next(r for r in rows if r["case"] == "c2")
    c3 = next(r for r in rows if r["case"] == "c3")
    assert c2["scores"]["judge"] == {"value": 1.0, "passed": True, "reason": "SCORE: 5"}
    assert c3["scores"]["judge"]["value"] == 0.0
    assert c3["scores"]["judge"]["passed"] is False
    sent = behaviour.requests[0]["body"]
    assert set(sent) == {"prompt", "rubric", "input", "output", "expected"}
    # requests arrive in completion order: the first may be an odd case (output left lower-case)
    assert re.fullmatch(r"Is [wW]-\d+ the same as W-\d+\? Answer SCORE: 1-5\.", sent["prompt"])
    info = next(s for s in result.data["scorers"] if s["name"] == "judge")
    assert info["deterministic"] is False
    judge["pin"] = info["fingerprint"]
    evproj.run(target={"python": "app:wrong_on_odd"}, scorers=[judge])  # pinned: runs
    evproj.write("evals/rubric.md", "A different rubric {{output}}")
    with pytest.raises(ConfigError, match="the judge changed"):
        evproj.run(target={"python": "app:wrong_on_odd"}, scorers=[judge])


def test_judge_output_unparsable_is_an_error_not_a_pass(evproj: Project) -> None:
    evproj.write("judges.py", "def vague(req):\n    return 'it depends'\n")
    result = evproj.run(
        scorers=[
            {
                "name": "j",
                "kind": "judge",
                "target": {"python": "judges:vague"},
                "prompt": "grade {{output}}",
            }
        ],
        error_budget=1.0,
    )
    row = trials(result)[0]
    assert row["status"] == "score_error"
    assert row["passed"] is None
    assert "cannot read a judgement" in row["scores"]["j"]["error"]
    assert result.data["metrics"]["j"]["errors"] == 20


def test_custom_python_scorers(evproj: Project) -> None:
    evproj.write(
        "scoring.py",
        """
        from mondaytest.evals.model import Score

        def length_ok(output, case):
            return len(output) == len(case.input)

        def ratio(output, expected):
            return 0.5 if output != expected else 1.0

        async def graded(output, **kw):
            return {"value": 0.9, "reason": "async"}

        def typed(output):
            return Score(0.3, False, reason="custom")

        def broken(output):
            return "not a score"

        def wants(nonsense):
            return True
        """,
    )
    result = evproj.run(
        scorers=[
            {"name": "len", "kind": "python", "function": "scoring:length_ok"},
            {"name": "ratio", "kind": "python", "function": "scoring:ratio", "threshold": 0.8},
            {
                "name": "graded",
                "kind": "python",
                "function": "scoring:graded",
                "deterministic": False,
            },
            {"name": "typed", "kind": "python", "function": "scoring:typed"},
        ]
    )
    row = trials(result)[0]
    assert row["scores"]["len"] == {"value": 1.0, "passed": True}
    assert row["scores"]["ratio"] == {"value": 1.0, "passed": True}
    assert row["scores"]["graded"] == {"value": 0.9, "reason": "async"}
    assert row["scores"]["typed"]["reason"] == "custom"
    assert row["passed"] is False
    assert [s["deterministic"] for s in result.data["scorers"]] == [True, True, False, True]
    broken = evproj.run(
        scorers=[{"name": "b", "kind": "python", "function": "scoring:broken"}], error_budget=1.0
    )
    assert "return a bool, a number or a Score" in trials(broken)[0]["scores"]["b"]["error"]
    with pytest.raises(ConfigError, match="asks for nonsense"):
        evproj.run(scorers=[{"name": "w", "kind": "python", "function": "scoring:wants"}])


def test_scorer_exceptions_are_score_errors(evproj: Project) -> None:
    evproj.write("bad.py", "def crash(output):\n    raise ZeroDivisionError('oops')\n")
    result = evproj.run(
        scorers=[
            {"name": "exact", "kind": "exact"},
            {"name": "z", "kind": "python", "function": "bad:crash"},
        ],
        error_budget=1.0,
    )
    row = trials(result)[0]
    assert row["status"] == "score_error"
    assert row["error"] == "scorer 'z': ZeroDivisionError: oops"
    assert row["scores"]["exact"]["passed"] is True
    assert "output" in row


def test_pii_leak_is_a_reserved_slot(evproj: Project) -> None:
    assert "pii_leak" in SCORER_KINDS
    with pytest.raises(ConfigError, match="provided by the guard"):
        evproj.run(scorers=[{"name": "pii", "kind": "pii_leak"}])
    # once registered (as the guard will), it builds
    from mondaytest.evals.scorers.match import ExactMatch

    class Fake(ExactMatch):
        KIND = "pii_leak"
        NEEDS_EXPECTED = False

        def score(self, case: Case, output: Any) -> Score:
            return Score(1.0, True)

    register_scorer("pii_leak", Fake)
    try:
        assert (
            evproj.run(scorers=[{"name": "pii", "kind": "pii_leak"}]).data["metrics"]["pii"][
                "pass_rate"
            ]
            == 1.0
        )
    finally:
        from mondaytest.evals.scorers import registry

        registry._FACTORIES.pop("pii_leak", None)
