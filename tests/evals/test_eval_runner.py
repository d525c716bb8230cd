"""The runner: trials and run.json, order, sampling, epochs, retries, budgets, cache, replay,
resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.evals.evalkit import Project, trials

from mondaytest.errors import ConfigError, HarnessError, InputError
from mondaytest.evals.runner import RunOptions, run_suite
from mondaytest.evals.runs import list_runs, read_run


def test_run_writes_trials_and_run_json(evproj: Project) -> None:
    result = evproj.run(target={"python": "app:wrong_on_odd"})
    assert result.status == "complete"
    rows = trials(result)
    assert len(rows) == 20
    first = rows[0]
    assert set(first) >= {
        "case",
        "epoch",
        "status",
        "passed",
        "score",
        "scores",
        "latency_ms",
        "attempts",
        "input_hash",
        "expected_hash",
        "output",
    }
    by_id = {r["case"]: r for r in rows}
    assert by_id["c2"]["passed"] is True
    assert by_id["c2"]["output"] == "W-2"
    assert by_id["c3"]["passed"] is False
    assert by_id["c3"]["scores"]["exact"]["reason"].startswith("expected")
    assert by_id["c0"]["tags"] == ["critical"]
    data = json.loads((result.dir / "run.json").read_text())
    assert data["schema"] == "monday.eval.run/1"
    assert data["status"] == "complete"
    assert data["counts"]["trials"] == 20
    assert data["counts"]["passed"] == 10
    assert data["metrics"]["exact"]["mean"] == 0.5
    assert data["metrics"]["exact"]["by_tag"]["critical"]["n"] == 4
    assert data["provenance"]["dataset"]["sha256"]
    assert data["provenance"]["spec"]["digest"] == "sha256:test"
    assert "commit" in data["provenance"]["git"]
    fp = data["fingerprint"]
    assert fp["cases"]["count"] == 20
    assert len(fp["cases"]["digest"]) == 64
    assert fp["scorers"]["exact"] == data["scorers"][0]["fingerprint"]
    assert data["target"]["kind"] == "python"
    assert data["target"]["detail"]["source_sha256"]
    assert data["scorers"][0]["deterministic"] is True
    assert read_run(result.dir).id == result.run_id
    assert [r.id for r in list_runs(evproj.root)] == [result.run_id]
    result.raise_for_status()


def test_async_target_and_concurrency(evproj: Project) -> None:
    result = evproj.run(target={"python": "app:apredict"}, concurrency=4)
    assert result.data["counts"]["passed"] == 20


def test_seeded_order_is_deterministic(evproj: Project) -> None:
    a = [r["case"] for r in trials(evproj.run(concurrency=1, seed=7))]
    b = [r["case"] for r in trials(evproj.run(concurrency=1, seed=7))]
    c = [r["case"] for r in trials(evproj.run(concurrency=1, seed=8))]
    assert a == b
    assert sorted(a) == sorted(c)
    assert a != c
    d = [r["case"] for r in trials(evproj.run(options=RunOptions(seed=8), concurrency=1))]
    assert d == c


def test_stratified_sample(evproj: Project) -> None:
    result = evproj.run(options=RunOptions(sample=6, seed=3))
    rows = trials(result)
    assert len(rows) == 6
    tags = [r["tags"][0] for r in rows]
    assert {"critical", "a", "b"} == set(tags)
    again = trials(evproj.run(options=RunOptions(sample=6, seed=3)))
    assert sorted(r["case"] for r in again) == sorted(r["case"] for r in rows)
    assert result.data["config"]["sample"] == 6
    assert result.data["plan"]["cases"] == 6


def test_epochs(evproj: Project) -> None:
    result = evproj.run(epochs=3)
    rows = trials(result)
    assert len(rows) == 60
    assert {(r["case"], r["epoch"]) for r in rows} == {
        (f"c{i}", e) for i in range(20) for e in range(3)
    }
    assert result.data["counts"]["cases"] == 20
    assert result.data["counts"]["epochs"] == 3


def test_errors_are_recorded_and_budget_stops_the_run(evproj: Project) -> None:
    result = evproj.run(target={"python": "app:boom"}, error_budget=0.25, concurrency=1)
    assert result.status == "aborted"
    assert "error budget" in result.data["stopped_reason"]
    rows = trials(result)
    assert len(rows) == 6  # 5 allowed, the 6th trips the budget
    assert rows[0]["status"] == "error"
    assert rows[0]["error"].startswith("KeyError")
    assert rows[0]["attempts"] == 1  # a bug is not retried
    with pytest.raises(HarnessError) as info:
        result.raise_for_status()
    assert info.value.exit_code == 3


def test_transient_errors_are_retried_and_recorded(evproj: Project) -> None:
    evproj.write(
        "flaky.py",
        """
        calls = {}
        class RateLimitError(Exception):
            pass
        def predict(x):
            calls[x] = calls.get(x, 0) + 1
            if calls[x] < 3:
                raise RateLimitError(f"429 for {x}")
            return x.upper()
        """,
    )
    result = evproj.run(target={"python": "flaky:predict"}, retries=2)
    rows = trials(result)
    assert all(r["status"] == "ok" and r["attempts"] == 3 for r in rows)
    assert rows[0]["attempt_errors"] == [f"RateLimitError: 429 for w-{rows[0]['case'][1:]}"] * 2
    assert result.data["counts"]["retried"] == 20


def test_timeout(evproj: Project) -> None:
    evproj.write(
        "slow.py",
        """
        import asyncio, time
        async def predict(x):
            await asyncio.sleep(5 if x == "w-1" else 0)
            return x.upper()
        def sync(x):
            time.sleep(0.3 if x == "w-1" else 0)
            return x.upper()
        """,
    )
    result = evproj.run(target={"python": "slow:predict"}, timeout_s=0.2, retries=1)
    row = next(r for r in trials(result) if r["case"] == "c1")
    assert row["status"] == "error"
    assert row["error"] == "timeout after 0.2s"
    assert row["attempts"] == 2
    result = evproj.run(target={"python": "slow:sync", "inline": "never"}, timeout_s=0.1, retries=0)
    row = next(r for r in trials(result) if r["case"] == "c1")
    assert row["error"] == "timeout after 0.1s"


def test_cache_rw_then_ro(evproj: Project) -> None:
    evproj.write(
        "counting.py",
        """
        import pathlib
        def predict(x):
            p = pathlib.Path(__file__).with_name("calls.txt")
            p.write_text(p.read_text() + "x" if p.exists() else "x")
            return x.upper()
        """,
    )
    first = evproj.run(
        target={"python": "counting:predict", "inline": "never"}, cache="rw", concurrency=1
    )
    assert first.data["counts"]["cached"] == 0
    calls = lambda: len((evproj.root / "calls.txt").read_text())  # noqa: E731
    assert calls() == 20
    second = evproj.run(
        target={"python": "counting:predict", "inline": "never"}, cache="ro", concurrency=1
    )
    assert second.data["counts"]["cached"] == 20
    assert calls() == 20
    assert all(r["cached"] for r in trials(second))
    assert second.data["metrics"] == first.data["metrics"]
    # another epoch is another key; --cache off ignores the cache
    third = evproj.run(
        target={"python": "counting:predict", "inline": "never"},
        cache="rw",
        epochs=2,
        concurrency=1,
    )
    assert third.data["counts"]["cached"] == 20
    assert calls() == 40
    evproj.run(
        options=RunOptions(cache="off"),
        target={"python": "counting:predict", "inline": "never"},
        cache="rw",
        concurrency=1,
    )
    assert calls() == 60


def test_record_then_replay_without_the_target(evproj: Project) -> None:
    live = evproj.run(options=RunOptions(mode="record"), target={"python": "app:wrong_on_odd"})
    cassette = evproj.root / "evals" / "cassettes" / "s.jsonl"
    assert cassette.is_file()
    assert live.data["recorded"]["calls"] == 20
    header = json.loads(cassette.read_text().splitlines()[0])
    assert header["schema"] == "monday.eval.cassette/1"
    # the target no longer imports: replay must not need it
    replayed = evproj.run(options=RunOptions(mode="replay"), target={"python": "gone:predict"})
    assert replayed.data["config"]["mode"] == "replay"
    assert replayed.data["metrics"] == live.data["metrics"]
    assert replayed.data["target"]["kind"] == "replay"
    assert replayed.data["fingerprint"]["target"] == live.data["fingerprint"]["target"]
    # a changed case is not silently replayed
    rows = [
        json.loads(line) for line in (evproj.root / "evals/cases.jsonl").read_text().splitlines()
    ]
    rows[0]["input"] = "changed"
    evproj.cases("evals/cases.jsonl", rows)
    changed = evproj.run(options=RunOptions(mode="replay"), target={"python": "gone:predict"})
    row = next(r for r in trials(changed) if r["case"] == "c0")
    assert row["status"] == "error"
    assert "changed since it was recorded" in row["error"]
    with pytest.raises(ConfigError):
        evproj.run(options=RunOptions(mode="live"), target={"python": "gone:predict"})


def test_replay_target_from_an_earlier_run(evproj: Project) -> None:
    first = evproj.run(target={"python": "app:wrong_on_odd"})
    again = evproj.run(target={"replay": str(first.dir.relative_to(evproj.root))})
    assert again.data["metrics"]["exact"]["mean"] == first.data["metrics"]["exact"]["mean"]


def test_replay_without_cassette_is_an_input_error(evproj: Project) -> None:
    with pytest.raises(InputError, match="no cassette"):
        evproj.run(options=RunOptions(mode="replay"))


def _crash(result_dir: Path, keep: int) -> None:
    """Make a finished run look like it crashed after ``keep`` trials (plus half a line)."""
    path = result_dir / "trials.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:keep]) + lines[keep][: len(lines[keep]) // 2])
    data = json.loads((result_dir / "run.json").read_text())
    data["status"] = "running"
    (result_dir / "run.json").write_text(json.dumps(data))


def test_resume_after_a_crash(evproj: Project) -> None:
    full = evproj.run(epochs=2, seed=5)
    _crash(full.dir, 13)
    resumed = run_suite(evproj.suite(epochs=2, seed=5), RunOptions(resume=full.run_id))
    assert resumed.run_id == full.run_id
    assert resumed.status == "complete"
    rows = trials(resumed)
    assert len(rows) == 40
    assert len({(r["case"], r["epoch"]) for r in rows}) == 40
    assert resumed.data["counts"] == full.data["counts"]
    assert resumed.data["fingerprint"] == full.data["fingerprint"]
    assert len(resumed.data["resumed"]) == 1
    with pytest.raises(InputError, match="complete"):
        run_suite(evproj.suite(epochs=2, seed=5), RunOptions(resume=full.run_id))


def test_resume_refuses_a_changed_dataset(evproj: Project) -> None:
    full = evproj.run()
    _crash(full.dir, 5)
    with (evproj.root / "evals/cases.jsonl").open("a") as fh:
        fh.write('{"id": "new", "input": "x"}\n')
    with pytest.raises(InputError, match="dataset_sha256 changed"):
        run_suite(evproj.suite(), RunOptions(resume="latest"))


def test_dataset_errors_stop_before_any_call(evproj: Project) -> None:
    with (evproj.root / "evals/cases.jsonl").open("a") as fh:
        fh.write('{"id": "c1", "input": "dup"}\n')
    with pytest.raises(InputError, match=r"cases\.jsonl:21: .*duplicate id 'c1'"):
        evproj.run()
    assert list_runs(evproj.root) == []


def test_bad_target_is_a_config_error(evproj: Project) -> None:
    with pytest.raises(ConfigError, match="has no attribute 'nope'"):
        evproj.run(target={"python": "app:nope"})
    evproj.write("broken.py", "raise RuntimeError('no key')\n")
    with pytest.raises(ConfigError, match="RuntimeError: no key"):
        evproj.run(target={"python": "broken:predict"})


def test_a_recording_is_not_resumed(evproj: Project) -> None:
    live = evproj.run(options=RunOptions(mode="record"))
    _crash(live.dir, 3)
    with pytest.raises(InputError, match="cannot be resumed as a recording"):
        run_suite(evproj.suite(), RunOptions(resume=live.run_id, mode="record"))
