"""``monday init``: scaffold a governed project that validates as it is."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from string import Template

from mondaytest.errors import InputError

__all__ = ["ScaffoldResult", "default_cutover", "scaffold"]

RUNBOOKS = ("provider-outage", "quality-regression", "unsafe-decisions", "ground-truth-slip")


@dataclass
class ScaffoldResult:
    """What ``scaffold`` did to each file (paths relative to the project directory)."""

    created: list[str] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    """Existing files that differ from the template and were left alone (no ``--force``)."""


def default_cutover(now: datetime | None = None) -> datetime:
    """The first Monday 09:00 UTC at least a week from ``now``: the Monday morning test."""
    now = now or datetime.now(UTC)
    day = (now + timedelta(days=7)).replace(hour=9, minute=0, second=0, microsecond=0)
    return day + timedelta(days=(7 - day.weekday()) % 7)


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9_.-]+", "-", name.lower()).strip("-._")
    return slug[:63] or "my-ai-system"


def _template(name: str) -> str:
    return resources.files("mondaytest.spec").joinpath("templates", name).read_text("utf-8")


def _files(name: str, cutover: datetime) -> dict[str, str]:
    values = {
        "name": name,
        "origin": f"monday.local/{name}",
        "cutover": cutover.isoformat(),
        "shift_start": cutover.replace(tzinfo=None).isoformat(),
    }
    files = {
        "monday.yaml": Template(_template("monday.yaml.tmpl")).substitute(values),
        "evals/cases.jsonl": _template("cases.jsonl.tmpl"),
        ".github/workflows/monday.yml": _template("workflows/monday.yml.tmpl"),
    }
    for book in RUNBOOKS:
        files[f"runbooks/{book}.md"] = _template(f"runbooks/{book}.md")
    return files


def scaffold(
    directory: Path,
    *,
    name: str | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> ScaffoldResult:
    """Write the scaffold into ``directory``; never overwrite without ``force``.

    Running it twice changes nothing: identical files are reported unchanged and differing ones
    are kept. ``.gitignore`` gains a ``.monday/`` line if it lacks one.
    """
    if directory.exists() and not directory.is_dir():
        raise InputError(
            f"{directory} is a file, not a directory", hint="pass a directory to scaffold into"
        )
    try:
        return _scaffold(directory, name=name, force=force, now=now)
    except OSError as exc:
        where = exc.filename if exc.filename else directory
        raise InputError(
            f"cannot write {where}: {exc.strerror or exc}",
            hint="pass a directory you can write to",
        ) from None


def _scaffold(
    directory: Path, *, name: str | None, force: bool, now: datetime | None
) -> ScaffoldResult:
    system = _slug(name or directory.resolve().name)
    result = ScaffoldResult()
    for rel, text in _files(system, default_cutover(now)).items():
        target = directory / rel
        if target.exists():
            current = target.read_text("utf-8", errors="replace")
            if rel == "monday.yaml" and not force:
                # The cutover date differs on every run; an existing contract is the user's.
                (result.unchanged if current == text else result.kept).append(rel)
                continue
            if current == text:
                result.unchanged.append(rel)
                continue
            if not force:
                result.kept.append(rel)
                continue
            result.overwritten.append(rel)
        else:
            result.created.append(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, "utf-8")
    ignore = directory / ".gitignore"
    lines = ignore.read_text("utf-8").splitlines() if ignore.exists() else []
    if not any(ln.strip() in (".monday/", ".monday", "/.monday/", "/.monday") for ln in lines):
        existed = ignore.exists()
        block = _template("gitignore.tmpl")
        prefix = "" if not lines or lines[-1] == "" else "\n"
        with ignore.open("a", encoding="utf-8") as fh:
            fh.write(prefix + block if existed else block)
        (result.overwritten if existed else result.created).append(".gitignore")
    else:
        result.unchanged.append(".gitignore")
    return result
