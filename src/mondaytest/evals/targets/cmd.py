"""Programs as targets: JSON on stdin and stdout, one process per case or long-lived workers.

Protocol. The request is ``{"id": …, "epoch": …, "input": …}``; the answer is a JSON object
with ``output`` (and optionally ``cost``) or with ``error`` (and optionally ``retryable``).
In ``worker`` mode both are single lines and a worker answers requests in order; in
``per_case`` mode the request is all of stdin and the answer all of stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
from collections import deque
from typing import Any

from mondaytest.evals.model import Case, Output
from mondaytest.evals.targets.interface import (
    TargetContext,
    TargetError,
    TargetInfo,
    fingerprint_of,
)

__all__ = ["CmdTarget"]

STREAM_LIMIT = 64 * 1024 * 1024
"""Longest answer line accepted from a worker."""
STDERR_LINES = 20
"""Lines of a program's stderr kept for error messages."""


class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.stderr: deque[str] = deque(maxlen=STDERR_LINES)
        self.drain = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        assert self.proc.stderr is not None
        while True:
            line = await self.proc.stderr.readline()
            if not line:
                return
            self.stderr.append(line.decode("utf-8", "replace").rstrip())

    def tail(self) -> str:
        return " | ".join(self.stderr) if self.stderr else "(no stderr)"

    async def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.proc.wait(), 5)
        self.drain.cancel()
        with contextlib.suppress(BaseException):
            await self.drain


class CmdTarget:
    """Runs a program per case, or keeps a pool of worker processes (see the module doc)."""

    def __init__(
        self,
        argv: list[str],
        ctx: TargetContext,
        *,
        mode: str = "worker",
        workers: int | None = None,
        env: dict[str, str] | None = None,
        version: str | None = None,
    ) -> None:
        self._argv = argv
        self._ctx = ctx
        self._mode = mode
        self._size = workers or min(ctx.concurrency, 8)
        self._env = {**os.environ, **(env or {})}
        self._idle: asyncio.Queue[_Worker | None] = asyncio.Queue()
        self._all: set[_Worker] = set()
        files: dict[str, str] = {}
        for arg in argv:
            candidate = ctx.root_dir / arg
            if not arg.startswith("-") and candidate.is_file():
                files[arg] = hashlib.sha256(candidate.read_bytes()).hexdigest()
        detail: dict[str, Any] = {
            "kind": "cmd",
            "argv": argv,
            "mode": mode,
            "env": dict(sorted((env or {}).items())),
            "files_sha256": files,
            "version": version,
        }
        self.info = TargetInfo("cmd", " ".join(argv), fingerprint_of(detail), detail)

    async def _spawn(self) -> asyncio.subprocess.Process:
        try:
            return await asyncio.create_subprocess_exec(
                *self._argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=self._ctx.root_dir,
                env=self._env,
                limit=STREAM_LIMIT,
            )
        except OSError as exc:
            raise TargetError(
                f"cannot start {self._argv[0]!r}: {exc.strerror or exc}", retryable=False
            ) from None

    async def start(self) -> None:
        """Fill the worker pool with placeholders; processes start on first use."""
        if self._mode == "worker":
            for _ in range(self._size):
                self._idle.put_nowait(None)

    async def call(self, case: Case, epoch: int) -> Any:
        """Send one request and read one answer."""
        request = json.dumps(
            {"id": case.id, "epoch": epoch, "input": case.input}, ensure_ascii=False
        ).encode("utf-8")
        if self._mode == "per_case":
            return await self._call_once(request)
        return await self._call_worker(case.id, request)

    async def _call_once(self, request: bytes) -> Any:
        proc = await self._spawn()
        try:
            stdout, stderr = await proc.communicate(request)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), 5)
            raise
        tail = " | ".join(stderr.decode("utf-8", "replace").strip().splitlines()[-STDERR_LINES:])
        if proc.returncode != 0:
            raise TargetError(f"exited with code {proc.returncode}: {tail or '(no stderr)'}")
        return _answer(stdout, tail).value

    async def _call_worker(self, case_id: str, request: bytes) -> Any:
        worker = await self._idle.get()
        keep: _Worker | None = None
        try:
            if worker is None or worker.proc.returncode is not None:
                if worker is not None:
                    await worker.kill()
                    self._all.discard(worker)
                worker = _Worker(await self._spawn())
                self._all.add(worker)
            proc = worker.proc
            assert proc.stdin is not None
            assert proc.stdout is not None
            try:
                proc.stdin.write(request + b"\n")
                await proc.stdin.drain()
                line = await proc.stdout.readline()
            except (BrokenPipeError, ConnectionResetError):
                line = b""
            except ValueError:  # longer than STREAM_LIMIT
                raise TargetError("worker answer is too long", retryable=False) from None
            if not line:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(proc.wait(), 2)
                await asyncio.sleep(0)
                raise TargetError(f"worker exited with code {proc.returncode}: {worker.tail()}")
            try:
                data = _answer(line, worker.tail())
            except _ReportedError:
                keep = worker  # the worker is healthy; it reported a failure
                raise
            if data.id is not None and data.id != case_id:
                raise TargetError(
                    f"worker answered for case {data.id!r} when asked for {case_id!r}",
                    retryable=False,
                )
            keep = worker
            return data.value
        finally:
            if keep is None and worker is not None:
                await worker.kill()
                self._all.discard(worker)
            self._idle.put_nowait(keep)

    async def aclose(self) -> None:
        """Close every worker's stdin, then stop it."""
        for worker in list(self._all):
            if worker.proc.stdin is not None:
                with contextlib.suppress(Exception):
                    worker.proc.stdin.close()
        for worker in list(self._all):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker.proc.wait(), 2)
            await worker.kill()
        self._all.clear()


class _ReportedError(TargetError):
    """The program answered with an error (the process itself is fine)."""


class _Answered:
    __slots__ = ("id", "value")

    def __init__(self, value: Any, answer_id: str | None) -> None:
        self.value = value
        self.id = answer_id


def _answer(raw: bytes, tail: str) -> _Answered:
    text = raw.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        shown = text if len(text) <= 200 else text[:200] + "…"
        raise TargetError(
            f"answer is not JSON: {shown!r} (stderr: {tail})", retryable=False
        ) from None
    if not isinstance(data, dict) or ("output" not in data and "error" not in data):
        raise TargetError(
            'answer must be a JSON object with "output" (or "error")', retryable=False
        )
    answer_id = data.get("id")
    if "error" in data and data["error"] is not None:
        raise _ReportedError(
            f"program reported: {data['error']}", retryable=bool(data.get("retryable", True))
        )
    cost = data.get("cost")
    value: Any = data["output"]
    if isinstance(cost, int | float) and not isinstance(cost, bool):
        value = Output(value, cost=float(cost))
    return _Answered(value, None if answer_id is None else str(answer_id))
