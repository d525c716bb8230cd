"""Generated reference docs: ``docs/spec-reference.md`` and ``docs/monday.schema.json``.

``python -m mondaytest.spec.docs --write`` regenerates both from the models;
``--check`` (run by ``make test``) exits 1 when the committed copies have drifted.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from mondaytest.spec.model import MondaySpec

__all__ = ["json_schema", "reference_markdown"]

DOCS = Path(__file__).resolve().parents[3] / "docs"


def json_schema() -> str:
    """The contract's JSON Schema (draft 2020-12), as stable, pretty text."""
    schema = MondaySpec.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://mondaytest.dev/schema/monday.schema.json"
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map {_type_name(args[0])} → {_type_name(args[1])}"
    if tp is type(None):
        return "null"
    if isinstance(tp, type):
        if issubclass(tp, BaseModel):
            return f"[{tp.__name__}](#{tp.__name__.lower()})"
        return {
            "str": "string",
            "int": "integer",
            "bool": "boolean",
            "float": "number",
            "datetime": "datetime",
            "date": "date",
            "Duration": "ISO 8601 duration",
            "Decimal": "decimal",
        }.get(tp.__name__, tp.__name__)
    return str(tp)


def _models(tp: Any, seen: list[type[BaseModel]]) -> None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if tp not in seen:
            seen.append(tp)
            for f in tp.model_fields.values():
                _models(f.annotation, seen)
        return
    for arg in typing.get_args(tp):
        _models(arg, seen)


def _default(f: FieldInfo) -> str:
    if f.is_required():
        return "**required**"
    if f.default_factory is not None:
        try:
            value = f.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "—"
        if isinstance(value, BaseModel):
            return "(defaults)"
        return f"`{json.dumps(value, default=str)}`"
    if f.default is PydanticUndefined or f.default is None:
        return "—"
    return f"`{f.default}`"


def reference_markdown() -> str:
    """The Markdown reference of every contract section, from the models' docstrings."""
    seen: list[type[BaseModel]] = []
    _models(MondaySpec, seen)
    out = [
        "# monday.yaml reference",
        "",
        "Generated from the models by `make docs`; `make test` fails when it is out of date.",
        "Unknown keys are errors. Any section may live in its own file: write",
        "`section: {include: path/to/file.yaml}` (paths relative to the including file;",
        "cycles are refused), or `include: [file.yaml, …]` at the top to merge whole sections.",
        "",
    ]
    for model in seen:
        out += [f"## {model.__name__}", "", (model.__doc__ or "").strip().splitlines()[0], ""]
        out += ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
        for name, f in model.model_fields.items():
            key = f.alias or name
            desc = " ".join((f.description or "").split()).replace("|", "\\|")
            out.append(f"| `{key}` | {_type_name(f.annotation)} | {_default(f)} | {desc} |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Write or check the generated docs."""
    parser = argparse.ArgumentParser(description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    wanted = {
        DOCS / "spec-reference.md": reference_markdown(),
        DOCS / "monday.schema.json": json_schema(),
    }
    stale = []
    for path, text in wanted.items():
        current = path.read_text("utf-8") if path.exists() else None
        if current != text:
            if args.write:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, "utf-8")
                print(f"wrote {path.relative_to(DOCS.parent)}")
            else:
                stale.append(path.relative_to(DOCS.parent))
    if stale:
        print(
            f"out of date: {', '.join(map(str, stale))} — run `make docs` and commit the result",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
