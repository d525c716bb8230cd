"""Load ``monday.yaml``: includes, validation, cross-checks, and errors that name FILE:LINE:COL."""

from __future__ import annotations

import difflib
import os
import types
import typing
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from mondaytest.errors import ConfigError, Location
from mondaytest.spec.model import CURRENT_VERSION, MondaySpec
from mondaytest.spec.references import check_references
from mondaytest.spec.yamlfile import DocPath, Positions, read_yaml, to_plain

__all__ = ["DEFAULT_SPEC", "LoadedSpec", "SpecErrors", "find_spec", "load_document", "load_spec"]

DEFAULT_SPEC = "monday.yaml"
MAX_INCLUDE_DEPTH = 16


class SpecErrors(ConfigError):  # noqa: N818 (a list of ConfigErrors)
    """Every problem found in a contract, each with its place; exit code 2."""

    def __init__(self, problems: list[ConfigError]) -> None:
        first = problems[0]
        super().__init__(first.message, hint=first.hint, location=first.location, field=first.field)
        self.problems = problems

    def __str__(self) -> str:
        lines = [ConfigError.__str__(p) for p in self.problems]
        if len(lines) > 1:
            lines.append(f"{len(lines)} problems found")
        return "\n".join(lines)


@dataclass
class LoadedSpec:
    """A validated contract with where it came from."""

    model: MondaySpec
    """The validated contract."""
    path: Path
    """The contract file."""
    files: list[Path] = field(default_factory=list)
    """Every file read: the contract first, then its includes."""
    positions: Positions = field(default_factory=dict)
    """Where each document path was written."""

    @property
    def root_dir(self) -> Path:
        """The directory of the contract: relative paths in it resolve from here."""
        return self.path.parent

    @cached_property
    def digest(self) -> str:
        """``sha256:…`` of the canonical JSON of the resolved contract (defaults filled in)."""
        from mondaytest.spec.digest import spec_digest

        return spec_digest(self.model)

    def resolve(self, relative: str) -> Path:
        """A path written in the contract, resolved against its directory."""
        return (self.root_dir / relative).resolve()

    def location(self, path: DocPath) -> Location:
        """The best known position of a document path (its nearest written ancestor)."""
        return _nearest(self.positions, path, str(self.path))


def find_spec(path: str | os.PathLike[str] | None = None) -> Path:
    """The contract to use: ``path`` if given, else ``./monday.yaml`` or the nearest parent's."""
    if path is not None:
        p = Path(path)
        return p / DEFAULT_SPEC if p.is_dir() else p
    here = Path.cwd()
    for directory in (here, *here.parents):
        candidate = directory / DEFAULT_SPEC
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"no {DEFAULT_SPEC} here or in any parent directory",
        hint="run `monday init` to create one, or pass the path with --spec",
    )


def _shown(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def load_document(path: Path) -> tuple[dict[str, Any], Positions, list[Path]]:
    """Read a contract and its includes into plain data with positions (no validation)."""
    path = path.resolve() if path.exists() else path
    positions: Positions = {}
    files: list[Path] = [path]
    root_dir = path.parent

    def load_file(file: Path, prefix: DocPath, stack: tuple[Path, ...]) -> Any:
        shown = _shown(file)
        raw = read_yaml(file, shown)
        if prefix == ():
            positions[()] = Location(shown, 1, 1)

        def transform(mapping: dict[str, Any], at: DocPath, loc: Location) -> Any:
            if "include" not in mapping or (at == () and file == path):
                return mapping
            if set(mapping) != {"include"}:
                extra = sorted(set(mapping) - {"include"})
                raise ConfigError(
                    f"'include' must stand alone, found {', '.join(extra)} beside it",
                    location=positions.get((*at, extra[0]), loc),
                    field=_dotted(at) or None,
                    hint="move the other keys into the included file",
                )
            target = mapping["include"]
            inc_loc = positions.get((*at, "include"), loc)
            if not isinstance(target, str) or not target:
                raise ConfigError(
                    "include needs a file path",
                    location=inc_loc,
                    field=_dotted(at) or None,
                    hint="e.g. include: ops/oncall.yaml",
                )
            if Path(target).is_absolute():
                raise ConfigError(
                    "include paths must be relative",
                    location=inc_loc,
                    field=_dotted(at) or None,
                    hint="write the path relative to the including file",
                )
            resolved = (file.parent / target).resolve()
            if not resolved.is_relative_to(root_dir):
                raise ConfigError(
                    f"include {target!r} points outside the project",
                    location=inc_loc,
                    field=_dotted(at) or None,
                    hint="keep included files next to monday.yaml so they are versioned with it",
                )
            if resolved in stack:
                chain = " -> ".join(_shown(p) for p in (*stack, resolved))
                raise ConfigError(
                    f"include cycle: {chain}",
                    location=inc_loc,
                    field=_dotted(at) or None,
                    hint="remove one of the includes in the cycle",
                )
            if len(stack) >= MAX_INCLUDE_DEPTH:
                raise ConfigError(
                    "includes nest too deeply",
                    location=inc_loc,
                    hint=f"at most {MAX_INCLUDE_DEPTH} levels",
                )
            if not resolved.is_file():
                raise ConfigError(
                    f"included file {target!r} does not exist",
                    location=inc_loc,
                    field=_dotted(at) or None,
                    hint=f"create {_shown(resolved)} or fix the path",
                )
            files.append(resolved)
            positions[at] = inc_loc
            return load_file(resolved, at, (*stack, resolved))

        return to_plain(raw, shown, positions, prefix, transform=transform)

    data = load_file(path, (), (path,))
    if not isinstance(data, dict):
        raise ConfigError(
            f"the contract must be a mapping of sections, found {type(data).__name__}",
            location=Location(_shown(path), 1, 1),
            hint="start with `version: 1` and `system:`; see `monday init`",
        )
    if "include" in data:
        data = _merge_top_includes(data, path, positions, files)
    return data, positions, files


def _merge_top_includes(
    data: dict[str, Any], path: Path, positions: Positions, files: list[Path]
) -> dict[str, Any]:
    """Top-level ``include: [a.yaml, …]`` merges whole sections from other files."""
    inc = data.pop("include")
    loc = positions.get(("include",), Location(_shown(path)))
    targets = [inc] if isinstance(inc, str) else inc
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise ConfigError(
            "include must be a path or a list of paths",
            location=loc,
            field="include",
            hint="e.g. include: [ops/oncall.yaml]",
        )
    for t in targets:
        sub_data, sub_pos, sub_files = load_document(path.parent / t)
        if not Path(path.parent / t).resolve().is_relative_to(path.parent.resolve()):
            raise ConfigError(
                f"include {t!r} points outside the project",
                location=loc,
                field="include",
                hint="keep included files next to monday.yaml",
            )
        if path.resolve() in [f.resolve() for f in sub_files]:
            raise ConfigError(
                f"include cycle: {_shown(path)} -> {t} -> {_shown(path)}",
                location=loc,
                field="include",
                hint="remove one of the includes in the cycle",
            )
        for key, value in sub_data.items():
            if key in data:
                raise ConfigError(
                    f"section {key!r} is defined both here and in included {t!r}",
                    location=sub_pos.get((key,), loc),
                    field=key,
                    hint="keep each section in one file",
                )
            data[key] = value
        positions.update({k: v for k, v in sub_pos.items() if k})
        files.extend(sub_files)
    return data


def load_spec(path: str | os.PathLike[str] | None = None) -> LoadedSpec:
    """Load, validate and cross-check a contract.

    Raises :class:`SpecErrors` listing every problem, each with FILE:LINE:COL.
    """
    spec_path = find_spec(path)
    data, positions, files = load_document(spec_path)
    shown = _shown(spec_path)
    version = data.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > CURRENT_VERSION:
        raise ConfigError(
            f"contract version {version} is newer than this Monday understands ({CURRENT_VERSION})",
            location=positions.get(("version",), Location(shown)),
            field="version",
            hint="upgrade Monday",
        )
    if isinstance(version, int) and not isinstance(version, bool) and version < CURRENT_VERSION:
        raise ConfigError(
            f"contract version {version} is older than {CURRENT_VERSION}",
            location=positions.get(("version",), Location(shown)),
            field="version",
            hint="run `monday spec migrate` to upgrade it",
        )
    try:
        model = MondaySpec.model_validate(data)
    except ValidationError as exc:
        raise SpecErrors(_from_validation(exc, data, positions, shown)) from None
    loaded = LoadedSpec(model=model, path=spec_path.resolve(), files=files, positions=positions)
    problems = check_references(model, loaded.root_dir)
    if problems:
        raise SpecErrors(
            [
                ConfigError(
                    p.message,
                    hint=p.hint,
                    field=_dotted(p.path),
                    location=_nearest(positions, p.path, shown),
                )
                for p in problems
            ]
        )
    return loaded


def _dotted(path: DocPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _nearest(positions: Positions, path: DocPath, shown: str) -> Location:
    for n in range(len(path), -1, -1):
        loc = positions.get(path[:n])
        if loc is not None:
            return loc
    return Location(shown, 1, 1)


def _data_path(loc: tuple[int | str, ...], data: Any) -> DocPath:
    """Map a pydantic error location onto the document (dropping union tags and the like)."""
    out: list[str | int] = []
    node = data
    for n, part in enumerate(loc):
        if (isinstance(node, dict) and isinstance(part, str) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        ):
            out.append(part)
            node = node[part]  # type: ignore[index]
        elif isinstance(node, dict) and isinstance(part, str) and n == len(loc) - 1:
            out.append(part)  # a missing key: keep it for the message
            node = None
        # otherwise: a union tag or validator name; skip
    return tuple(out)


def _unwrap(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(tp) for m in _unwrap(a)]
    return [tp]


def _fields_at(path: DocPath) -> list[str]:
    """Names allowed at ``path`` (for "did you mean"), walking the model types."""
    current: list[Any] = [MondaySpec]
    for part in path:
        nxt: list[Any] = []
        for tp in current:
            for t in _unwrap(tp):
                origin = typing.get_origin(t)
                if isinstance(t, type) and issubclass(t, BaseModel) and isinstance(part, str):
                    for name, f in t.model_fields.items():
                        if part in (name, f.alias):
                            nxt.append(f.annotation)
                elif origin is list and isinstance(part, int):
                    nxt.append(typing.get_args(t)[0])
                elif origin is dict:
                    nxt.append(typing.get_args(t)[1])
        current = nxt
    names: set[str] = set()
    for tp in current:
        for t in _unwrap(tp):
            if isinstance(t, type) and issubclass(t, BaseModel):
                names.update(f.alias or n for n, f in t.model_fields.items())
    return sorted(names)


_HINTS = {
    "literal_error": "use one of the values listed",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
    "int_type": "write a whole number",
    "int_parsing": "write a whole number",
    "float_parsing": "write a number",
    "string_type": "write a string (quote it if it looks like a number or date)",
    "string_pattern_mismatch": "see docs/spec-reference.md for the expected form",
    "string_too_short": "it may not be empty",
    "too_short": "add at least the required number of entries",
    "list_type": "write a list, e.g. [a, b] or one '- item' per line",
    "dict_type": "write a mapping of key: value pairs",
    "model_type": "write a mapping of key: value pairs",
    "greater_than_equal": "use a larger value",
    "less_than_equal": "use a smaller value",
    "union_tag_invalid": "use one of the kinds listed",
}


def _from_validation(
    exc: ValidationError, data: dict[str, Any], positions: Positions, shown: str
) -> list[ConfigError]:
    out: list[ConfigError] = []
    seen: set[tuple[DocPath, str]] = set()
    for err in exc.errors(include_url=False):
        path = _data_path(tuple(err["loc"]), data)
        kind = err["type"]
        msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        hint: str | None = None
        if kind == "extra_forbidden" and path:
            key = str(path[-1])
            allowed = _fields_at(path[:-1])
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.75)
            msg = f"unknown key {key!r}"
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else (f"allowed keys: {', '.join(allowed)}" if allowed else "remove it")
            )
            loc = _nearest(positions, path, shown)
        elif kind == "missing" and path:
            msg = f"missing required field {str(path[-1])!r}"
            hint = "add it (see docs/spec-reference.md)"
            loc = _nearest(positions, path[:-1], shown)
        else:
            loc = _nearest(positions, path, shown)
            hint = _HINTS.get(kind)
            if "datetime" in kind or kind == "timezone_aware":
                hint = "write ISO 8601 with a time zone, e.g. 2026-12-07T09:00:00+00:00"
        if (path, msg) in seen:
            continue
        seen.add((path, msg))
        out.append(ConfigError(msg, hint=hint, field=_dotted(path) or None, location=loc))
    out.sort(
        key=lambda e: (e.location.line if e.location else 0, e.location.col if e.location else 0)
    )
    return out
