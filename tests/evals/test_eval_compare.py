"""Comparing runs and measuring flakiness."""

from __future__ import annotations

import json

import pytest
from tests.evals.evalkit import Project

from mondaytest.evals.compare import NotComparableError, compare_runs
from mondaytest.evals.flaky import flaky_report
from mondaytest.evals.runner import RunOptions
from mondaytest.evals.runs import read_run
from mondaytest.evals.stats import mcnemar_exact


def test_paired_binary_comparison(evproj: Project) -> None:
    a = read_run(evproj.run().dir)  # all pass
    b = read_run(evproj.run(target={"python": "app:wrong_on_odd"}).dir)  # odd ids fail
    cmp = compare_runs(a, b)
    (m,) = cmp.metrics
    assert (m.n, m.a_mean, m.b_mean, m.binary) == (20, 1.0, 0.5, True)
    assert (m.pass_to_fail, m.fail_to_pass) == (10, 0)
    assert m.p_value == pytest.approx(mcnemar_exact(10, 0))
    assert m.low is not None
    assert m.high is not None
    assert m.low < -0.5 < m.high < 0
    assert cmp.to_fail == sorted(f"c{i}" for i in range(1, 20, 2))
    assert any("target changed" in n for n in cmp.notes)
    back = compare_runs(b, a)
    assert back.to_pass == cmp.to_fail
    assert back.metrics[0].delta == 0.5


def test_continuous_comparison_and_added_cases(evproj: Project) -> None:
    scorers = [{"name": "f1", "kind": "token_f1"}]
    evproj.write("app2.py", "def predict(x):\n    return x.upper() + ' extra'\n")
    a = read_run(evproj.run(scorers=scorers).dir)
    rows = [json.loads(x) for x in (evproj.root / "evals/cases.jsonl").read_text().splitlines()]
    evproj.cases(
        "evals/cases.jsonl", [*rows[1:], {"id": "new", "input": "w-99", "expected": "W-99"}]
    )
    b = read_run(evproj.run(scorers=scorers, target={"python": "app2:predict"}).dir)
    cmp = compare_runs(a, b)
    (m,) = cmp.metrics
    assert not m.binary
    assert m.n == 19
    assert m.delta == pytest.approx(0.8 - 1.0)
    assert m.low == pytest.approx(-0.2)
    assert m.high == pytest.approx(-0.2)
    assert cmp.added == ["new"]
    assert cmp.removed == ["c0"]


def test_refusals_name_the_difference(evproj: Project) -> None:
    a = read_run(evproj.run().dir)
    b = read_run(evproj.run(version=2).dir)
    with pytest.raises(NotComparableError, match="suite version 1 vs 2"):
        compare_runs(a, b)
    c = read_run(evproj.run(scorers=[{"name": "exact", "kind": "exact", "field": "x"}]).dir)
    with pytest.raises(NotComparableError, match="scorer 'exact' changed") as info:
        compare_runs(a, c)
    assert info.value.exit_code == 3
    rows = [json.loads(x) for x in (evproj.root / "evals/cases.jsonl").read_text().splitlines()]
    for r in rows[:12]:
        r["input"] = r["input"] + "!"
    evproj.cases("evals/cases.jsonl", rows)
    d = read_run(evproj.run().dir)
    with pytest.raises(
        NotComparableError, match=r"12 case\(s\) changed under the same id: .* and 2 more"
    ):
        compare_runs(a, d)


def test_flaky_over_epochs_and_runs(evproj: Project) -> None:
    evproj.write(
        "coin.py",
        """
        import itertools
        _n = itertools.count()
        def predict(x):
            # c1 alternates, everything else is stable
            if x == "w-1":
                return x.upper() if next(_n) % 2 else x
            return x.upper()
        """,
    )
    one = evproj.run(options=RunOptions(epochs=4), target={"python": "coin:predict"}, concurrency=1)
    report = flaky_report([read_run(one.dir)])
    assert report.repeated == 20
    assert [c.id for c in report.flaky] == ["c1"]
    c1 = report.flaky[0]
    assert (c1.trials, c1.passes, c1.flake_rate) == (4, 2, 0.5)
    assert report.flaky_share == pytest.approx(1 / 20)
    two = evproj.run(target={"python": "coin:predict"}, concurrency=1)
    pooled = flaky_report([read_run(one.dir), read_run(two.dir)])
    assert pooled.flaky[0].trials == 5
    single = flaky_report([read_run(two.dir)])
    assert single.repeated == 0
    assert single.flaky_share is None
