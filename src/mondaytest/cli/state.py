"""Process-wide CLI settings and the consoles every command renders through."""

from __future__ import annotations

import os
import sys
from enum import StrEnum

from rich.console import Console

__all__ = ["DEBUG", "OutputFormat", "console", "err_console", "plain"]

DEBUG = False


class OutputFormat(StrEnum):
    """How a command renders data."""

    text = "text"
    json = "json"


def plain() -> bool:
    """True when output should be plain text: piped, ``CI=true`` or ``NO_COLOR``."""
    return (
        os.environ.get("CI", "").lower() in ("1", "true", "yes")
        or "NO_COLOR" in os.environ
        or not sys.stdout.isatty()
    )


def console() -> Console:
    """The stdout console (plain when piped or in CI)."""
    is_plain = plain()
    return Console(
        no_color=is_plain,
        force_terminal=False if is_plain else None,
        highlight=False,
        emoji=False,  # a case id like :smile: prints as written
        width=None if not is_plain else 200,
    )


def err_console() -> Console:
    """The stderr console for errors and progress."""
    is_plain = plain()
    return Console(
        stderr=True,
        no_color=is_plain,
        highlight=False,
        emoji=False,
        width=200 if is_plain else None,
    )
