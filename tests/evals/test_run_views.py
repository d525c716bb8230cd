"""What `eval show`, `eval ls`, `eval flaky` and `eval baseline show` select, called directly."""

from __future__ import annotations

import pytest
from tests.evals.evalkit import Project

from mondaytest.errors import InputError
from mondaytest.evals.baseline import BASELINE_SCHEMA, summarize_baseline
from mondaytest.evals.flaky import flaky_report, runs_to_pool
from mondaytest.evals.gating import bless_run
from mondaytest.evals.run_views import RunRow, run_problems, run_rows
from mondaytest.evals.runs import list_runs, read_run

FLIP = """
import collections
import os

_calls = collections.Counter()

def predict(x):
    _calls[x] += 1
    if x in os.environ.get("ALWAYS", "").split(","):
        return x
    if x in os.environ.get("SECOND", "").split(",") and _calls[x] % 2 == 0:
        return x
    return x.upper()
"""
"""A target that fails the inputs in $ALWAYS every time and those in $SECOND every other call."""

ERRS = """
def predict(x):
    n = int(x.split("-")[1])
    if n % 5 == 0:
        raise ValueError(f"no {x}")
    return x if n % 2 else x.upper()
"""
"""Errors on c0, c5, c10, c15; fails the other odd cases (8 of them); passes the rest."""


# ------------------------------------------------------------------------------------ flaky


def test_flaky_picks_exactly_the_cases_whose_outcomes_differ_across_repeats(
    evproj: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    evproj.write("flip.py", FLIP)
    monkeypatch.setenv("SECOND", "w-3,w-7")
    monkeypatch.setenv("ALWAYS", "w-5")
    first = evproj.run(target={"python": "flip:predict"}, epochs=2, concurrency=1)
    records = runs_to_pool(evproj.root)
    assert [r.id for r in records] == [first.run_id]
    report = flaky_report(records)
    assert [c.id for c in report.flaky] == ["c3", "c7"]  # c5 fails every time: not flaky
    assert report.repeated == 20
    by_id = {c.id: c for c in report.cases}
    assert (by_id["c5"].passes, by_id["c5"].trials, by_id["c5"].flaky) == (0, 2, False)
    assert (by_id["c3"].passes, by_id["c3"].trials) == (1, 2)
    # pooled with a second run in which c11 always fails: it flipped across runs
    monkeypatch.setenv("SECOND", "")
    monkeypatch.setenv("ALWAYS", "w-5,w-11")
    evproj.run(target={"python": "flip:predict"}, epochs=2, concurrency=1)
    pooled = flaky_report(runs_to_pool(evproj.root, last=2))
    assert len(pooled.runs) == 2
    assert [c.id for c in pooled.flaky] == ["c11", "c3", "c7"]  # flakiest first, then by id
    assert {c.id: c.flake_rate for c in pooled.flaky} == {"c11": 0.5, "c3": 0.25, "c7": 0.25}


def test_runs_to_pool_takes_named_runs_or_the_newest_of_one_suite(evproj: Project) -> None:
    with pytest.raises(InputError, match="there are no runs yet"):
        runs_to_pool(evproj.root)
    s1, s2 = evproj.run().run_id, evproj.run().run_id
    other = evproj.run("other").run_id
    assert [r.id for r in runs_to_pool(evproj.root)] == [other]  # the newest run's suite
    assert [r.id for r in runs_to_pool(evproj.root, last=5)] == [other]
    assert [r.id for r in runs_to_pool(evproj.root, suite="s", last=5)] == [s1, s2]
    assert [r.id for r in runs_to_pool(evproj.root, suite="s")] == [s2]
    assert [r.id for r in runs_to_pool(evproj.root, [s2, s1], last=1)] == [s2, s1]
    assert [r.id for r in runs_to_pool(evproj.root, ["latest"])] == [other]
    with pytest.raises(InputError, match="there are no runs yet"):
        runs_to_pool(evproj.root, suite="nosuch")


# ------------------------------------------------------------------------------------ show, ls


def test_run_problems_lists_failed_and_errored_trials_apart(evproj: Project) -> None:
    evproj.write("errs.py", ERRS)
    result = evproj.run(target={"python": "errs:predict"}, error_budget=1.0)
    found = run_problems(read_run(result.dir), limit=20)
    assert found.n_failed == 8
    assert found.n_errors == 4
    assert sorted(t["case"] for t in found.errors) == ["c0", "c10", "c15", "c5"]
    assert {t["case"] for t in found.failures} == {f"c{i}" for i in (1, 3, 7, 9, 11, 13, 17, 19)}
    assert all(t["passed"] is False for t in found.failures)
    data = found.to_json()
    assert list(data) == ["run", "failures", "errors"]
    assert data["run"] == result.data
    capped = run_problems(read_run(result.dir), limit=3)
    assert (len(capped.failures), len(capped.errors)) == (3, 3)
    assert (capped.n_failed, capped.n_errors) == (8, 4)
    assert capped.failures == found.failures[:3]
    none = run_problems(read_run(result.dir), limit=0)
    assert (none.failures, none.errors, none.n_failed, none.n_errors) == ([], [], 8, 4)


def test_run_rows_are_the_newest_runs_newest_last(evproj: Project) -> None:
    assert run_rows(evproj.root) == []
    ids = [evproj.run().run_id for _ in range(3)]
    evproj.run("other", target={"python": "app:wrong_on_odd"})
    rows = run_rows(evproj.root, "s", limit=2)
    assert [r.run_id for r in rows] == ids[1:]
    row = rows[-1]
    assert isinstance(row, RunRow)
    assert (row.suite, row.status, row.trials, row.pass_rate, row.errors, row.mode) == (
        "s",
        "complete",
        20,
        1.0,
        0,
        "live",
    )
    assert row.path == evproj.root / ".monday" / "runs" / ids[-1]
    assert list(row.to_json()) == [
        "run_id",
        "suite",
        "status",
        "started_at",
        "trials",
        "pass_rate",
        "errors",
        "mode",
        "path",
    ]
    assert row.to_json()["path"] == str(row.path)
    (newest,) = run_rows(evproj.root, limit=1)
    assert (newest.suite, newest.pass_rate) == ("other", 0.5)
    assert len(run_rows(evproj.root, limit=10)) == len(list_runs(evproj.root)) == 4


# ------------------------------------------------------------------------------------ baseline


def test_baseline_summary_counts_cases_and_averages_metrics(evproj: Project) -> None:
    suite = evproj.suite(target={"python": "app:wrong_on_odd"})
    run = read_run(evproj.run(target={"python": "app:wrong_on_odd"}).dir)
    baseline, path = bless_run(suite, run)
    summary = summarize_baseline(baseline, path)
    assert (summary.suite, summary.run_id, summary.path) == ("s", run.id, path)
    assert (summary.cases, summary.passed, summary.errored) == (20, 10, 0)
    assert summary.metrics == {"exact": 0.5}
    assert summary.schema == BASELINE_SCHEMA
    assert summary.has_case_hashes is True
    assert summary.digest == baseline.digest()
    assert summary.created == baseline.created.isoformat()
    data = summary.to_json()
    assert list(data) == [
        "schema",
        "case_hashes",
        "suite",
        "path",
        "run_id",
        "created",
        "cases",
        "passed",
        "errored",
        "metrics",
        "spec_digest",
        "dataset_hash",
        "fingerprint",
        "digest",
    ]
    assert (data["case_hashes"], data["path"]) == (True, str(path))
