"""Text helpers shared by the report renderers: making untrusted text printable, numbers.

Case ids, outputs and reasons come from datasets and targets, so they may hold anything:
markup, control characters, lone surrogates, bidirectional overrides. Every renderer first
passes such text through :func:`printable` (blocks of text) or :func:`one_line` (ids, table
cells), which turn what no output format can carry into visible ``\\xNN`` escapes; each format
then applies its own escaping (XML, HTML, Markdown).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

__all__ = [
    "fmt_ci",
    "fmt_delta",
    "fmt_ms",
    "fmt_p",
    "fmt_pct",
    "fmt_score",
    "one_line",
    "plural",
    "printable",
    "short_digest",
    "shorten",
]

# Characters no report may carry raw: C0 controls (but tab, newline, carriage return), DEL and
# C1 controls, lone surrogates, the non-characters U+FFFE/U+FFFF (none of these is allowed in
# XML 1.0, and browsers flag them as parse errors).
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# In single-line text (ids, table cells) also line breaks and tabs, and the bidirectional
# overrides and isolates that can make an id read as something else ("Trojan source").
_UNPRINTABLE_LINE = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape_char(match: re.Match[str]) -> str:
    ch = match.group(0)
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``text`` as a string with unprintable characters replaced by visible escapes.

    Tabs and line breaks are kept (this is for blocks of text: outputs, reasons).
    """
    return _UNPRINTABLE.sub(_escape_char, str(text))


def one_line(text: object) -> str:
    """``text`` on one line: line breaks, tabs, controls and bidi overrides become escapes."""
    return _UNPRINTABLE_LINE.sub(_escape_char, str(text))


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``…`` when cut."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + "…"


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 case``, ``2 cases``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def short_digest(digest: str | None, length: int = 12) -> str | None:
    """``sha256:0123456789ab`` for a long digest (hex part cut to ``length``); None stays None."""
    if not digest:
        return None
    algo, sep, hexpart = str(digest).partition(":")
    if not sep:
        return str(digest)[:length]
    return f"{algo}:{hexpart[:length]}"


def _finite(value: float | Decimal | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def fmt_score(value: float | Decimal | None, digits: int = 3) -> str:
    """A score or rate: ``0.912``; ``—`` when unknown."""
    number = _finite(value)
    return "—" if number is None else f"{number:.{digits}f}"


def fmt_delta(value: float | Decimal | None, digits: int = 3) -> str:
    """A signed difference: ``+0.012``, ``−0.041`` (a real minus sign)."""
    number = _finite(value)
    if number is None:
        return "—"
    text = f"{number:+.{digits}f}"
    if float(text) == 0.0:
        text = f"{0.0:+.{digits}f}"
    return text.replace("-", "−")


def fmt_ci(low: float | None, high: float | None, *, signed: bool = False, digits: int = 3) -> str:
    """An interval: ``[0.871, 0.934]`` (``signed`` for differences)."""
    if _finite(low) is None or _finite(high) is None:
        return "—"
    fmt = fmt_delta if signed else fmt_score
    return f"[{fmt(low, digits)}, {fmt(high, digits)}]"


def fmt_p(value: float | None) -> str:
    """A p-value: three decimals, or two significant digits below 0.001."""
    number = _finite(value)
    if number is None:
        return "—"
    return f"{number:.2g}" if number < 0.001 else f"{number:.3f}"


def fmt_pct(value: float | Decimal | None, digits: int = 1) -> str:
    """A share as a percentage: ``97.5 %``."""
    number = _finite(value)
    return "—" if number is None else f"{100 * number:.{digits}f} %"


def fmt_ms(value: float | None) -> str:
    """A duration in milliseconds: ``1,234 ms``, ``0.42 ms``."""
    number = _finite(value)
    if number is None:
        return "—"
    return f"{number:,.0f} ms" if abs(number) >= 10 else f"{number:.2g} ms"
