"""Options shared by several command groups, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mondaytest.cli.state import OutputFormat

__all__ = ["FormatOpt", "SpecOpt", "StoreOpt"]

SpecOpt = Annotated[
    Path | None,
    typer.Option(
        "--spec", help="Contract file (default: ./monday.yaml or a parent's).", show_default=False
    ),
]
"""``--spec PATH``: the contract to use."""

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Audit store URL (overrides audit.store and MONDAY_DATABASE_URL).",
        show_default=False,
    ),
]
"""``--store URL``: the audit store, overriding the contract and the environment."""

FormatOpt = Annotated[OutputFormat, typer.Option("--format", help="Output format.")]
"""``--format text|json``."""
