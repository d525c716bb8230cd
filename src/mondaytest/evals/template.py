"""``{{name}}`` and ``{{name.path}}`` placeholders in JSON templates (HTTP bodies, rubrics).

A string that is exactly one placeholder becomes the value itself (any JSON); placeholders
inside longer text are replaced by the value as text (strings as they are, everything else as
compact JSON). Unknown names are left untouched, so literal braces survive.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mondaytest.evals.model import MISSING
from mondaytest.evals.paths import compile_path, get_path

__all__ = ["render", "render_text"]

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)((?:\.[^\s{}]+|\[[^\]]*\])*)\s*\}\}")


def _lookup(values: dict[str, Any], name: str, rest: str) -> Any:
    if name not in values:
        return MISSING
    return get_path(values[name], compile_path(rest)) if rest else values[name]


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is MISSING:
        return ""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def render_text(text: str, values: dict[str, Any]) -> str:
    """Replace every known placeholder in ``text`` by its value as text."""

    def sub(m: re.Match[str]) -> str:
        value = _lookup(values, m.group(1), m.group(2))
        if value is MISSING and m.group(1) not in values:
            return m.group(0)
        return _as_text(value)

    return _PLACEHOLDER.sub(sub, text)


def render(template: Any, values: dict[str, Any]) -> Any:
    """Fill a JSON template (see the module doc)."""
    if isinstance(template, str):
        m = _PLACEHOLDER.fullmatch(template.strip())
        if m is not None and m.group(1) in values:
            value = _lookup(values, m.group(1), m.group(2))
            return None if value is MISSING else value
        return render_text(template, values) if "{{" in template else template
    if isinstance(template, dict):
        return {render_text(str(k), values): render(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, values) for v in template]
    return template
