"""Running ``git`` quietly: never raises, never prompts; None when git cannot run at all."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

__all__ = ["run_git"]


def run_git(
    directory: Path, *args: str, timeout: float = 30
) -> subprocess.CompletedProcess[str] | None:
    """``git -C directory ARGS`` with output captured; None if git is missing or hangs."""
    exe = shutil.which("git")
    if exe is None:
        return None
    try:
        return subprocess.run(
            [exe, "-C", str(directory), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
