"""Small inline SVG charts for the HTML report: histograms, interval (forest) plots, trends.

No plotting library and no scripts: each function returns one ``<svg>`` element as text, sized
by a ``viewBox`` so it scales with the page. Colours come from CSS classes the page defines
(``.c-pass``, ``.c-fail``, ``.c-inconclusive``, ``.c-base``, ``.c-s0`` … ``.c-s5``), so charts
follow the page's palette. Every label goes through :func:`esc`; every mark carries a
``<title>`` so hovering shows the exact numbers.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

from mondaytest.evals.report._text import one_line, shorten
from mondaytest.evals.report.model import Histogram

__all__ = [
    "IntervalRow",
    "RefLine",
    "Series",
    "esc",
    "histogram_svg",
    "interval_svg",
    "trend_svg",
]

SERIES_CLASSES = 6
"""Number of distinct series colours (``.c-s0`` … ``.c-s5``)."""


def esc(text: object) -> str:
    """Text safe for SVG or HTML content and attribute values (on one line)."""
    return html.escape(one_line(text), quote=True)


def _f(value: float) -> str:
    """A coordinate with two decimals, trailing zeros dropped."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _svg_open(width: int, height: int, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{esc(label)}" class="chart">'
        f"<title>{esc(label)}</title>"
    )


def _nice_max(value: float) -> float:
    """A round number ≥ ``value`` for an axis end."""
    if value <= 0:
        return 1.0
    exp = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def _pct(value: float) -> str:
    return f"{100 * value:.0f} %" if value >= 0.1 or value == 0 else f"{100 * value:.1f} %"


# --------------------------------------------------------------------------------------------
# Histogram


def histogram_svg(
    hist: Histogram,
    *,
    title: str,
    baseline: Histogram | None = None,
    width: int = 420,
    height: int = 190,
) -> str:
    """Share of trials per score bin; ``baseline`` is drawn as a dashed outline on top.

    A metric whose values are all 0 or 1 is drawn as two bars, ``0`` and ``1``.
    """
    left, right, top, bottom = 44, 12, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    binary = hist.binary and (baseline is None or baseline.binary)
    if binary:
        labels = ["0 (fail)", "1 (pass)"]
        shares = _shares([hist.zeros, hist.ones])
        base_shares = _shares([baseline.zeros, baseline.ones]) if baseline is not None else None
        edges = ["0", "1"]
    else:
        labels = [f"{i / hist.bins:.2f}–{(i + 1) / hist.bins:.2f}" for i in range(hist.bins)]
        shares = _shares(hist.counts)
        base_shares = _shares(baseline.counts) if baseline is not None else None
        edges = []
    counts = [hist.zeros, hist.ones] if binary else hist.counts
    top_share = max([*shares, *(base_shares or [])], default=0.0)
    y_max = _nice_max(top_share)
    n_bars = len(shares)
    slot = plot_w / max(n_bars, 1)
    gap = slot * (0.35 if binary else 0.08)
    parts = [_svg_open(width, height, f"{title}: distribution of {hist.n} scores")]
    # axes and grid
    for frac in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - frac)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{_f(y)}" y2="{_f(y)}"/>'
            f'<text class="tick" x="{left - 6}" y="{_f(y + 4)}" text-anchor="end">'
            f"{_pct(frac * y_max)}</text>"
        )
    for i, share in enumerate(shares):
        h = plot_h * (share / y_max) if y_max else 0.0
        x = left + i * slot + gap / 2
        y = top + plot_h - h
        css = ("c-fail" if i == 0 else "c-pass") if binary else "c-s0"
        parts.append(
            f'<rect class="{css}" x="{_f(x)}" y="{_f(y)}" width="{_f(slot - gap)}" '
            f'height="{_f(max(h, 0.0))}"><title>{esc(labels[i])}: {counts[i]} trial(s), '
            f"{_pct(share)}</title></rect>"
        )
    if base_shares is not None:
        if binary:
            for i, share in enumerate(base_shares):
                x = left + i * slot + gap / 2
                y = top + plot_h - plot_h * (share / y_max)
                parts.append(
                    f'<line class="c-base dashed" x1="{_f(x)}" x2="{_f(x + slot - gap)}" '
                    f'y1="{_f(y)}" y2="{_f(y)}"><title>baseline {esc(labels[i])}: '
                    f"{_pct(share)}</title></line>"
                )
        else:
            points: list[str] = []
            for i, share in enumerate(base_shares):
                y = top + plot_h - plot_h * (share / y_max)
                points.append(f"{_f(left + i * slot)},{_f(y)} {_f(left + (i + 1) * slot)},{_f(y)}")
            parts.append(
                f'<polyline class="c-base dashed" fill="none" points="{" ".join(points)}">'
                "<title>baseline</title></polyline>"
            )
    # x axis
    axis_y = top + plot_h
    parts.append(
        f'<line class="axis" x1="{left}" x2="{left + plot_w}" y1="{_f(axis_y)}" y2="{_f(axis_y)}"/>'
    )
    if binary:
        for i, edge in enumerate(edges):
            x = left + (i + 0.5) * slot
            parts.append(
                f'<text class="tick" x="{_f(x)}" y="{_f(axis_y + 15)}" text-anchor="middle">'
                f"{edge}</text>"
            )
    else:
        for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
            x = left + tick * plot_w
            parts.append(
                f'<text class="tick" x="{_f(x)}" y="{_f(axis_y + 15)}" text-anchor="middle">'
                f"{tick:g}</text>"
            )
    parts.append(
        f'<text class="label" x="{_f(left + plot_w / 2)}" y="{height - 4}" '
        f'text-anchor="middle">score</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _shares(counts: Sequence[int]) -> list[float]:
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


# --------------------------------------------------------------------------------------------
# Interval (forest) plot


@dataclass(frozen=True, slots=True)
class IntervalRow:
    """One row of an interval plot."""

    label: str
    """Shown left of the row (cut to fit; the full text is in the hover title)."""
    estimate: float | None
    """The point (None: nothing to draw)."""
    low: float | None = None
    """Interval low end (None: no interval)."""
    high: float | None = None
    """Interval high end."""
    note: str = ""
    """Shown right of the row: numbers, n."""
    css: str = "c-s0"
    """Colour class of the mark."""


@dataclass(frozen=True, slots=True)
class RefLine:
    """A vertical reference line across an interval plot."""

    value: float
    """Where, in data units."""
    label: str
    """Shown at the top."""
    css: str = "c-base"
    """Colour class."""


def interval_svg(
    rows: Sequence[IntervalRow],
    *,
    title: str,
    domain: tuple[float, float] = (0.0, 1.0),
    refs: Sequence[RefLine] = (),
    width: int = 1000,
    label_width: int = 190,
    note_width: int = 240,
    signed: bool = False,
    zone: tuple[float, float] | None = None,
) -> str:
    """Points with interval bars, one row each, on a shared horizontal axis.

    ``zone`` shades a range of the axis (e.g. drops beyond the margin).
    """
    row_h, top, bottom = 24, 26, 26
    lo, hi = domain
    if not hi > lo:
        hi = lo + 1.0
    plot_l = label_width
    plot_w = width - label_width - note_width - 10
    height = top + bottom + row_h * max(len(rows), 1)

    def x_of(value: float) -> float:
        return plot_l + plot_w * (min(max(value, lo), hi) - lo) / (hi - lo)

    parts = [_svg_open(width, height, title)]
    if zone is not None:
        z1, z2 = x_of(min(zone)), x_of(max(zone))
        parts.append(
            f'<rect class="zone" x="{_f(z1)}" y="{top - 4}" width="{_f(z2 - z1)}" '
            f'height="{height - bottom - top + 4}"/>'
        )
    for tick in _ticks(lo, hi):
        x = x_of(tick)
        text = f"{tick:+.2f}".replace("-", "−") if signed and tick else f"{tick:.2f}"
        parts.append(
            f'<line class="grid" x1="{_f(x)}" x2="{_f(x)}" y1="{top - 4}" '
            f'y2="{height - bottom}"/><text class="tick" x="{_f(x)}" y="{height - bottom + 15}" '
            f'text-anchor="middle">{text}</text>'
        )
    shown = sorted((r for r in refs if lo <= r.value <= hi), key=lambda r: r.value)
    for k, ref in enumerate(shown):
        x = x_of(ref.value)
        # Neighbouring labels point away from each other: the rightmost reads rightwards.
        if len(shown) == 1:
            anchor, dx = "middle", 0
        elif k == len(shown) - 1:
            anchor, dx = "start", 3
        else:
            anchor, dx = "end", -3
        parts.append(
            f'<line class="{ref.css} dashed" x1="{_f(x)}" x2="{_f(x)}" y1="{top - 6}" '
            f'y2="{height - bottom}"><title>{esc(ref.label)}</title></line>'
            f'<text class="reflabel {ref.css}-text" x="{_f(x + dx)}" y="{top - 10}" '
            f'text-anchor="{anchor}">{esc(shorten(ref.label, 28))}</text>'
        )
    for i, row in enumerate(rows):
        cy = top + row_h * i + row_h / 2
        tip = esc(row.label) + (f": {esc(row.note)}" if row.note else "")
        parts.append(
            f'<g class="row"><title>{tip}</title>'
            f'<text class="rowlabel" x="{plot_l - 8}" y="{_f(cy + 4)}" text-anchor="end">'
            f"{esc(shorten(one_line(row.label), 28))}</text>"
        )
        if row.low is not None and row.high is not None:
            x1, x2 = x_of(row.low), x_of(row.high)
            parts.append(
                f'<line class="{row.css} ci" x1="{_f(x1)}" x2="{_f(x2)}" y1="{_f(cy)}" '
                f'y2="{_f(cy)}"/><line class="{row.css} ci" x1="{_f(x1)}" x2="{_f(x1)}" '
                f'y1="{_f(cy - 5)}" y2="{_f(cy + 5)}"/><line class="{row.css} ci" '
                f'x1="{_f(x2)}" x2="{_f(x2)}" y1="{_f(cy - 5)}" y2="{_f(cy + 5)}"/>'
            )
        if row.estimate is not None:
            parts.append(
                f'<circle class="{row.css} dot" cx="{_f(x_of(row.estimate))}" cy="{_f(cy)}" '
                f'r="4.5"/>'
            )
        parts.append(
            f'<text class="note" x="{plot_l + plot_w + 10}" y="{_f(cy + 4)}">'
            f"{esc(shorten(row.note, 40))}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _ticks(lo: float, hi: float) -> list[float]:
    span = hi - lo
    raw = span / 5
    exp = 10.0 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(s * exp for s in (1, 2, 2.5, 5, 10) if raw <= s * exp)
    first = math.ceil(lo / step - 1e-9) * step
    out: list[float] = []
    value = first
    while value <= hi + 1e-9 and len(out) < 20:
        out.append(round(value, 10))
        value += step
    return out


# --------------------------------------------------------------------------------------------
# Trend


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a trend chart: a value per run (None where the run has none)."""

    name: str
    """Legend text."""
    values: Sequence[float | None]
    """One value per run, oldest first."""
    low: Sequence[float | None] | None = None
    """Lower band edge per run (e.g. a Wilson interval), optional."""
    high: Sequence[float | None] | None = None
    """Upper band edge per run."""


def trend_svg(
    series: Sequence[Series],
    run_labels: Sequence[str],
    *,
    title: str,
    x_labels: Sequence[str] | None = None,
    width: int = 1000,
    height: int = 260,
    domain: tuple[float, float] = (0.0, 1.0),
) -> str:
    """Lines over runs (oldest left, the current run last and marked), with optional bands.

    ``run_labels`` names each run in hover titles; ``x_labels`` (e.g. dates) label the axis.
    """
    left, right, top, bottom = 44, 16, 14, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(run_labels)
    lo, hi = domain

    def x_of(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y_of(v: float) -> float:
        return top + plot_h * (1 - (min(max(v, lo), hi) - lo) / (hi - lo))

    parts = [_svg_open(width, height, title)]
    for tick in _ticks(lo, hi):
        y = y_of(tick)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{_f(y)}" y2="{_f(y)}"/>'
            f'<text class="tick" x="{left - 6}" y="{_f(y + 4)}" text-anchor="end">'
            f"{tick:.2f}</text>"
        )
    if n:
        x = x_of(n - 1)
        parts.append(
            f'<line class="current" x1="{_f(x)}" x2="{_f(x)}" y1="{top}" '
            f'y2="{top + plot_h}"><title>this run</title></line>'
        )
    labels = list(x_labels) if x_labels is not None else list(run_labels)
    step = max(1, math.ceil(n / 8))
    for i in range(n):
        if i % step and i != n - 1:
            continue
        anchor = "middle" if 0 < i < n - 1 or n == 1 else ("start" if i == 0 else "end")
        parts.append(
            f'<text class="tick" x="{_f(x_of(i))}" y="{top + plot_h + 15}" '
            f'text-anchor="{anchor}">{esc(shorten(labels[i], 12))}</text>'
        )
    for k, s in enumerate(series):
        css = f"c-s{k % SERIES_CLASSES}"
        if s.low is not None and s.high is not None:
            upper: list[str] = []
            lower: list[str] = []
            for i in range(n):
                low_v, high_v = s.low[i], s.high[i]
                if low_v is None or high_v is None:
                    continue
                upper.append(f"{_f(x_of(i))},{_f(y_of(high_v))}")
                lower.append(f"{_f(x_of(i))},{_f(y_of(low_v))}")
            if len(upper) > 1:
                parts.append(
                    f'<polygon class="{css} band" points="{" ".join(upper + lower[::-1])}"/>'
                )
        run: list[str] = []
        segments: list[list[str]] = []
        for i, value in enumerate(s.values):
            if value is None:
                if run:
                    segments.append(run)
                run = []
                continue
            run.append(f"{_f(x_of(i))},{_f(y_of(value))}")
        if run:
            segments.append(run)
        for seg in segments:
            if len(seg) > 1:
                parts.append(f'<polyline class="{css} line" fill="none" points="{" ".join(seg)}"/>')
        for i, value in enumerate(s.values):
            if value is None:
                continue
            r = 4.5 if i == n - 1 else 3
            parts.append(
                f'<circle class="{css} dot" cx="{_f(x_of(i))}" cy="{_f(y_of(value))}" r="{r}">'
                f"<title>{esc(s.name)} · {esc(run_labels[i])}: {value:.3f}</title></circle>"
            )
    # legend
    lx, ly = left, height - 18
    for k, s in enumerate(series):
        css = f"c-s{k % SERIES_CLASSES}"
        label = shorten(one_line(s.name), 48)
        parts.append(
            f'<rect class="{css}" x="{lx}" y="{ly - 9}" width="12" height="12" rx="2"/>'
            f'<text class="legend" x="{lx + 16}" y="{ly + 1}">{esc(label)}</text>'
        )
        lx += 28 + 7 * len(label)
        if lx > width - 120:
            break
    parts.append("</svg>")
    return "".join(parts)
