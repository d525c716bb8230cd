"""`monday spec` commands and `monday init`."""

from __future__ import annotations

import typer

__all__ = ["app", "register_top_level"]

app = typer.Typer(help="The monday.yaml contract.", no_args_is_help=True)


def register_top_level(root: typer.Typer) -> None:
    """Register top-level commands that belong to this group (``monday init``)."""
