"""The eval runner: cases × epochs through a target and its scorers, streamed to disk.

- asyncio with ``concurrency`` workers pulling from one seeded job order (no task per case);
- a per-call timeout and retries with exponential backoff (``Retry-After`` wins); every failed
  attempt is recorded in the trial, never hidden;
- an error budget: once more trials failed than the budget allows, no new trials start and the
  run ends ``aborted`` (exit 3);
- the output cache (``rw|ro|off``), ``--record`` to a cassette and ``--replay`` from one;
- ``trials.jsonl`` written in batches, ``run.json`` at start (``running``) and at the end;
  memory does not grow with the number of cases;
- resume: a run that crashed or was interrupted continues where it stopped.
"""

from __future__ import annotations

import asyncio
import math
import platform
import random
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from mondaytest import __version__
from mondaytest.errors import HarnessError, InputError
from mondaytest.evals.cache import OutputCache, cache_key
from mondaytest.evals.cassette import Cassette, CassetteWriter
from mondaytest.evals.dataset import Dataset, load_dataset
from mondaytest.evals.model import (
    Case,
    Output,
    Score,
    canonical_hash,
    dumps,
    dumps_record,
    jsonable,
)
from mondaytest.evals.order import run_order, stratified_sample
from mondaytest.evals.runs import (
    RUN_SCHEMA,
    TRIAL_SCHEMA,
    TrialWriter,
    iter_trials,
    new_run_id,
    resolve_run,
    runs_dir,
    write_run_json,
)
from mondaytest.evals.scorers.interface import Scorer, ScorerContext
from mondaytest.evals.scorers.judge import Judge
from mondaytest.evals.scorers.registry import build_scorer
from mondaytest.evals.summary import Summarizer
from mondaytest.evals.targets.build import build_target
from mondaytest.evals.targets.interface import Target, TargetContext, TargetError
from mondaytest.evals.targets.replay import ReplayTarget
from mondaytest.spec.evals import SuiteSpec

__all__ = [
    "DEFAULT_ERROR_BUDGET",
    "Mode",
    "RunObserver",
    "RunOptions",
    "RunResult",
    "SuiteRef",
    "arun_suite",
    "cassette_path",
    "run_suite",
    "run_suite_interruptible",
]

Mode = Literal["live", "record", "replay"]
DEFAULT_ERROR_BUDGET = 0.1
"""Error budget when neither the suite nor its gate sets one."""
PROGRESS_EVERY_S = 0.1
_TRANSIENT = re.compile(
    r"RateLimit|Timeout|TimedOut|Connection|Overloaded|Unavailable|InternalServer|ServerError|"
    r"TryAgain|Transient|Throttl"
)


def _transient(exc: BaseException) -> bool:
    """Whether an exception from user code looks transient (worth another attempt)."""
    if isinstance(exc, OSError | TimeoutError | ConnectionError):
        return True
    return any(_TRANSIENT.search(cls.__name__) for cls in type(exc).__mro__)


@dataclass(frozen=True)
class SuiteRef:
    """A suite and where it comes from."""

    name: str
    """The suite's name in the contract."""
    spec: SuiteSpec
    """The suite."""
    root_dir: Path
    """The contract's directory: datasets, modules and ``.monday/`` resolve from here."""
    spec_digest: str | None = None
    """Digest of the whole contract (provenance)."""
    spec_path: Path | None = None
    """The contract file (provenance)."""


@dataclass
class RunOptions:
    """Per-run choices (command-line options); None means the suite's setting."""

    sample: int | None = None
    """Run only this many cases, stratified by tag."""
    seed: int | None = None
    """Seed of the order and the sample."""
    epochs: int | None = None
    """Trials per case."""
    concurrency: int | None = None
    """Target calls in flight."""
    cache: Literal["rw", "ro", "off"] | None = None
    """Output cache mode."""
    mode: Mode = "live"
    """``live``, ``record`` (live, and write the cassette) or ``replay`` (from the cassette)."""
    resume: str | None = None
    """Continue this run (id, prefix, ``latest`` or path) instead of starting a new one."""
    runs_root: Path | None = None
    """Where ``.monday/runs`` is; default: the contract's directory."""
    labels: dict[str, str] = field(default_factory=dict)
    """Free ``key=value`` labels stored in ``run.json`` (CI run id, branch…)."""


class RunObserver(Protocol):
    """Receives progress (the CLI draws a bar or prints lines)."""

    def started(self, run_id: str, suite: str, total: int, done: int) -> None:
        """The run starts; ``done`` trials were already there (resume)."""

    def progress(self, done: int, errors: int, passed: int, failed: int) -> None:
        """Counts so far (called at most every 0.1 s)."""

    def finished(self, data: dict[str, Any]) -> None:
        """The run ended; ``data`` is ``run.json``."""


@dataclass(frozen=True)
class RunResult:
    """A finished (or stopped) run."""

    run_id: str
    """The run id."""
    dir: Path
    """The run directory."""
    data: dict[str, Any]
    """``run.json``."""

    @property
    def status(self) -> str:
        """``complete``, ``aborted`` or ``interrupted``."""
        return str(self.data["status"])

    def raise_for_status(self) -> None:
        """HarnessError (exit 3) when the run is not usable: stopped early, over its error
        budget, or no trial ran."""
        counts = self.data.get("counts", {})
        if self.status != "complete":
            raise HarnessError(
                f"run {self.run_id} {self.status}: {self.data.get('stopped_reason', '')}".rstrip(
                    ": "
                ),
                hint=f"inspect it with `monday eval show {self.run_id}`",
            )
        if not counts.get("trials"):
            raise HarnessError(
                f"run {self.run_id} ran no trials", hint="a run of nothing proves nothing"
            )


def cassette_path(suite: SuiteRef) -> Path:
    """Where the suite's cassette is."""
    rel = suite.spec.cassette or f"evals/cassettes/{suite.name}.jsonl"
    return suite.root_dir / rel


class _Call:
    __slots__ = (
        "attempt_errors",
        "attempts",
        "cached",
        "cost",
        "error",
        "latency",
        "output",
        "output_json",
        "usage",
    )

    def __init__(self) -> None:
        self.output: Any = None
        self.output_json = "null"
        self.cost: float | None = None
        self.usage: dict[str, Any] | None = None
        self.error: str | None = None
        self.attempts = 0
        self.attempt_errors: list[str] | None = None
        self.cached = False
        self.latency = 0.0


class _Run:
    """One execution of a suite (see :func:`arun_suite`)."""

    def __init__(self, suite: SuiteRef, options: RunOptions, observer: RunObserver | None) -> None:
        self.suite = suite
        self.options = options
        self.observer = observer
        spec = suite.spec
        self.root = suite.root_dir
        self.timeout = spec.timeout_s
        self.retries = spec.retries
        self.backoff = spec.retry_backoff_s
        self.concurrency = options.concurrency or spec.concurrency
        self.mode: Mode = options.mode
        self.cache_mode = "off" if self.mode == "replay" else (options.cache or spec.cache)
        budget = spec.error_budget
        if budget is None and spec.gate.budgets.error_rate is not None:
            budget = float(spec.gate.budgets.error_rate.max)
        self.error_budget = DEFAULT_ERROR_BUDGET if budget is None else budget
        self.cassette: Cassette | None = None
        self.recorder: CassetteWriter | None = None
        self.cache: OutputCache | None = None
        self.stop_reason: str | None = None
        self._judge_limits: dict[str, asyncio.Semaphore] = {}
        self._deadlines: dict[asyncio.Task[Any] | None, float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._jitter = random.Random()
        # counts
        self.done = 0
        self.errors = 0
        self.passed = 0
        self.failed = 0
        self._last_progress = 0.0

    # ------------------------------------------------------------------ set-up
    def _make_target(self, target_spec: Any, role: str) -> Target:
        if self.mode == "replay":
            assert self.cassette is not None
            return ReplayTarget(self.cassette, role)
        concurrency = self.concurrency
        return build_target(target_spec, TargetContext(self.root, concurrency, self.timeout, role))

    def _prepare(self) -> None:
        spec = self.suite.spec
        if self.mode == "replay":
            path = cassette_path(self.suite)
            if not path.is_file():
                raise InputError(
                    f"no cassette at {path}",
                    hint=f"record one with `monday eval run {self.suite.name} --record` "
                    "(needs the live target) and commit it",
                )
            self.cassette = Cassette.open(path)
        self.dataset: Dataset = load_dataset(self.root / spec.dataset)
        self.target = self._make_target(spec.target, "target")
        ctx = ScorerContext(self.root, make_target=self._make_target, caller=self._judge_call)
        self.scorers: list[Scorer] = [build_scorer(s, ctx) for s in spec.scorers]
        self.sync_scorers = [s for s in self.scorers if not s.is_async]
        self.async_scorers = [s for s in self.scorers if s.is_async]
        for s in spec.scorers:
            if s.kind == "judge":
                self._judge_limits[f"judge:{s.name}"] = asyncio.Semaphore(s.concurrency)

    def _plan(self, previous: dict[str, Any] | None) -> None:
        spec = self.suite.spec
        config = (previous or {}).get("config", {})
        if previous is not None:
            self.seed = int(config.get("seed", spec.seed))
            self.sample = config.get("sample")
            self.epochs = int(config.get("epochs", spec.epochs))
        else:
            self.seed = spec.seed if self.options.seed is None else self.options.seed
            self.sample = self.options.sample
            self.epochs = self.options.epochs or spec.epochs
        n = len(self.dataset)
        if self.sample is not None and self.sample < n:
            strata = [self.dataset.stratum(i) for i in range(n)]
            chosen = stratified_sample(strata, self.sample, self.seed)
        else:
            chosen = list(range(n))
        self.order = run_order(chosen, self.seed)
        self.total = len(self.order) * self.epochs
        self.allowed_errors = math.floor(self.error_budget * self.total)

    def _key_parts(self) -> dict[str, Any]:
        return {
            "suite": self.suite.name,
            "suite_version": self.suite.spec.version,
            "dataset_sha256": self.dataset.sha256,
            "target": self.target.info.fingerprint,
            "scorers": {s.info.name: s.info.fingerprint for s in self.scorers},
            "mode": self.mode,
        }

    def _provenance(self) -> dict[str, Any]:
        git: dict[str, Any] = {"commit": None, "dirty": None, "branch": None}
        try:
            from mondaytest.spec.provenance import git_info

            info = git_info(self.root)
            git = {
                "commit": info.commit,
                "dirty": info.dirty,
                "branch": getattr(info, "branch", None),
            }
        except Exception:  # noqa: S110 — provenance is best effort; the run goes on
            pass
        try:
            dataset_path = str(self.dataset.path.relative_to(self.root))
        except ValueError:
            dataset_path = str(self.dataset.path)
        return {
            "spec": {
                "path": str(self.suite.spec_path) if self.suite.spec_path else None,
                "digest": self.suite.spec_digest,
            },
            "git": git,
            "dataset": {
                "path": dataset_path,
                "format": self.dataset.format,
                "sha256": self.dataset.sha256,
                "cases": len(self.dataset),
            },
            "monday": __version__,
            "python": platform.python_version(),
            "platform": sys.platform,
        }

    # ------------------------------------------------------------------ calls
    async def _call(self, role: str, target: Target, case: Case, epoch: int, ih: str) -> _Call:
        r = _Call()
        cache = self.cache
        key = ""
        t0 = time.perf_counter()
        if cache is not None:
            key = cache_key(target.info.fingerprint, ih, epoch)
            hit = cache.get(key)
            if hit is not None:
                r.output, r.cost = hit
                r.output_json = dumps(r.output)
                r.cached = True
                r.attempts = 0
                r.latency = time.perf_counter() - t0
                self._record(role, case, epoch, ih, r)
                return r
        timeout = self.timeout
        task = asyncio.current_task()
        deadlines = self._deadlines
        while True:
            r.attempts += 1
            started = time.perf_counter()
            retry_after: float | None = None
            try:
                # The watchdog cancels this task when the deadline passes (cheaper than a timer
                # per call); a call that never suspends (inline) is checked when it returns.
                deadlines[task] = started + timeout
                try:
                    out = await target.call(case, epoch)
                except asyncio.CancelledError:
                    if task is None or task not in self._expired:
                        raise
                    self._expired.discard(task)
                    task.uncancel()
                    raise TimeoutError from None
                finally:
                    deadlines.pop(task, None)
                if time.perf_counter() - started > timeout:
                    raise TimeoutError
                break
            except TimeoutError:
                message, retryable = f"timeout after {timeout:g}s", True
            except TargetError as exc:
                message, retryable, retry_after = exc.message, exc.retryable, exc.retry_after
            except Exception as exc:
                message, retryable = f"{type(exc).__name__}: {exc}", _transient(exc)
            if r.attempt_errors is None:
                r.attempt_errors = []
            r.attempt_errors.append(message[:1000])
            if not retryable or r.attempts > self.retries or self.stop_reason is not None:
                r.error = r.attempt_errors.pop()
                r.latency = time.perf_counter() - t0
                return r
            delay = retry_after if retry_after is not None else self.backoff * 2 ** (r.attempts - 1)
            await asyncio.sleep(
                delay * (0.75 + self._jitter.random() / 2) if retry_after is None else delay
            )
        r.latency = time.perf_counter() - t0
        if type(out) is Output:
            r.cost, r.usage, out = out.cost, out.usage, out.value
        try:
            r.output_json = dumps(out)
        except (TypeError, ValueError):
            out = jsonable(out)
            r.output_json = dumps(out)
        else:
            if type(out) is tuple:
                out = jsonable(out)
        r.output = out
        if cache is not None:
            cache.put(key, r.output_json, r.cost)
        self._record(role, case, epoch, ih, r)
        return r

    def _record(self, role: str, case: Case, epoch: int, ih: str, r: _Call) -> None:
        if self.recorder is not None:
            self.recorder.add(role, case.id, epoch, ih, r.output_json, r.cost)

    async def _judge_call(self, role: str, target: Target, case: Case, epoch: int) -> Any:
        async with self._judge_limits[role]:
            r = await self._call(role, target, case, epoch, canonical_hash(case.input))
        if r.error is not None:
            raise TargetError(r.error, retryable=False)
        return r.output

    # ------------------------------------------------------------------ trials
    async def _trial(self, case: Case, epoch: int) -> str:
        ih = canonical_hash(case.input)
        r = await self._call("target", self.target, case, epoch, ih)
        rec: dict[str, Any] = {"case": case.id, "epoch": epoch}
        scores: dict[str, dict[str, Any]] = {}
        if r.error is not None:
            rec["status"] = "error"
            rec["passed"] = None
            rec["score"] = None
            rec["scores"] = scores
            self.errors += 1
        else:
            out = r.output
            first_error: str | None = None
            verdict: bool | None = None
            total = 0.0
            valued = 0
            results: list[tuple[str, Score]] = []
            for scorer in self.sync_scorers:
                try:
                    sc = scorer.score(case, out)
                except Exception as exc:
                    sc = Score(None, None, error=f"{type(exc).__name__}: {exc}"[:1000])
                results.append((scorer.info.name, sc))
            for ascorer in self.async_scorers:
                try:
                    sc = await ascorer.ascore(case, out, epoch)
                except Exception as exc:
                    sc = Score(None, None, error=f"{type(exc).__name__}: {exc}"[:1000])
                results.append((ascorer.info.name, sc))
            for name, sc in results:
                scores[name] = sc.to_json()
                if sc.error is not None:
                    first_error = first_error or f"scorer {name!r}: {sc.error}"
                    continue
                if sc.value is not None:
                    total += sc.value
                    valued += 1
                if sc.passed is not None:
                    verdict = sc.passed if verdict is None else (verdict and sc.passed)
            if first_error is not None:
                rec["status"] = "score_error"
                rec["passed"] = None
                rec["error"] = first_error
                self.errors += 1
            else:
                rec["status"] = "ok"
                rec["passed"] = verdict
                if verdict is True:
                    self.passed += 1
                elif verdict is False:
                    self.failed += 1
            rec["score"] = total / valued if valued else None
            rec["scores"] = scores
        rec["latency_ms"] = round(r.latency * 1000, 3)
        rec["attempts"] = r.attempts
        if r.cached:
            rec["cached"] = True
        if r.error is not None:
            rec["error"] = r.error
        if r.attempt_errors:
            rec["attempt_errors"] = r.attempt_errors
        if r.cost is not None:
            rec["cost"] = r.cost
        if r.usage is not None:
            rec["usage"] = jsonable(r.usage)
        rec["input_hash"] = ih
        rec["expected_hash"] = canonical_hash(case.expected)
        if case.tags:
            rec["tags"] = list(case.tags)
        if case.cluster is not None:
            rec["cluster"] = case.cluster
        if case.weight != 1.0:
            rec["weight"] = case.weight
        self.summary.add(rec)
        line = dumps_record(rec)
        if r.error is None:
            return f'{line[:-1]},"output":{r.output_json}}}\n'
        return line + "\n"

    async def _watchdog(self) -> None:
        """Cancel calls that passed their deadline (see :meth:`_call`)."""
        tick = min(max(self.timeout / 20, 0.005), 0.25)
        while True:
            await asyncio.sleep(tick)
            now = time.perf_counter()
            for task, deadline in list(self._deadlines.items()):
                if task is not None and now >= deadline and task not in self._expired:
                    self._expired.add(task)
                    task.cancel()

    async def _worker(self, jobs: Iterator[tuple[int, int]]) -> None:
        dataset = self.dataset
        write = self.writer.write
        for index, epoch in jobs:
            if self.stop_reason is not None:
                return
            line = await self._trial(dataset.case(index), epoch)
            write(line)
            self.done += 1
            if self.errors > self.allowed_errors and self.stop_reason is None:
                self.stop_reason = (
                    f"{self.errors} trials failed, over the error budget of "
                    f"{self.error_budget:.0%} of {self.total} ({self.allowed_errors} allowed)"
                )
            if self.done & 15 == 0:
                now = time.monotonic()
                if now - self._last_progress >= PROGRESS_EVERY_S:
                    self._last_progress = now
                    if self.observer is not None:
                        self.observer.progress(self.done, self.errors, self.passed, self.failed)
                    await asyncio.sleep(0)

    def _jobs(self, done: set[tuple[str, int]]) -> Iterator[tuple[int, int]]:
        for epoch in range(self.epochs):
            for index in self.order:
                if done and (self._case_id(index), epoch) in done:
                    continue
                yield index, epoch

    def _case_id(self, index: int) -> str:
        return self.dataset.case(index).id

    # ------------------------------------------------------------------ the run
    async def run(self) -> RunResult:
        self._prepare()
        previous: dict[str, Any] | None = None
        base = runs_dir(self.options.runs_root or self.root)
        if self.options.resume is not None:
            record = resolve_run(
                self.options.runs_root or self.root, self.options.resume, self.suite.name
            )
            if record.status == "complete":
                raise InputError(f"run {record.id} is complete; there is nothing to resume")
            if (record.data.get("config") or {}).get("mode") == "record" or self.mode == "record":
                raise InputError(
                    f"run {record.id} cannot be resumed as a recording: the cassette must hold "
                    "every call of one run",
                    hint="record again from the start with --record",
                )
            previous = record.data
            run_id, run_dir = record.id, record.dir
        else:
            run_id = new_run_id(self.suite.name)
            run_dir = base / run_id
        self._plan(previous)
        key = self._key_parts()
        if previous is not None:
            before = previous.get("plan", {}).get("key", {})
            changed = [k for k in key if before.get(k) != key[k]]
            if changed:
                raise InputError(
                    f"cannot resume run {run_id}: {', '.join(changed)} changed since it started",
                    hint="start a new run instead",
                )
        self.summary = Summarizer([s.info.to_json() for s in self.scorers])
        done: set[tuple[str, int]] = set()
        if previous is not None:
            for trial in iter_trials(run_dir, repair=True):
                done.add((str(trial["case"]), int(trial.get("epoch", 0))))
                self.summary.add(trial)
                if trial.get("status") in ("error", "score_error"):
                    self.errors += 1
                elif trial.get("passed") is True:
                    self.passed += 1
                elif trial.get("passed") is False:
                    self.failed += 1
            self.done = len(done)
        started_at = previous["started_at"] if previous else _now()
        data: dict[str, Any] = {
            "schema": RUN_SCHEMA,
            "trials_schema": TRIAL_SCHEMA,
            "run_id": run_id,
            "suite": self.suite.name,
            "suite_version": self.suite.spec.version,
            "description": self.suite.spec.description,
            "status": "running",
            "started_at": started_at,
            "finished_at": None,
            "source": {"harness": "monday", "version": __version__},
            "config": {
                "epochs": self.epochs,
                "seed": self.seed,
                "sample": self.sample,
                "concurrency": self.concurrency,
                "timeout_s": self.timeout,
                "retries": self.retries,
                "error_budget": self.error_budget,
                "cache": self.cache_mode,
                "mode": self.mode,
            },
            "labels": dict(self.options.labels),
            "provenance": None,
            "target": self.target.info.to_json(),
            "scorers": [s.info.to_json() for s in self.scorers],
            "plan": {"cases": len(self.order), "trials": self.total, "key": key},
        }
        if previous is not None:
            data["resumed"] = [*previous.get("resumed", []), _now()]
        run_dir.mkdir(parents=True, exist_ok=True)
        write_run_json(run_dir, data, durable=False)
        self.writer = TrialWriter(run_dir / "trials.jsonl")
        if self.cache_mode != "off":
            self.cache = OutputCache(self.root / ".monday" / "cache", self.cache_mode)
        if self.mode == "record":
            judges = {
                s.info.name: s.target.info.to_json() for s in self.scorers if isinstance(s, Judge)
            }
            self.recorder = CassetteWriter(
                cassette_path(self.suite),
                {
                    "suite": self.suite.name,
                    "recorded_at": _now(),
                    "run_id": run_id,
                    "target": self.target.info.to_json(),
                    "judges": judges,
                },
            )
        if self.observer is not None:
            self.observer.started(run_id, self.suite.name, self.total, self.done)
        t0 = time.perf_counter()
        status = "interrupted"
        provenance = asyncio.ensure_future(asyncio.to_thread(self._provenance))
        on_term = self._catch_sigterm()
        try:
            await self.target.start()
            for scorer in self.scorers:
                await scorer.start()
            jobs = self._jobs(done)
            watchdog = asyncio.ensure_future(self._watchdog())
            workers = [asyncio.ensure_future(self._worker(jobs)) for _ in range(self.concurrency)]
            try:
                await asyncio.gather(*workers)
            except BaseException:
                for w in workers:
                    w.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                raise
            finally:
                watchdog.cancel()
                await asyncio.gather(watchdog, return_exceptions=True)
            status = "aborted" if self.stop_reason is not None else "complete"
        finally:
            if on_term:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
            self.writer.close()
            await self._close()
            try:
                data["provenance"] = await asyncio.shield(provenance)
            except BaseException:
                data["provenance"] = None
            data["status"] = status
            data["finished_at"] = _now()
            data["duration_s"] = round(time.perf_counter() - t0, 3)
            if status != "complete":
                data["stopped_reason"] = self.stop_reason or "interrupted (Ctrl-C) before the end"
            data.update(self.summary.result())
            data["fingerprint"] = {
                "suite": self.suite.name,
                "suite_version": self.suite.spec.version,
                "cases": data["cases"],
                "target": self.target.info.fingerprint,
                "scorers": {s.info.name: s.info.fingerprint for s in self.scorers},
                "epochs": self.epochs,
            }
            if self.cache is not None:
                data["cache_stats"] = {"hits": self.cache.hits, "misses": self.cache.misses}
                self.cache.close()
            if self.recorder is not None:
                if status == "complete":
                    data["recorded"] = {
                        "cassette": str(self.recorder.commit()),
                        "calls": self.recorder.count,
                    }
                else:
                    self.recorder.discard()
            write_run_json(run_dir, data)
            self.dataset.close()
        if self.observer is not None:
            self.observer.finished(data)
        return RunResult(run_id, run_dir, data)

    def _catch_sigterm(self) -> bool:
        """On SIGTERM (CI cancelling a job), stop like on Ctrl-C: flush, mark the run
        ``interrupted`` so it can be resumed. Only possible in the main thread."""
        if threading.current_thread() is not threading.main_thread():
            return False
        task = asyncio.current_task()
        if task is None:
            return False

        def stop() -> None:
            self.stop_reason = "terminated (SIGTERM)"
            task.cancel()

        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop)
        except (NotImplementedError, RuntimeError, ValueError):
            return False
        return True

    async def _close(self) -> None:
        for closer in (self.target.aclose, *(s.aclose for s in self.scorers)):
            try:
                await closer()
            except Exception:  # noqa: S112 — closing is best effort
                continue
        if self.cassette is not None:
            self.cassette.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def arun_suite(
    suite: SuiteRef, options: RunOptions | None = None, observer: RunObserver | None = None
) -> RunResult:
    """Run a suite on the running event loop; see :func:`run_suite`."""
    return await _Run(suite, options or RunOptions(), observer).run()


def run_suite(
    suite: SuiteRef, options: RunOptions | None = None, observer: RunObserver | None = None
) -> RunResult:
    """Run a suite and return its result (the run directory is written as it goes).

    Raises :class:`~mondaytest.errors.InputError` for a bad dataset or resume request and
    :class:`~mondaytest.errors.ConfigError` for a target or scorer that cannot be built. A run
    that ends over its error budget is returned with status ``aborted``:
    call :meth:`RunResult.raise_for_status` to turn that into exit code 3.
    """
    return asyncio.run(arun_suite(suite, options, observer))


class _RunIdTracker:
    """A :class:`RunObserver` that remembers the run id and forwards to another observer."""

    def __init__(self, inner: RunObserver | None) -> None:
        self.inner = inner
        self.run_id: str | None = None

    def started(self, run_id: str, suite: str, total: int, done: int) -> None:
        self.run_id = run_id
        if self.inner is not None:
            self.inner.started(run_id, suite, total, done)

    def progress(self, done: int, errors: int, passed: int, failed: int) -> None:
        if self.inner is not None:
            self.inner.progress(done, errors, passed, failed)

    def finished(self, data: dict[str, Any]) -> None:
        if self.inner is not None:
            self.inner.finished(data)


def run_suite_interruptible(
    suite: SuiteRef, options: RunOptions | None = None, observer: RunObserver | None = None
) -> RunResult:
    """:func:`run_suite`, turning an interruption (Ctrl-C, cancellation) that escapes the runner
    into a :class:`~mondaytest.errors.HarnessError` (exit 3) that says how to resume the run.

    On an interruption the observer's ``finished`` is called with an empty mapping (so a
    progress display can close) before the error is raised.
    """
    tracker = _RunIdTracker(observer)
    try:
        return run_suite(suite, options, tracker)
    except (KeyboardInterrupt, asyncio.CancelledError):
        tracker.finished({})
        if tracker.run_id is None:
            raise HarnessError("interrupted before the run started") from None
        raise HarnessError(
            f"run {tracker.run_id} interrupted; its finished trials are kept",
            hint=f"continue it with `monday eval run {suite.name} --resume {tracker.run_id}`",
        ) from None
