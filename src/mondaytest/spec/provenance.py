"""Git provenance of a contract: commit and dirty flag of the repository that holds it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mondaytest._util.git import run_git

__all__ = ["GitInfo", "git_info"]


@dataclass(frozen=True)
class GitInfo:
    """Where in version control a file stands; ``commit`` is None outside a repository."""

    commit: str | None
    dirty: bool
    branch: str | None = None


def _git(directory: Path, *args: str) -> str | None:
    done = run_git(directory, *args, timeout=10)
    return done.stdout.strip() if done is not None and done.returncode == 0 else None


def git_info(directory: Path) -> GitInfo:
    """Commit, dirty flag and branch of the git repository containing ``directory``."""
    commit = _git(directory, "rev-parse", "--verify", "-q", "HEAD")
    if commit is None:
        inside = _git(directory, "rev-parse", "--is-inside-work-tree") == "true"
        return GitInfo(commit=None, dirty=inside)
    status = _git(directory, "status", "--porcelain", "--untracked-files=normal", "--", ".")
    branch = _git(directory, "rev-parse", "--abbrev-ref", "HEAD")
    return GitInfo(commit=commit, dirty=bool(status), branch=branch)
