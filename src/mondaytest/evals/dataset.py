"""Reading eval cases from JSONL, CSV or YAML, with every problem named by file and line.

One pass validates the whole file before anything runs: each row must be a mapping with a
unique ``id`` and an ``input``; ``expected``, ``tags``, ``cluster``, ``weight`` and ``metadata``
are optional; anything else is refused. Up to :data:`MAX_PROBLEMS` problems are reported at
once, each as ``FILE:LINE``.

Large JSONL files are not held in memory: the pass keeps a byte offset per case and the cases
are re-read one at a time while the run needs them, so memory stays flat in the number of cases.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import json
import math
import os
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from mondaytest.errors import InputError, Location
from mondaytest.evals.model import MISSING, Case

__all__ = [
    "CASE_KEYS",
    "MAX_PROBLEMS",
    "Dataset",
    "DatasetError",
    "case_from_row",
    "load_dataset",
]

CASE_KEYS = ("id", "input", "expected", "tags", "cluster", "weight", "metadata")
"""The keys a case may have."""
_KEYS = frozenset(CASE_KEYS)
MAX_PROBLEMS = 20
"""How many problems one load reports before it stops looking."""
IN_MEMORY_BYTES = 8 * 1024 * 1024
"""Datasets up to this size keep their parsed cases in memory; larger JSONL is re-read lazily."""
MAX_ID_LENGTH = 200
MAX_YAML_NODES = 2_000_000


class DatasetError(InputError):
    """Every problem found in a dataset, each with its ``FILE:LINE``; exit code 2."""

    def __init__(self, problems: list[InputError], *, truncated: bool = False) -> None:
        first = problems[0]
        super().__init__(first.message, hint=first.hint, location=first.location, field=first.field)
        self.problems = problems
        self.truncated = truncated

    def __str__(self) -> str:
        lines = [InputError.__str__(p) for p in self.problems]
        if self.truncated:
            lines.append(f"stopped after {len(self.problems)} problems")
        elif len(lines) > 1:
            lines.append(f"{len(lines)} problems found")
        return "\n".join(lines)


def _problem(
    message: str, loc: Location, *, hint: str | None = None, field: str | None = None
) -> InputError:
    return InputError(message, location=loc, hint=hint, field=field)


def case_from_row(row: Any, loc: Location) -> Case:
    """Validate one row (already parsed into plain data) and build its :class:`Case`.

    Raises :class:`~mondaytest.errors.InputError` located at ``loc``.
    """
    bad = _unencodable(row)
    if bad is not None:
        raise _surrogate_problem(bad, loc)
    return _case(row, loc.file, loc.line, loc.col)


def _unencodable(value: Any, where: str = "") -> tuple[str, str] | None:
    """``(where, text)`` of the first string (or key) in ``value`` that UTF-8 cannot encode.

    JSON and YAML escapes can spell a lone surrogate (``"\\ud800"``): Python keeps it as a
    ``str``, but it has no UTF-8 form, so hashing the case, writing ``trials.jsonl`` or a
    baseline would crash later. ``None`` when every string encodes.
    """
    if isinstance(value, str):
        if value.isascii():
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return (where or "the case", value)
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and _unencodable(key) is not None:
                return (f"a key of {where or 'the case'}", key)
            found = _unencodable(item, inner)
            if found is not None:
                return found
        return None
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _unencodable(item, f"{where}[{i}]")
            if found is not None:
                return found
    return None


def _surrogate_problem(bad: tuple[str, str], loc: Location) -> InputError:
    where, text = bad
    lone = next((c for c in text if 0xD800 <= ord(c) <= 0xDFFF), "?")
    root = where.split(".", 1)[0].split("[", 1)[0]
    return _problem(
        f"{where} holds a lone surrogate (U+{ord(lone):04X}), which cannot be encoded as UTF-8",
        loc,
        field=root if root in _KEYS else None,
        hint="escapes \\ud800-\\udfff must come in high/low pairs (e.g. \\ud83d\\ude00); "
        "fix or remove the escape",
    )


def _case(row: Any, shown: str, line: int, col: int = 0) -> Case:
    """:func:`case_from_row` without building a Location unless something is wrong."""
    if type(row) is dict and _KEYS.issuperset(row):
        raw_id = row.get("id")
        if type(raw_id) is str and 0 < len(raw_id) <= MAX_ID_LENGTH and "input" in row:
            tags = row.get("tags")
            cluster = row.get("cluster")
            weight = row.get("weight")
            metadata = row.get("metadata")
            if (
                (tags is None or (type(tags) is list and all(type(t) is str and t for t in tags)))
                and (cluster is None or type(cluster) is str)
                and (weight is None or (type(weight) in (int, float) and 0 < weight < math.inf))
                and (metadata is None or type(metadata) is dict)
                and raw_id.strip()
            ):
                return Case(
                    raw_id,
                    row["input"],
                    row.get("expected", MISSING),
                    tuple(dict.fromkeys(tags)) if tags else (),
                    cluster,
                    1.0 if weight is None else float(weight),
                    {} if metadata is None else metadata,
                    line,
                )
    return _case_slow(row, Location(shown, line, col))


def _case_slow(row: Any, loc: Location) -> Case:
    if not isinstance(row, dict):
        raise _problem(
            f"a case must be a mapping with an id and an input, found {_kind(row)}",
            loc,
            hint='e.g. {"id": "c1", "input": "…", "expected": "…"}',
        )
    if not _KEYS.issuperset(row):
        for key in row:
            if key in _KEYS:
                continue
            close = difflib.get_close_matches(str(key), CASE_KEYS, n=1, cutoff=0.7)
            raise _problem(
                f"unknown key {key!r}",
                loc,
                hint=f"did you mean {close[0]!r}?"
                if close
                else "put extra fields under 'metadata'",
            )
    if "id" not in row:
        raise _problem("case has no 'id'", loc, hint="every case needs a unique, stable id")
    raw_id = row["id"]
    if type(raw_id) is str:
        case_id = raw_id
    elif isinstance(raw_id, int) and not isinstance(raw_id, bool):
        case_id = str(raw_id)
    else:
        raise _problem(f"id must be a string or an integer, found {_kind(raw_id)}", loc, field="id")
    if not case_id or len(case_id) > MAX_ID_LENGTH or not case_id.strip():
        raise _problem(
            "id is empty"
            if not case_id.strip()
            else f"id is longer than {MAX_ID_LENGTH} characters",
            loc,
            field="id",
        )
    if "input" not in row:
        raise _problem(f"case {case_id!r} has no 'input'", loc, field="input")
    tags: tuple[str, ...] = ()
    raw_tags = row.get("tags")
    if raw_tags is not None:
        if not isinstance(raw_tags, list) or not all(isinstance(t, str) and t for t in raw_tags):
            raise _problem(
                "tags must be a list of non-empty strings",
                loc,
                field="tags",
                hint='e.g. ["critical"]',
            )
        tags = tuple(dict.fromkeys(raw_tags))
    cluster = row.get("cluster")
    if cluster is not None:
        if isinstance(cluster, bool) or not isinstance(cluster, str | int):
            raise _problem(
                f"cluster must be a string, found {_kind(cluster)}", loc, field="cluster"
            )
        cluster = str(cluster)
    weight = row.get("weight")
    if weight is None:
        weight = 1.0
    elif (
        isinstance(weight, bool)
        or not isinstance(weight, int | float)
        or not math.isfinite(weight)
        or weight <= 0
    ):
        raise _problem(f"weight must be a number > 0, found {weight!r}", loc, field="weight")
    metadata = row.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        raise _problem(
            f"metadata must be a mapping, found {_kind(metadata)}", loc, field="metadata"
        )
    return Case(
        id=case_id,
        input=row["input"],
        expected=row.get("expected", MISSING),
        tags=tags,
        cluster=cluster,
        weight=float(weight),
        metadata=metadata,
        line=loc.line,
    )


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        "dict": "a mapping",
        "list": "a list",
        "str": "a string",
        "int": "an integer",
        "float": "a number",
        "bool": "a boolean",
    }.get(type(value).__name__, type(value).__name__)


class Dataset:
    """A validated dataset: ``len()``, :meth:`case` by index, hash and strata for sampling."""

    def __init__(
        self,
        path: Path,
        shown: str,
        fmt: str,
        sha256: str,
        lines: array[int],
        strata: array[int],
        strata_keys: list[tuple[str, ...]],
        cases: list[Case] | None,
        offsets: array[int] | None,
    ) -> None:
        self.path = path
        """The file."""
        self.shown = shown
        """The file as shown in messages."""
        self.format = fmt
        """``jsonl``, ``csv`` or ``yaml``."""
        self.sha256 = sha256
        """SHA-256 of the file's bytes."""
        self._lines = lines
        self._strata = strata
        self.strata_keys = strata_keys
        """Distinct sorted tag sets; :meth:`stratum` indexes into this list."""
        self._cases = cases
        self._offsets = offsets
        self._fh: IO[bytes] | None = None

    def __len__(self) -> int:
        return len(self._lines)

    def __iter__(self) -> Iterator[Case]:
        for i in range(len(self)):
            yield self.case(i)

    @property
    def in_memory(self) -> bool:
        """True when the parsed cases are held in memory (small files)."""
        return self._cases is not None

    def stratum(self, index: int) -> int:
        """The index (into :attr:`strata_keys`) of the case's tag set."""
        return self._strata[index]

    def line(self, index: int) -> int:
        """The line where case ``index`` starts."""
        return self._lines[index]

    def case(self, index: int) -> Case:
        """The case at ``index`` (file order)."""
        if self._cases is not None:
            return self._cases[index]
        assert self._offsets is not None
        if self._fh is None:
            self._fh = self.path.open("rb")
        self._fh.seek(self._offsets[index])
        raw = self._fh.readline()
        line = self._lines[index]
        try:
            row = _loads(raw)
        except ValueError as exc:  # the file changed while the run was going
            raise InputError(
                f"case no longer parses ({exc})",
                location=Location(self.shown, line),
                hint="the dataset changed during the run; run again",
            ) from None
        return _case(row, self.shown, line)

    def close(self) -> None:
        """Release the file handle used for lazy reading."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class _Builder:
    """Collects cases of one load: duplicate check, problems, offsets, strata."""

    def __init__(self, shown: str, keep: bool) -> None:
        self.shown = shown
        self.keep = keep
        self.first_line: dict[str, int] = {}
        self.problems: list[InputError] = []
        self.truncated = False
        self.lines: array[int] = array("q")
        self.offsets: array[int] = array("q")
        self.strata: array[int] = array("i")
        self.strata_index: dict[tuple[str, ...], int] = {}
        self.cases: list[Case] = []

    def problem(self, err: InputError) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            self.truncated = True
            return
        self.problems.append(err)

    @property
    def full(self) -> bool:
        return len(self.problems) >= MAX_PROBLEMS

    def add_row(
        self, row: Any, line: int, col: int = 0, offset: int = 0, *, escapes: bool = True
    ) -> None:
        """Add one parsed row; ``escapes`` says it may hold escaped lone surrogates."""
        try:
            if escapes:
                bad = _unencodable(row)
                if bad is not None:
                    raise _surrogate_problem(bad, Location(self.shown, line, col))
            case = _case(row, self.shown, line, col)
        except InputError as err:
            self.problem(err)
            return
        first = self.first_line.get(case.id)
        if first is not None:
            self.problem(
                _problem(
                    f"duplicate id {case.id!r} (first at line {first})",
                    Location(self.shown, line, col),
                    field="id",
                    hint="ids must be unique: they pair results across runs",
                )
            )
            return
        self.first_line[case.id] = line
        key = tuple(sorted(case.tags))
        stratum = self.strata_index.get(key)
        if stratum is None:
            stratum = self.strata_index[key] = len(self.strata_index)
        self.strata.append(stratum)
        self.lines.append(line)
        self.offsets.append(offset)
        if self.keep:
            self.cases.append(case)

    def finish(self, path: Path, fmt: str, sha256: str) -> Dataset:
        if self.problems:
            raise DatasetError(self.problems, truncated=self.truncated)
        if not self.lines:
            raise InputError(
                "the dataset has no cases",
                location=Location(self.shown),
                hint="an empty suite proves nothing; add cases",
            )
        self.first_line = {}
        return Dataset(
            path,
            self.shown,
            fmt,
            sha256,
            self.lines,
            self.strata,
            list(self.strata_index),
            self.cases if self.keep else None,
            None if self.keep else self.offsets,
        )


def _shown(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def load_dataset(path: str | os.PathLike[str], *, shown: str | None = None) -> Dataset:
    """Read and validate a dataset; the format follows the extension (``.jsonl``/``.ndjson``,
    ``.csv``, ``.yaml``/``.yml``; ``.json`` is read as JSONL).

    Raises :class:`DatasetError` (exit 2) listing problems with ``FILE:LINE``.
    """
    p = Path(path)
    shown = shown or _shown(p)
    if not p.is_file():
        raise InputError(
            "dataset file not found" if not p.exists() else "dataset is not a file",
            location=Location(shown),
            hint="check the suite's dataset path (relative to monday.yaml)",
        )
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _load_jsonl(p, shown)
    if suffix in (".csv", ".tsv"):
        return _load_csv(p, shown, delimiter="\t" if suffix == ".tsv" else ",")
    if suffix in (".yaml", ".yml"):
        return _load_yaml(p, shown)
    raise InputError(
        f"unknown dataset format {suffix or '(no extension)'!r}",
        location=Location(shown),
        hint="use .jsonl, .csv or .yaml",
    )


def _load_jsonl(path: Path, shown: str) -> Dataset:
    size = path.stat().st_size
    b = _Builder(shown, keep=size <= IN_MEMORY_BYTES)
    digest = hashlib.sha256()
    offset = 0
    loads = _loads
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            digest.update(raw)
            start = offset
            offset += len(raw)
            if b.full:
                b.truncated = True
                continue
            text = raw
            if lineno == 1 and text.startswith(b"\xef\xbb\xbf"):
                text = text[3:]
                start += 3
            if not text.strip():
                continue
            try:
                row = loads(text)
            except _NonFiniteError as exc:
                b.problem(
                    _problem(
                        f"{exc} is not valid JSON",
                        Location(shown, lineno),
                        hint="write numbers as finite decimals, or as strings",
                    )
                )
                continue
            except UnicodeDecodeError:
                b.problem(_problem("line is not valid UTF-8", Location(shown, lineno)))
                continue
            except json.JSONDecodeError as exc:
                b.problem(
                    _problem(
                        f"invalid JSON: {exc.msg}",
                        Location(shown, lineno, exc.colno),
                        hint="each line must be one JSON object",
                    )
                )
                continue
            # strict UTF-8 decoding refuses encoded surrogates, so only a \u escape can make one
            b.add_row(row, lineno, 0, start, escapes=b"\\u" in text)
    return b.finish(path, "jsonl", digest.hexdigest())


class _NonFiniteError(ValueError):
    """NaN or Infinity in a JSON line (Python accepts them, JSON does not)."""


def _reject_constant(name: str) -> Any:
    raise _NonFiniteError(name)


_decode = json.JSONDecoder(parse_constant=_reject_constant).decode


def _loads(raw: bytes) -> Any:
    return _decode(raw.decode("utf-8"))


def _set_path(target: dict[str, Any], dotted: list[str], value: Any) -> None:
    node = target
    for part in dotted[:-1]:
        nxt = node.setdefault(part, {})
        node = nxt
    node[dotted[-1]] = value


def _load_csv(path: Path, shown: str, delimiter: str) -> Dataset:
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError("not valid UTF-8", location=Location(shown, line)) from None
    b = _Builder(shown, keep=True)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("the dataset has no cases", location=Location(shown)) from None
    except csv.Error as exc:
        raise InputError(f"invalid CSV: {exc}", location=Location(shown, 1)) from None
    columns: list[tuple[str, list[str]]] = []
    seen_roots: dict[str, str] = {}
    for name in header:
        col = name.strip()
        root, _, rest = col.partition(".")
        if (
            root not in CASE_KEYS
            or (rest and root not in ("input", "expected", "metadata"))
            or (root == "metadata" and not rest)
        ):
            close = difflib.get_close_matches(col, CASE_KEYS, n=1, cutoff=0.7)
            raise InputError(
                f"unknown column {col!r}",
                location=Location(shown, 1),
                hint=(
                    f"did you mean {close[0]!r}?"
                    if close
                    else "columns: id, input, input.FIELD, expected, expected.FIELD, tags, "
                    "cluster, weight, metadata.FIELD"
                ),
            )
        if root in seen_roots and (not rest or not seen_roots[root] or col == seen_roots[root]):
            raise InputError(
                f"column {col!r} clashes with column {(seen_roots[root] or root)!r}",
                location=Location(shown, 1),
                hint="use either one column or dotted columns for a field, not both",
            )
        seen_roots.setdefault(root, rest and col)
        columns.append((root, rest.split(".") if rest else []))
    if "id" not in seen_roots or "input" not in seen_roots:
        raise InputError(
            "the header needs an 'id' and an 'input' (or input.FIELD) column",
            location=Location(shown, 1),
        )
    previous_end = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            b.problem(_problem(f"invalid CSV: {exc}", Location(shown, reader.line_num)))
            break
        line = previous_end + 1
        previous_end = reader.line_num
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(columns):
            b.problem(
                _problem(
                    f"row has {len(cells)} fields, the header has {len(columns)}",
                    Location(shown, line),
                    hint="quote fields that contain the delimiter",
                )
            )
            continue
        row: dict[str, Any] = {}
        for (root, sub), cell in zip(columns, cells, strict=True):
            if sub:
                _set_path(row.setdefault(root, {}), sub, cell)
            elif root == "tags":
                tags = [t.strip() for t in cell.replace(";", ",").split(",") if t.strip()]
                if tags:
                    row["tags"] = tags
            elif root == "weight":
                if cell.strip():
                    try:
                        row["weight"] = float(cell)
                    except ValueError:
                        row["weight"] = cell
            elif root in ("expected", "cluster"):
                if cell != "":
                    row[root] = cell
            else:
                row[root] = cell
        # cells are decoded with strict UTF-8 and never unescaped: no surrogate can get in
        b.add_row(row, line, escapes=False)
        if b.full:
            b.truncated = True
            break
    return b.finish(path, "csv", sha)


def _load_yaml(path: Path, shown: str) -> Dataset:
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError("not valid UTF-8", location=Location(shown, line)) from None
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        doc = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise InputError(
            (exc.problem or exc.context or "invalid YAML").strip(),
            location=Location(shown, mark.line + 1, mark.column + 1) if mark else Location(shown),
        ) from None
    except (YAMLError, RecursionError) as exc:
        raise InputError(f"invalid YAML: {exc}", location=Location(shown)) from None
    items = doc
    if isinstance(doc, CommentedMap) and set(doc) == {"cases"}:
        items = doc["cases"]
    if not isinstance(items, CommentedSeq):
        raise InputError(
            "a YAML dataset is a list of cases (or a mapping with one key, 'cases')",
            location=Location(shown, 1),
        )
    budget = [MAX_YAML_NODES]
    b = _Builder(shown, keep=True)
    for i, item in enumerate(items):
        try:
            line, col = items.lc.item(i)
            line, col = line + 1, col + 1
        except (KeyError, TypeError, AttributeError):
            line, col = 0, 0
        try:
            row = _plain(item, budget)
        except ValueError as exc:
            b.problem(_problem(str(exc), Location(shown, line, col)))
            continue
        b.add_row(row, line, col)
        if b.full:
            b.truncated = True
            break
    return b.finish(path, "yaml", sha)


def _plain(node: Any, budget: list[int]) -> Any:
    """Round-trip YAML data as plain JSON-like Python values."""
    budget[0] -= 1
    if budget[0] < 0:
        raise ValueError("the document expands to too many values (YAML alias bomb?)")
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if not isinstance(key, str):
                raise ValueError(f"key {key!r} is not a string")
            out[key] = _plain(value, budget)
        return out
    if isinstance(node, list):
        return [_plain(v, budget) for v in node]
    if node is None or isinstance(node, bool):
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        value = float(node)
        if not math.isfinite(value):
            raise ValueError(f"{node} is not a finite number")
        return value
    if isinstance(node, str):
        return str(node)
    if hasattr(node, "isoformat"):
        return str(node.isoformat())
    raise ValueError(f"unsupported YAML value of type {type(node).__name__}")
