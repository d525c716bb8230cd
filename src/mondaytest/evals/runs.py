"""Run directories: ``.monday/runs/<run_id>/`` with ``trials.jsonl`` and ``run.json``.

The format is documented in ``docs/eval-run-format.md``. This module writes trials in
batches (one write per batch, flushed at least every half second), reads them back tolerating
a last line cut short by a crash, and finds runs by id, unique prefix, ``latest`` or path.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from mondaytest.errors import InputError, Location

__all__ = [
    "RUN_SCHEMA",
    "TRIAL_SCHEMA",
    "RunRecord",
    "TrialWriter",
    "iter_trials",
    "list_runs",
    "new_run_id",
    "read_run",
    "resolve_run",
    "runs_dir",
    "write_run_json",
]

RUN_SCHEMA = "monday.eval.run/1"
"""Schema id of ``run.json``."""
TRIAL_SCHEMA = "monday.eval.trial/1"
"""Schema id of the lines of ``trials.jsonl``."""
FLUSH_LINES = 512
FLUSH_SECONDS = 0.5


def runs_dir(root: Path) -> Path:
    """Where runs of a project live."""
    return root / ".monday" / "runs"


def new_run_id(suite: str, now: datetime | None = None) -> str:
    """``20261207T090000Z-<suite>-<6 hex>``: sortable by time, unique."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{suite}-{secrets.token_hex(3)}"


def write_run_json(directory: Path, data: dict[str, Any], *, durable: bool = True) -> Path:
    """Atomically write ``run.json`` (synced to disk unless ``durable`` is False)."""
    path = directory / "run.json"
    tmp = directory / f".run.json.{os.getpid()}.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False, sort_keys=False)
        fh.write("\n")
        fh.flush()
        if durable:
            os.fsync(fh.fileno())
    tmp.replace(path)
    return path


class TrialWriter:
    """Appends trial lines to ``trials.jsonl`` in batches."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = path.open("a", encoding="utf-8", buffering=1 << 16)
        self._buf: list[str] = []
        self._last = time.monotonic()
        self.written = 0

    def write(self, line: str) -> None:
        """Queue one line (ending in a newline)."""
        buf = self._buf
        buf.append(line)
        if len(buf) >= FLUSH_LINES or (
            len(buf) & 31 == 0 and time.monotonic() - self._last > FLUSH_SECONDS
        ):
            self.flush()

    def flush(self) -> None:
        """Write queued lines and hand them to the operating system."""
        if self._fh is None:
            return
        if self._buf:
            self._fh.write("".join(self._buf))
            self.written += len(self._buf)
            self._buf.clear()
        self._fh.flush()
        self._last = time.monotonic()

    def close(self) -> None:
        """Flush, sync to disk and close."""
        if self._fh is None:
            return
        self.flush()
        with contextlib.suppress(OSError):
            os.fsync(self._fh.fileno())
        self._fh.close()
        self._fh = None


def iter_trials(directory: Path, *, repair: bool = False) -> Iterator[dict[str, Any]]:
    """The trials of a run in file order. A last line cut short by a crash is skipped (and,
    with ``repair``, cut off the file so appending can resume)."""
    path = directory / "trials.jsonl" if directory.is_dir() else directory
    if not path.is_file():
        return
    good_end = 0
    cut = False
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.endswith(b"\n"):
                cut = True
                break
            if raw.strip():
                try:
                    row = json.loads(raw)
                except ValueError:
                    raise InputError(
                        "trial line is not JSON", location=Location(str(path), lineno)
                    ) from None
                if not isinstance(row, dict) or "case" not in row:
                    raise InputError(
                        'trial line is not a JSON object with a "case" key',
                        hint="each line of trials.jsonl is one trial written by `monday eval run`;"
                        " remove or fix this line",
                        location=Location(str(path), lineno),
                    )
                yield row
            good_end += len(raw)
    if cut and repair:
        with path.open("r+b") as fh:
            fh.truncate(good_end)


@dataclass(frozen=True)
class RunRecord:
    """A run found on disk."""

    dir: Path
    """The run directory."""
    data: dict[str, Any]
    """The parsed ``run.json``."""

    @property
    def id(self) -> str:
        """The run id."""
        return str(self.data.get("run_id", self.dir.name))

    @property
    def suite(self) -> str:
        """The suite name."""
        return str(self.data.get("suite", "?"))

    @property
    def status(self) -> str:
        """``running``, ``complete``, ``aborted`` or ``interrupted``."""
        return str(self.data.get("status", "?"))


def read_run(directory: Path) -> RunRecord:
    """Read a run directory; InputError when it is not one."""
    if directory.is_file() and directory.name in ("run.json", "trials.jsonl"):
        directory = directory.parent
    path = directory / "run.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            "not a run directory (no run.json)", location=Location(str(directory))
        ) from None
    except ValueError as exc:
        raise InputError(f"run.json is not JSON: {exc}", location=Location(str(path))) from None
    schema = data.get("schema") if isinstance(data, dict) else None
    if not str(schema).startswith("monday.eval.run/"):
        raise InputError(
            f"run.json has an unknown schema {schema!r}",
            location=Location(str(path)),
            hint=f"expected {RUN_SCHEMA}",
        )
    return RunRecord(directory, data)


def list_runs(root: Path, suite: str | None = None) -> list[RunRecord]:
    """Runs under ``root/.monday/runs``, oldest first; unreadable directories are skipped."""
    base = runs_dir(root)
    if not base.is_dir():
        return []
    out: list[RunRecord] = []
    for child in sorted(base.iterdir()):
        if not (child / "run.json").is_file():
            continue
        try:
            record = read_run(child)
        except InputError:
            continue
        if suite is None or record.suite == suite:
            out.append(record)
    out.sort(key=lambda r: (str(r.data.get("started_at", "")), r.id))
    return out


def resolve_run(root: Path, ref: str, suite: str | None = None) -> RunRecord:
    """A run by path, id, unique id prefix or substring, or ``latest``."""
    candidate = Path(ref)
    if candidate.exists() and (candidate.is_file() or (candidate / "run.json").is_file()):
        return read_run(candidate)
    runs = list_runs(root, suite)
    if ref == "latest":
        if not runs:
            raise InputError(
                "there are no runs yet" + (f" of suite {suite!r}" if suite else ""),
                hint="start one with `monday eval run SUITE`",
            )
        return runs[-1]
    exact = [r for r in runs if r.id == ref]
    if exact:
        return exact[0]
    matches = [r for r in runs if r.id.startswith(ref)] or [r for r in runs if ref in r.id]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise InputError(
            f"no run matches {ref!r}",
            hint="list runs with `monday eval ls`; a run directory path works too",
        )
    shown = ", ".join(r.id for r in matches[:5])
    raise InputError(f"{ref!r} matches {len(matches)} runs ({shown}…)", hint="give more of the id")
