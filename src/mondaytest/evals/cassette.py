"""Cassettes: recorded outputs that let pull-request CI run without API keys.

A cassette is JSONL. The first line is a header
``{"schema": "monday.eval.cassette/1", "suite", "recorded_at", "target": {…}, "judges": {…}}``;
every other line is one recorded call
``{"role": "target" | "judge:<scorer>", "case", "epoch", "input_hash", "output", "cost"?}``.
``monday eval run --record`` writes it (atomically, when the run finishes) and ``--replay``
reads it. A run directory or its ``trials.jsonl`` can be replayed too: its successful trials
are the recorded target outputs.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import IO, Any

from mondaytest.errors import InputError, Location
from mondaytest.evals.model import dumps
from mondaytest.evals.targets.interface import TargetInfo

__all__ = ["CASSETTE_SCHEMA", "Cassette", "CassetteWriter"]

CASSETTE_SCHEMA = "monday.eval.cassette/1"


class CassetteWriter:
    """Appends recorded calls to ``<path>.partial``; :meth:`commit` moves it into place."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        self._partial = path.with_name(path.name + ".partial")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] | None = self._partial.open("w", encoding="utf-8")
        self._fh.write(dumps({"schema": CASSETTE_SCHEMA, **header}) + "\n")
        self.count = 0

    def add(
        self,
        role: str,
        case_id: str,
        epoch: int,
        input_hash: str,
        output_json: str,
        cost: float | None = None,
    ) -> None:
        """Record one successful call; ``output_json`` is the output as JSON text."""
        assert self._fh is not None
        head = dumps({"role": role, "case": case_id, "epoch": epoch, "input_hash": input_hash})
        tail = f',"cost":{json.dumps(cost)}' if cost is not None else ""
        self._fh.write(f'{head[:-1]},"output":{output_json}{tail}}}\n')
        self.count += 1

    def commit(self) -> Path:
        """Flush and atomically replace the cassette."""
        assert self._fh is not None
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._fh = None
        self._partial.replace(self.path)
        return self.path

    def discard(self) -> None:
        """Drop the partial recording."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        with contextlib.suppress(FileNotFoundError):
            self._partial.unlink()


class Cassette:
    """An index over recorded calls: ``(role, case, epoch)`` → line offset."""

    def __init__(
        self, path: Path, header: dict[str, Any], index: dict[tuple[str, str, int], int]
    ) -> None:
        self.path = path
        """The file read (a cassette or a ``trials.jsonl``)."""
        self.header = header
        """The header: ``target`` and ``judges`` describe what was recorded."""
        self._index = index
        self._fh: IO[bytes] | None = None

    def __len__(self) -> int:
        return len(self._index)

    @classmethod
    def open(cls, path: Path) -> Cassette:
        """Index a cassette, a run directory, or a run's ``trials.jsonl``."""
        shown = str(path)
        header: dict[str, Any] = {}
        trials = False
        if path.is_dir():
            run_json = path / "run.json"
            if run_json.is_file():
                header = json.loads(run_json.read_text(encoding="utf-8"))
            path = path / "trials.jsonl"
            trials = True
        elif path.name == "trials.jsonl":
            run_json = path.parent / "run.json"
            if run_json.is_file():
                header = json.loads(run_json.read_text(encoding="utf-8"))
            trials = True
        if not path.is_file():
            raise InputError(
                "no recording here",
                location=Location(shown),
                hint="record one with `monday eval run SUITE --record`",
            )
        index: dict[tuple[str, str, int], int] = {}
        offset = 0
        with path.open("rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                start = offset
                offset += len(raw)
                if not raw.strip():
                    continue
                try:
                    row = json.loads(raw)
                except ValueError:
                    if not raw.endswith(b"\n"):
                        break  # a run cut short mid-line
                    raise InputError(
                        "recording line is not JSON", location=Location(shown, lineno)
                    ) from None
                if not isinstance(row, dict):
                    raise InputError(
                        "recording line is not an object", location=Location(shown, lineno)
                    )
                if lineno == 1 and not trials:
                    if row.get("schema") != CASSETTE_SCHEMA:
                        raise InputError(
                            f"not a cassette (schema {row.get('schema')!r})",
                            location=Location(shown, 1),
                            hint=f"the first line must carry schema {CASSETTE_SCHEMA!r}",
                        )
                    header = row
                    continue
                if trials and row.get("status") != "ok":
                    continue
                try:
                    key = (
                        str(row.get("role", "target")),
                        str(row["case"]),
                        int(row.get("epoch", 0)),
                    )
                except (KeyError, TypeError, ValueError):
                    raise InputError(
                        "recording line needs case and epoch", location=Location(shown, lineno)
                    ) from None
                index[key] = start
        return cls(path, header, index)

    def recorded_info(self, role: str) -> TargetInfo | None:
        """The recorded target (or judge, for ``judge:<name>``) as written in the header."""
        if role == "target":
            data = self.header.get("target")
        else:
            data = (self.header.get("judges") or {}).get(role.partition(":")[2])
        if not isinstance(data, dict):
            return None
        return TargetInfo(
            str(data.get("kind", "?")),
            str(data.get("ref", "?")),
            str(data.get("fingerprint", "")),
            dict(data.get("detail") or {}),
        )

    def get(self, role: str, case_id: str, epoch: int) -> dict[str, Any] | None:
        """The recorded line for a call, or None."""
        offset = self._index.get((role, case_id, epoch))
        if offset is None:
            return None
        if self._fh is None:
            self._fh = self.path.open("rb")
        self._fh.seek(offset)
        row: dict[str, Any] = json.loads(self._fh.readline())
        return row

    def close(self) -> None:
        """Release the file handle."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
