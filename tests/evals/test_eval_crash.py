"""A real process stopped mid-run (SIGTERM, SIGKILL) resumes where it stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.conftest import VALID_SPEC, write_project

from mondaytest.cli.app import main

N = 60
SLOW_APP = """
import asyncio
async def predict(x):
    await asyncio.sleep(0.05)
    return x
"""


@pytest.fixture
def slow_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CI", "true")
    text = VALID_SPEC.replace(
        "      scorers: [{name: label, kind: exact}]\n",
        "      scorers: [{name: label, kind: exact}]\n      concurrency: 2\n      cache: off\n",
    )
    spec = write_project(tmp_path, text)
    (tmp_path / "app.py").write_text(SLOW_APP)
    rows = [{"id": f"c{i}", "input": i, "expected": i} for i in range(N)]
    (tmp_path / "evals" / "triage.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    yield spec
    sys.modules.pop("app", None)
    while str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def _start(spec: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "CI": "true"}
    return subprocess.Popen(
        [sys.executable, "-m", "mondaytest", "eval", "run", "--spec", str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for_trials(spec: Path, at_least: int, timeout: float = 60) -> Path:
    runs = spec.parent / ".monday" / "runs"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in runs.glob("*") if runs.is_dir() else []:
            trials = run / "trials.jsonl"
            if trials.is_file() and trials.read_text().count("\n") >= at_least:
                return run
        time.sleep(0.05)
    raise AssertionError("the run did not get going")


def _trials(run: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in (run / "trials.jsonl").read_text().splitlines() if x.strip()]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_stop_then_resume(
    slow_spec: Path, sig: signal.Signals, capsys: pytest.CaptureFixture[str]
) -> None:
    proc = _start(slow_spec)
    try:
        run = _wait_for_trials(slow_spec, 8)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    data = json.loads((run / "run.json").read_text())
    done = len(_trials(run))
    assert 8 <= done < N
    if sig == signal.SIGTERM:
        assert proc.returncode == 3
        assert f"--resume {run.name}" in err
        assert data["status"] == "interrupted"
        assert data["stopped_reason"] == "terminated (SIGTERM)"
        assert data["counts"]["trials"] == done
    else:
        assert proc.returncode == -signal.SIGKILL
        assert data["status"] == "running"
    assert main(["eval", "run", "--spec", str(slow_spec), "--resume", run.name, "-q"]) == 0
    rows = _trials(run)
    assert len(rows) == N
    assert sorted(str(r["case"]) for r in rows) == sorted(f"c{i}" for i in range(N))
    final = json.loads((run / "run.json").read_text())
    assert final["status"] == "complete"
    assert final["counts"]["passed"] == N
    assert len(final["resumed"]) == 1
