"""Small paths into JSON values: ``label``, ``answer.text``, ``$.choices[0].text``.

One syntax serves scorer ``field``s and HTTP response extractors: an optional leading ``$``,
then keys separated by dots, ``[N]`` list indexes (``.N`` works too on lists) and
``['key with spaces']``.
"""

from __future__ import annotations

import re
from typing import Any

from mondaytest.evals.model import MISSING

__all__ = ["JsonPath", "compile_path", "get_path", "render_path"]

JsonPath = tuple[str | int, ...]
"""A compiled path: keys and list indexes."""

_TOKEN = re.compile(r"""\.?([^.\[\]]+)|\[(\d+)\]|\[['"]([^'"]*)['"]\]""")


def compile_path(expr: str | None) -> JsonPath:
    """Compile a path expression; ``None``, ``""`` and ``$`` mean the whole value.

    Raises ValueError for malformed expressions.
    """
    if expr is None:
        return ()
    text = expr.strip()
    if text.startswith("$"):
        text = text[1:]
    out: list[str | int] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"cannot read path {expr!r} at character {pos + 1}")
        key, index, quoted = m.groups()
        if index is not None:
            out.append(int(index))
        elif quoted is not None:
            out.append(quoted)
        else:
            out.append(key)
        pos = m.end()
    return tuple(out)


def get_path(value: Any, path: JsonPath) -> Any:
    """The value at ``path``, or :data:`~mondaytest.evals.model.MISSING` when absent."""
    node = value
    for part in path:
        if isinstance(node, dict):
            if isinstance(part, int):
                part = str(part)
            if part not in node:
                return MISSING
            node = node[part]
        elif isinstance(node, list | tuple):
            try:
                idx = int(part)
            except ValueError:
                return MISSING
            if not -len(node) <= idx < len(node):
                return MISSING
            node = node[idx]
        else:
            try:
                node = getattr(node, str(part))
            except AttributeError:
                return MISSING
    return node


def render_path(path: JsonPath) -> str:
    """A path as text, ``$.a[0].b``."""
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out
