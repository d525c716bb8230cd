"""What every ``bench/*_bench.py`` shares: options, timing, the table of medians, the JSON line.

A bench collects one :class:`Figure` per measured quantity (a median over runs, its target and
which way is better), prints a readable table, and with ``--json`` ends with one flat JSON
object: the issue's keys (medians; null when not measured), ``quick`` and ``versions``
(peer -> version).
A missed target never changes the exit code: the bench reports, people judge.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from peers import median

__all__ = ["Figure", "Report", "bench_args", "machine", "stopwatch"]


def bench_args(doc: str | None) -> argparse.ArgumentParser:
    """The options every bench takes."""
    ap = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes; under 50 s in total")
    ap.add_argument("--json", action="store_true", help="end with one flat JSON object")
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="Monday only, tiny sizes, no peers (for the test suite; times mean nothing)",
    )
    ap.add_argument("--runs", type=int, default=None, help="repetitions (median reported)")
    return ap


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` is the elapsed wall time in seconds."""
    out: list[float] = []
    t0 = time.perf_counter()
    try:
        yield out
    finally:
        out.append(time.perf_counter() - t0)


def machine() -> str:
    """A one-line description of the machine."""
    cpu = "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = f"load {os.getloadavg()[0]:.1f}"
    except OSError:
        load = ""
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {load}"


@dataclass
class Figure:
    """One reported quantity: its values over the runs, its target and its unit."""

    key: str | None
    """JSON key (None: shown in the table only)."""
    label: str
    """What it is, for a person."""
    unit: str = ""
    """Unit shown after the number (``×``, ``/s``, ``ms``, ``B``, ``MB``)."""
    target: float | None = None
    """The target, if the issue sets one."""
    better: Literal["higher", "lower"] = "higher"
    """Which way meets the target."""
    values: list[float] = field(default_factory=list)
    """One value per run."""
    note: str = ""
    """Why it is missing, or how it was measured when that is not obvious."""
    runs: int = 0
    """Timed runs behind the values (a value may itself be a median of several runs)."""

    @property
    def value(self) -> float | None:
        """The median over the runs (None when never measured)."""
        vals = [v for v in self.values if v is not None and not math.isnan(v)]
        return median(vals) if vals else None

    def verdict(self) -> str:
        """``ok``, ``MISS`` or ``-`` (no target or no value)."""
        v = self.value
        if v is None or self.target is None:
            return "-"
        good = v >= self.target if self.better == "higher" else v <= self.target
        return "ok" if good else "MISS"


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit in ("×", "x"):
        text = f"{value:.2f}×" if value < 100 else f"{value:,.0f}×"
    elif abs(value) >= 1000:
        text = f"{value:,.0f}{unit}"
    elif abs(value) >= 10:
        text = f"{value:.1f}{unit}"
    else:
        text = f"{value:.3g}{unit}"
    return text


class Report:
    """The figures of one bench run, printed as a table and as one JSON line."""

    def __init__(self, name: str, *, quick: bool, smoke: bool) -> None:
        self.name = name
        self.quick = quick
        self.smoke = smoke
        self.figures: dict[str, Figure] = {}
        self.versions: dict[str, str] = {}
        self.notes: list[str] = []

    def figure(self, name: str, label: str, **kwargs: Any) -> Figure:
        """Declare a figure (``name`` is its JSON key unless ``key=None`` is given)."""
        key = kwargs.pop("key", name)
        fig = Figure(key=key, label=label, **kwargs)
        self.figures[name] = fig
        return fig

    def add(self, name: str, value: float | None, *, runs: int = 1) -> None:
        """Record one value of a figure (None: not measured); ``runs`` is how many timed runs
        it summarises (a peer script reports the median of its own runs)."""
        if value is not None:
            self.figures[name].values.append(value)
            self.figures[name].runs += runs

    def value(self, name: str) -> float | None:
        """The median so far."""
        return self.figures[name].value

    def log(self, text: str) -> None:
        """Progress line on stderr (the table and JSON go to stdout)."""
        print(f"[{self.name}] {text}", file=sys.stderr, flush=True)

    def table(self) -> str:
        """The table of medians with targets and verdicts."""
        rows = [("figure", "median", "target", "", "runs", "note")]
        for fig in self.figures.values():
            target = ""
            if fig.target is not None:
                sign = "≥" if fig.better == "higher" else "≤"
                target = f"{sign} {_fmt(fig.target, fig.unit)}"
            rows.append(
                (
                    fig.label,
                    _fmt(fig.value, fig.unit),
                    target,
                    fig.verdict(),
                    str(fig.runs),
                    fig.note,
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = []
        for i, r in enumerate(rows):
            cells = [r[0].ljust(widths[0]), r[1].rjust(widths[1]), r[2].ljust(widths[2])]
            cells += [r[3].ljust(widths[3]), r[4].rjust(widths[4]), r[5]]
            lines.append("  ".join(cells).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths) + "  ----")
        return "\n".join(lines)

    def print(self, *, as_json: bool) -> None:
        """Print the table, the notes and (with ``as_json``) the JSON line last."""
        mode = "smoke" if self.smoke else ("quick" if self.quick else "full")
        print(f"\n{self.name} ({mode}) on {machine()}")
        if self.versions:
            print("peers: " + ", ".join(f"{k} {v}" for k, v in sorted(self.versions.items())))
        print(self.table())
        for note in self.notes:
            print(f"note: {note}")
        if as_json:
            out: dict[str, Any] = {}
            for fig in self.figures.values():
                if fig.key is not None:
                    v = fig.value
                    out[fig.key] = None if v is None else round(v, 6)
            out["quick"] = self.quick
            out["versions"] = dict(self.versions)
            print(json.dumps(out))


def run_peer(report: Report, name: str, call: Callable[..., Any], *args: Any) -> Any:
    """``call(*args)`` for one peer; a failure becomes a note (and None), never a crash."""
    try:
        return call(*args)
    except Exception as exc:  # a peer that cannot run is reported, not fatal
        text = str(exc).strip().splitlines()
        report.notes.append(f"{name} failed: {text[-1] if text else type(exc).__name__}")
        report.log(f"{name} failed: {exc}")
        return None
