"""Reading YAML safely and with positions: size and encoding limits, duplicate keys, alias bombs.

The contract and its included files are read with ruamel.yaml's round-trip loader, which keeps
the line and column of every key and item. Timestamps are left as strings (pydantic parses
them, so a time zone is never silently dropped). Documents are converted to plain Python data
under a node budget, so an alias bomb ("billion laughs") is refused in milliseconds instead of
expanding.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, MarkedYAMLFutureWarning, YAMLError

from mondaytest.errors import ConfigError, Location

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "DocPath",
    "Positions",
    "read_yaml",
    "round_trip_yaml",
    "to_plain",
]

MAX_FILE_BYTES = 1024 * 1024
"""Largest contract file accepted (1 MiB); a contract is a few KiB."""
MAX_NODES = 50_000
"""Most values a document may expand to, aliases included."""
MAX_DEPTH = 64
"""Deepest nesting accepted (a contract is a few levels deep)."""

DocPath = tuple[str | int, ...]
Positions = dict[DocPath, Location]


class _Constructor(RoundTripConstructor):
    """Round-trip constructor that keeps timestamps as the strings they were written as."""


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", RoundTripConstructor.construct_yaml_str)


def round_trip_yaml() -> YAML:
    """A ruamel YAML instance for reading (and rewriting with comments kept) contract files."""
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.allow_duplicate_keys = False
    yaml.preserve_quotes = True
    return yaml


def _read_text(path: Path, shown: str) -> str:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ConfigError(
            "file not found",
            location=Location(shown),
            hint="check the path, or create a contract with `monday init`",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", location=Location(shown)) from None
    if path.is_dir():
        raise ConfigError(
            "is a directory, not a file",
            location=Location(shown),
            hint="pass the path of monday.yaml",
        )
    if size > MAX_FILE_BYTES:
        raise ConfigError(
            f"file is {size} bytes, over the {MAX_FILE_BYTES} byte limit",
            location=Location(shown),
            hint="a contract is a few KiB; move large data (datasets) into their own files",
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            location=Location(shown, line, col),
            hint="save the file as UTF-8",
        ) from None
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    ):
        raise ConfigError(
            "file is empty",
            location=Location(shown, 1, 1),
            hint="write a contract (see `monday init`) or remove the file",
        )
    return text


def read_yaml(path: Path, shown: str) -> Any:
    """Parse one YAML file into ruamel's round-trip structures; every failure is a ConfigError."""
    text = _read_text(path, shown)
    try:
        docs = list(round_trip_yaml().load_all(text))
    except (MarkedYAMLError, MarkedYAMLFutureWarning) as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        col = mark.column + 1 if mark is not None else 0
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        hint = "fix the YAML syntax at this place"
        if "duplicate key" in problem or type(exc).__name__ == "DuplicateKeyError":
            problem = problem.replace('found duplicate key "', "duplicate key '").replace(
                '" with value', "' with value"
            )
            problem = problem.split(" (original value")[0]
            hint = "each key may appear once in a mapping; remove or merge the repeated one"
        raise ConfigError(problem, location=Location(shown, line, col), hint=hint) from None
    except YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", location=Location(shown)) from None
    except RecursionError:
        raise ConfigError(
            "YAML is nested too deeply", location=Location(shown), hint="flatten the document"
        ) from None
    except (TypeError, ValueError) as exc:  # e.g. a mapping used as a key: `? {a: b}`
        raise ConfigError(
            f"unsupported YAML construct ({exc})",
            location=Location(shown),
            hint="use plain string keys and simple values",
        ) from None
    if docs:
        _check_expansion(docs[0], shown)
    if len(docs) != 1:
        raise ConfigError(
            f"expected one YAML document, found {len(docs)}",
            location=Location(shown, 1, 1),
            hint="remove the extra '---' separators",
        )
    return docs[0]


def _check_expansion(root: Any, shown: str) -> None:
    """Refuse documents whose aliases expand beyond :data:`MAX_NODES` values or into a cycle.

    Aliased nodes are shared objects, so sizes are memoised per object: the count of the
    expanded document is computed in time linear in the *written* document.
    """
    sizes: dict[int, int] = {}
    busy: set[int] = set()

    def size(node: Any, depth: int) -> int:
        if not isinstance(node, dict | list):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in busy or depth > MAX_DEPTH:
            raise ConfigError(
                "an alias refers to its own anchor (the document would be infinite)"
                if key in busy
                else f"document nests deeper than {MAX_DEPTH} levels",
                location=Location(shown, 1, 1),
                hint="remove the recursive anchor/alias (&name / *name) or flatten the document",
            )
        busy.add(key)
        children = node.values() if isinstance(node, dict) else node
        total = 1
        for child in children:
            total += size(child, depth + 1)
            if total > MAX_NODES:
                raise ConfigError(
                    f"document expands to more than {MAX_NODES} values (YAML alias bomb?)",
                    location=Location(shown, 1, 1),
                    hint="remove the repeated anchors/aliases (&name / *name)",
                )
        busy.discard(key)
        sizes[key] = total
        return total

    size(root, 0)


def to_plain(
    node: Any,
    shown: str,
    positions: Positions,
    prefix: DocPath = (),
    *,
    budget: list[int] | None = None,
    transform: Callable[[dict[str, Any], DocPath, Location], Any] | None = None,
) -> Any:
    """Convert round-trip data to plain dicts/lists/scalars, recording each path's position.

    ``budget`` counts expanded values across the whole load; exceeding :data:`MAX_NODES`
    refuses the document (alias bombs). ``transform`` may replace a mapping (used for
    ``include``).
    """
    if budget is None:
        budget = [MAX_NODES]
    if len(prefix) > MAX_DEPTH:
        raise ConfigError(
            f"document nests deeper than {MAX_DEPTH} levels (a recursive alias?)",
            location=positions.get(prefix[:1], Location(shown, 1, 1)),
            hint="remove the alias that refers to its own anchor, or flatten the document",
        )
    budget[0] -= 1
    if budget[0] < 0:
        raise ConfigError(
            f"document expands to more than {MAX_NODES} values (YAML alias bomb?)",
            location=positions.get(prefix, Location(shown, 1, 1)),
            hint="remove the repeated anchors/aliases (&name / *name)",
        )
    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {}
        for key in node:
            try:
                line, col = node.lc.key(key)
                loc = Location(shown, line + 1, col + 1)
            except (KeyError, TypeError, AttributeError):
                loc = positions.get(prefix, Location(shown))
            if not isinstance(key, str):
                raise ConfigError(
                    f"key {key!r} is not a string",
                    location=loc,
                    hint="quote the key",
                    field=_dotted(prefix) or None,
                )
            positions[(*prefix, key)] = loc
            out[key] = to_plain(
                node[key], shown, positions, (*prefix, key), budget=budget, transform=transform
            )
        if transform is not None:
            return transform(out, prefix, positions.get(prefix, Location(shown, 1, 1)))
        return out
    if isinstance(node, CommentedSeq | list):
        items: list[Any] = []
        for i, item in enumerate(node):
            try:
                line, col = node.lc.item(i)  # type: ignore[attr-defined,unused-ignore]
                positions[(*prefix, i)] = Location(shown, line + 1, col + 1)
            except (KeyError, TypeError, AttributeError):
                positions[(*prefix, i)] = positions.get(prefix, Location(shown))
            items.append(
                to_plain(item, shown, positions, (*prefix, i), budget=budget, transform=transform)
            )
        return items
    if isinstance(node, dict):
        return {
            str(k): to_plain(
                v, shown, positions, (*prefix, str(k)), budget=budget, transform=transform
            )
            for k, v in node.items()
        }
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def _dotted(path: DocPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
