"""Many processes, one tree: concurrent writers, and writers killed with SIGKILL mid-stream."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from tests.audit.conftest import ORIGIN, make_config

from mondaytest.audit import LogConfig, open_log
from mondaytest.audit.entries import decode_entry
from mondaytest.audit.store import open_store
from mondaytest.audit.verify import fsck

ROOT = Path(__file__).resolve().parents[2]


def _spawn(config: LogConfig, **args: object) -> subprocess.Popen[str]:
    key = str(config.key).removeprefix("file:")
    payload = {"store": config.store_url, "key": key, "vkey": config.vkey, **args}
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'src'}"}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.audit.writer_proc", json.dumps(payload)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )


def _acknowledged(text: str) -> dict[str, int]:
    acks: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit():  # a line cut by the kill is ignored
            acks[parts[1]] = int(parts[0])
    return acks


def _fsck_ok(config: LogConfig) -> int:
    store = open_store(config.store_url)
    try:
        report = fsck(store, config.verifiers(), origin=ORIGIN)
        assert report.ok, report.findings[:5]
        return report.size
    finally:
        store.close()


def test_four_processes_append_at_once(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    procs = [_spawn(config, count=300, group=3, tag=f"p{i}") for i in range(4)]
    acks: dict[str, int] = {}
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        acks.update(_acknowledged(out))
    assert len(acks) == 1200
    assert len(set(acks.values())) == 1200  # no index handed out twice
    assert _stored_with_groups(config)[0] == acks
    assert _fsck_ok(config) == 1201  # + genesis
    with open_log(config, readonly=True) as log:
        cps = log.store.checkpoints()
    sizes = [c.size for c in cps]
    assert sizes == sorted(sizes)  # the checkpoints never go backwards
    assert sizes[-1] == 1201


def test_sigkill_mid_stream_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """20+ writers killed at random points: every acknowledged entry is there at the index it
    was acknowledged with, every submitted group is whole or absent, and fsck passes."""
    config = make_config(tmp_path)
    rng = random.Random(20261126)
    acknowledged: dict[str, int] = {}
    kills = 0
    for run in range(22):
        proc = _spawn(config, count=100_000, group=rng.choice([1, 5, 16]), tag=f"r{run}")
        time.sleep(0.5 + rng.random() * 0.4)  # past start-up, somewhere in the stream
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        kills += 1
        acknowledged.update(_acknowledged(out))
        stored, group_of = _stored_with_groups(config)
        missing = [k for k, i in acknowledged.items() if stored.get(k) != i]
        assert not missing, f"run {run}: acknowledged but not stored: {missing[:5]}"
        per_group = Counter(k.rsplit(":", 1)[0] for k in stored)
        partial = [g for g, n in per_group.items() if n != group_of[g]]
        assert not partial, f"run {run}: partial batches {partial[:5]}"
        if run % 5 == 4:
            _fsck_ok(config)
    assert kills >= 20
    assert len(acknowledged) > 100
    _fsck_ok(config)


def _stored_with_groups(config: LogConfig) -> tuple[dict[str, int], dict[str, int]]:
    """``tag:group:k`` → index, and ``tag:group`` → the size the group was submitted with."""
    store = open_store(config.store_url)
    try:
        where: dict[str, int] = {}
        sizes: dict[str, int] = {}
        for row in store.entries():
            e = decode_entry(row.body)
            if e.type == "decision":
                o = e.payload["outcome"]
                where[f"{o['tag']}:{o['group']}:{o['k']}"] = row.idx
                sizes[f"{o['tag']}:{o['group']}"] = int(o["of"])
        return where, sizes
    finally:
        store.close()


@pytest.mark.parametrize("n", [1])
def test_writer_proc_helper_runs(tmp_path: Path, n: int) -> None:
    config = make_config(tmp_path)
    p = _spawn(config, count=n, tag="t")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert _acknowledged(out) == {"t:0:0": 1}
