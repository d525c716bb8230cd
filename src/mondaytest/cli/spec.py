"""``monday spec`` commands (validate, show, schema, migrate) and ``monday init``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from mondaytest.cli import state
from mondaytest.cli.options import FormatOpt
from mondaytest.cli.state import OutputFormat
from mondaytest.spec import git_info, load_spec
from mondaytest.spec.digest import resolved_data
from mondaytest.spec.docs import json_schema
from mondaytest.spec.loader import find_spec
from mondaytest.spec.migrate import migrate_file
from mondaytest.spec.scaffold import scaffold

__all__ = ["app", "register_top_level"]

app = typer.Typer(
    help="The monday.yaml contract: validate, show, schema, migrate.", no_args_is_help=True
)

SpecArg = Annotated[
    Path | None,
    typer.Argument(
        help="Contract file or its directory (default: ./monday.yaml or a parent's).",
        show_default=False,
    ),
]


@app.command("validate")
def validate(path: SpecArg = None, fmt: FormatOpt = OutputFormat.text) -> None:
    """Check the contract; print every problem as FILE:LINE:COL: field: what — how to fix."""
    loaded = load_spec(path)
    if fmt is OutputFormat.json:
        typer.echo(
            json.dumps(
                {
                    "valid": True,
                    "path": str(loaded.path),
                    "digest": loaded.digest,
                    "files": [str(f) for f in loaded.files],
                }
            )
        )
        return
    state.console().print(
        f"[green]✓[/] {escape(loaded.path.name)} is valid "
        f"({len(loaded.files)} file{'s' if len(loaded.files) != 1 else ''}, "
        f"{escape(loaded.digest[:19])}…)"
    )


def _provenance(path: Path, digest: str) -> dict[str, Any]:
    git = git_info(path.parent)
    return {"path": str(path), "digest": digest, "git_commit": git.commit, "git_dirty": git.dirty}


@app.command("show")
def show(path: SpecArg = None, fmt: FormatOpt = OutputFormat.text) -> None:
    """Print the resolved contract (defaults filled in) with its provenance and digest."""
    loaded = load_spec(path)
    data = resolved_data(loaded.model)
    prov = _provenance(loaded.path, loaded.digest)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"provenance": prov, "spec": data}, indent=2, sort_keys=True))
        return
    out = state.console()
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if state.plain():
        out.print(text, markup=False)
    else:
        out.print(Syntax(text, "json", word_wrap=True))
    commit = prov["git_commit"] or "not in a git repository"
    dirty = " (uncommitted changes)" if prov["git_dirty"] else ""
    lines = f"contract  {prov['path']}\ndigest    {prov['digest']}\ngit       {commit}{dirty}"
    if state.plain():
        out.print(lines, markup=False)
    else:
        # a Panel renders a str as markup: the path (and commit) are text, printed as they are
        out.print(Panel(Text(lines), title="provenance", expand=False))


@app.command("schema")
def schema(
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to a file.")] = None,
) -> None:
    """Print the contract's JSON Schema (for editors and other tools)."""
    text = json_schema()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, "utf-8")
        state.err_console().print(f"wrote {output}", markup=False)


@app.command("migrate")
def migrate(
    path: SpecArg = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print, do not write.")] = False,
) -> None:
    """Upgrade a contract to the current format version in place, keeping its comments."""
    spec_path = find_spec(path)
    result, text = migrate_file(spec_path, dry_run=dry_run)
    if not result.changed:
        state.console().print(
            f"{spec_path.name} is already at version {result.to_version}", markup=False
        )
    elif dry_run:
        typer.echo(text, nl=False)
    else:
        state.console().print(
            f"migrated {spec_path} from version {result.from_version} to {result.to_version}",
            markup=False,
        )


def init(
    directory: Annotated[Path, typer.Argument(help="Project directory.")] = Path(),
    name: Annotated[
        str | None, typer.Option(help="System name (default: the folder name).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite differing files.")] = False,
) -> None:
    """Scaffold a governed project: monday.yaml, runbooks, an eval dataset, a CI workflow."""
    result = scaffold(directory, name=name, force=force)
    out = state.console()
    for label, files, style in (
        ("created", result.created, "green"),
        ("overwrote", result.overwritten, "yellow"),
        ("unchanged", result.unchanged, "dim"),
        ("kept (differs; --force to overwrite)", result.kept, "yellow"),
    ):
        for f in files:
            out.print(
                f"[{style}]{label:>9}[/] {escape(str(f))}"
                if len(label) < 10
                else f"[{style}]kept[/]      {escape(str(f))} (differs from the template; "
                "--force overwrites)"
            )
    spec = directory / "monday.yaml"
    load_spec(spec)
    out.print(
        f"[green]✓[/] {escape(str(spec))} validates. Next: edit it, then `monday audit keygen`."
    )


def register_top_level(root: typer.Typer) -> None:
    """Register ``monday init`` on the root app."""
    root.command("init")(init)
