"""The coroutine API (``adecision``, ``aappend``, ``aappend_drafts``) on a real SQLite file, and
the writers' lock file that queues processes in the kernel."""

from __future__ import annotations

import asyncio
import fcntl
import gc
import os
import sqlite3
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import replace
from pathlib import Path

import pytest
from tests.audit.conftest import make_config

from mondaytest.audit import AuditLog, LogConfig, WriterSettings, open_log
from mondaytest.audit.verify import fsck
from mondaytest.audit.writer import Submission, Writer
from mondaytest.errors import InputError, StoreError


def test_many_tasks_get_their_own_consecutive_indexes(config: LogConfig) -> None:
    async def main() -> list[int | None]:
        with open_log(config) as log:

            async def one(i: int) -> int | None:
                return await log.adecision(decision="triage", outcome={"i": i})

            out = await asyncio.gather(*(one(i) for i in range(500)))
            # each task's index holds that task's entry
            for i, idx in enumerate(out):
                assert idx is not None
                assert log.entry(idx).payload["outcome"] == {"i": i}
            return list(out)

    indexes = asyncio.run(main())
    assert sorted(i for i in indexes if i is not None) == list(range(1, 501))
    with open_log(config, readonly=True) as log:
        assert log.size() == 501
        assert fsck(log.store, log.verifiers(), deep=True).ok


def test_state_changes_and_config_idx_from_coroutines(config: LogConfig) -> None:
    async def main() -> None:
        with open_log(config) as log:
            cfg_idx = await log.aappend("model_version", {"model": "m", "version": "2"})
            dec = await log.adecision({"decision": "triage"})
            assert dec is not None
            assert cfg_idx is not None
            assert log.entry(dec).config_idx == cfg_idx
            drafts = [log.draft("decision", {"decision": "d"}) for _ in range(3)]
            assert await log.aappend_drafts(drafts) == [dec + 1, dec + 2, dec + 3]

    asyncio.run(main())


def test_published_waits_for_a_signed_checkpoint(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, writer=WriterSettings(checkpoint_interval=0.3))

    async def main() -> None:
        with open_log(cfg) as log:
            idx = await log.adecision(decision="triage", durability="published")
            assert idx is not None
            latest = log.latest_checkpoint()
            assert latest is not None
            assert latest.size > idx
            assert await log.adecision(decision="triage", durability="async") is None

    asyncio.run(main())


def test_the_loop_is_not_blocked_while_a_commit_is_awaited(config: LogConfig) -> None:
    async def main() -> int:
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0)

        with open_log(config) as log:
            task = asyncio.create_task(ticker())
            for _ in range(20):
                await log.adecision(decision="triage")
            stop.set()
            await task
        return ticks

    assert asyncio.run(main()) > 20


def test_bad_input_raises_before_anything_is_written(config: LogConfig) -> None:
    async def main() -> None:
        with open_log(config) as log:
            await log.adecision(decision="ok")
            with pytest.raises(InputError, match="float"):
                await log.adecision(decision="t", outcome={"score": 0.5})
            with pytest.raises(InputError):
                await log.aappend("no_such_kind", {})
            assert log.size() == 2

    asyncio.run(main())


def test_a_failed_commit_raises_in_the_awaiting_task(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    with open_log(cfg) as log:
        log.decision(decision="triage")
        log.checkpoint()
    pages = sqlite3.connect(tmp_path / "audit.db").execute("PRAGMA page_count").fetchone()[0]
    full = replace(cfg, store_url=f"{cfg.store_url}?max_page_count={pages + 1}")
    big = {"decision": "triage", "outcome": {"note": "x" * 8000}}

    async def fill(log: AuditLog) -> None:
        for _ in range(50):
            await log.adecision(big)

    async def main() -> None:
        log = open_log(full)
        try:
            with pytest.raises(StoreError, match="is full"):
                await fill(log)
        finally:
            log.close()

    asyncio.run(main())
    with open_log(cfg, readonly=True) as again:
        assert fsck(again.store, again.verifiers()).ok


def test_a_cancelled_wait_still_writes_the_entry(config: LogConfig) -> None:
    async def main() -> int:
        with open_log(config) as log:
            task = asyncio.create_task(log.adecision(decision="cancelled"))
            await asyncio.sleep(0)  # the entry is submitted, its commit is awaited
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            log.flush()
            return log.size()

    assert asyncio.run(main()) == 2


def test_two_event_loops_in_two_threads_share_one_log(config: LogConfig) -> None:
    results: dict[int, list[int | None]] = {}
    with open_log(config) as log:

        def run(n: int) -> None:
            async def main() -> list[int | None]:
                return list(
                    await asyncio.gather(*(log.adecision(decision=f"t{n}") for _ in range(100)))
                )

            results[n] = asyncio.run(main())

        threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(i for r in results.values() for i in r if i is not None) == list(
            range(1, 201)
        )


def test_writers_queue_on_the_lock_file(config: LogConfig, tmp_path: Path) -> None:
    with open_log(config) as log:
        log.decision(decision="first")
        lock = tmp_path / "audit.db-lock"
        assert lock.exists()
        assert (lock.stat().st_mode & 0o777) == 0o600
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # another process holds the writers' lock
            done = threading.Event()

            def append() -> None:
                log.decision(decision="second")
                done.set()

            t = threading.Thread(target=append)
            t.start()
            assert not done.wait(0.5)  # it queues behind the holder
            released = time.monotonic()
            fcntl.flock(fd, fcntl.LOCK_UN)
            assert done.wait(10)
            assert time.monotonic() - released < 2  # woken at once, not after a poll
            t.join()
        finally:
            os.close(fd)
        assert log.size() == 3


def test_event_loops_that_finished_are_not_kept_alive_by_the_log(config: LogConfig) -> None:
    """A service that runs ``asyncio.run`` per job must not leak every loop it ever used."""
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []

    async def job(log: AuditLog) -> None:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        await log.adecision(decision="triage")

    with open_log(config) as log:
        for _ in range(3):
            asyncio.run(job(log))
        log.decision(decision="sync")  # the writer's last submission is not from a loop now
        gc.collect()
        assert [r() for r in loops] == [None, None, None]


def test_a_published_wait_fails_when_the_log_closes_without_a_covering_checkpoint(
    tmp_path: Path,
) -> None:
    """The final checkpoint at close cannot be stored (another connection holds SQLite's write
    lock, as the vault or a backup may): the task awaiting ``published`` gets the error instead
    of waiting forever."""
    base = make_config(tmp_path, writer=WriterSettings(checkpoint_interval=60.0))
    cfg = replace(base, store_url=f"{base.store_url}?busy_timeout=300")

    async def main() -> None:
        log = open_log(cfg)
        log.decision(decision="first")
        log.checkpoint()  # the next one is not due for a minute
        task = asyncio.create_task(log.adecision(decision="t", durability="published"))
        while log.size() < 3:  # committed, waiting for a checkpoint
            await asyncio.sleep(0.01)
        holder = sqlite3.connect(tmp_path / "audit.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            log.close()
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        with pytest.raises(StoreError, match="checkpoint"):
            await asyncio.wait_for(task, 10)

    asyncio.run(main())


_HOLD_THE_WRITE_LOCK = """
import sys, time
from pathlib import Path
from mondaytest.audit.store.sqlite import SQLiteStore
store = SQLiteStore(Path(sys.argv[1]))
with store.write() as tx:
    tx.size()
    print("holding", flush=True)
    time.sleep(600)
"""


def test_a_stuck_writer_process_fails_appends_after_busy_timeout(tmp_path: Path) -> None:
    """Another process stops in the middle of its write transaction (SIGSTOP, a debugger, a
    frozen container): appends fail after ``busy_timeout`` as they did before the lock file,
    instead of queueing behind it forever (fail_mode decides what the caller sees)."""
    base = make_config(tmp_path)
    cfg = replace(base, store_url=f"{base.store_url}?busy_timeout=500")
    root = Path(__file__).resolve().parents[2]
    with open_log(cfg) as log:
        log.decision(decision="first")
        holder = subprocess.Popen(
            [sys.executable, "-c", _HOLD_THE_WRITE_LOCK, str(tmp_path / "audit.db")],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(root / "src")},
        )
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "holding"
            outcome: list[BaseException | int | None] = []

            def append() -> None:
                try:
                    outcome.append(log.decision(decision="second"))
                except BaseException as exc:  # handed to the test thread
                    outcome.append(exc)

            t = threading.Thread(target=append, daemon=True)
            started = time.monotonic()
            t.start()
            t.join(10)
            assert outcome, "the append still waits behind the stuck process"
            assert isinstance(outcome[0], StoreError)
            assert "stayed locked" in outcome[0].message
            assert time.monotonic() - started < 5
        finally:
            holder.kill()
            holder.wait()
        assert log.decision(decision="third") == 2  # the lock of a killed process is dropped


def test_tasks_of_one_loop_tick_share_one_submission_of_at_most_max_batch(
    tmp_path: Path,
) -> None:
    cfg = make_config(tmp_path, writer=WriterSettings(max_batch=16, checkpoint_interval=0.2))
    seen: list[int] = []
    commit = Writer._commit

    def spy(self: Writer, batch: list[Submission]) -> None:
        seen.extend(len(q.drafts) for q in batch)
        commit(self, batch)

    async def main(log: AuditLog) -> list[list[int | None]]:
        async def one(i: int) -> list[int | None]:
            n = 1 + i % 3  # tasks that record one, two or three entries each
            drafts = [log.draft("decision", {"decision": f"t{i}.{k}"}) for k in range(n)]
            return await log.aappend_drafts(drafts)

        return list(await asyncio.gather(*(one(i) for i in range(100))))

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Writer, "_commit", spy)
        with open_log(cfg) as log:
            log.checkpoint()
            out = asyncio.run(main(log))
            # every task got consecutive indexes holding its own entries, in its own order
            for i, indexes in enumerate(out):
                assert indexes == list(range(indexes[0] or 0, (indexes[0] or 0) + len(indexes)))
                for k, idx in enumerate(indexes):
                    assert idx is not None
                    assert log.entry(idx).payload["decision"] == f"t{i}.{k}"
    total = sum(1 + i % 3 for i in range(100))
    assert sum(seen) == total
    # 100 tasks made far fewer submissions than tasks, none above max_batch
    assert len(seen) < 30
    assert max(seen) <= 16


def test_cancelling_one_task_leaves_the_others_of_its_submission_waiting(
    config: LogConfig,
) -> None:
    async def main() -> tuple[list[int | None], int]:
        with open_log(config) as log:
            tasks = [asyncio.create_task(log.adecision(decision=f"d{i}")) for i in range(20)]
            await asyncio.sleep(0)  # all twenty joined one submission
            tasks[7].cancel()
            out: list[int | None] = []
            for i, t in enumerate(tasks):
                if i == 7:
                    with pytest.raises(asyncio.CancelledError):
                        await t
                else:
                    out.append(await t)
            log.flush()
            return out, log.size()

    out, size = asyncio.run(main())
    assert len(out) == 19
    assert all(i is not None for i in out)
    assert size == 21  # genesis + all twenty, the cancelled task's entry too


def test_entries_awaited_when_the_log_closes_are_committed(config: LogConfig) -> None:
    async def main() -> list[int | None]:
        log = open_log(config)
        log.checkpoint()
        tasks = [asyncio.create_task(log.adecision(decision="late")) for _ in range(5)]
        await asyncio.sleep(0)  # each call has queued its entry and awaits the commit
        log.close()  # commits what is queued, before the loop runs again
        return [await t for t in tasks]

    indexes = asyncio.run(main())
    assert sorted(i for i in indexes if i is not None) == [1, 2, 3, 4, 5]
    with open_log(config, readonly=True) as log:
        assert log.size() == 6


def test_an_append_after_close_fails_in_the_awaiting_task(config: LogConfig) -> None:
    async def main() -> None:
        log = open_log(config)
        log.checkpoint()
        log.close()
        with pytest.raises(StoreError, match="closed"):
            await log.adecision(decision="too late")

    asyncio.run(main())
