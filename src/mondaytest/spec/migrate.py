"""``monday spec migrate``: upgrade a contract written for an older format version in place.

Each migration maps version N to N+1 on the round-trip YAML tree, so comments and layout are
kept. Version 1 is the first format; the table grows when the format changes.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mondaytest.errors import ConfigError, Location
from mondaytest.spec.model import CURRENT_VERSION
from mondaytest.spec.yamlfile import read_yaml, round_trip_yaml

__all__ = ["MIGRATIONS", "MigrationResult", "migrate_file"]

MIGRATIONS: dict[int, Callable[[Any], None]] = {}
"""``{from_version: function}``; each function edits the round-trip tree to the next version."""


@dataclass(frozen=True)
class MigrationResult:
    """What a migration did."""

    path: Path
    from_version: int
    to_version: int

    @property
    def changed(self) -> bool:
        """True when the file was rewritten."""
        return self.from_version != self.to_version


def migrate_file(path: Path, *, dry_run: bool = False) -> tuple[MigrationResult, str]:
    """Upgrade ``path`` to :data:`CURRENT_VERSION`; return the result and the new text."""
    shown = str(path)
    tree = read_yaml(path, shown)
    version = tree.get("version") if hasattr(tree, "get") else None
    if not isinstance(version, int) or isinstance(version, bool):
        raise ConfigError(
            "missing or non-integer 'version'",
            location=Location(shown, 1, 1),
            field="version",
            hint="add `version: 1` at the top",
        )
    if version > CURRENT_VERSION:
        raise ConfigError(
            f"contract version {version} is newer than this Monday ({CURRENT_VERSION})",
            location=Location(shown, 1, 1),
            field="version",
            hint="upgrade Monday",
        )
    start = version
    while version < CURRENT_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise ConfigError(
                f"no migration from version {version}",
                location=Location(shown, 1, 1),
                field="version",
                hint="this version was never released; set `version: 1`",
            )
        step(tree)
        version += 1
        tree["version"] = version
    buf = io.StringIO()
    round_trip_yaml().dump(tree, buf)
    text = buf.getvalue()
    if version != start and not dry_run:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, "utf-8")
        tmp.replace(path)
    return MigrationResult(path, start, version), text
