"""Writing a report file: the only I/O the report package does."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from mondaytest.errors import InputError

__all__ = ["append_text", "write_text"]


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` as UTF-8, atomically (a temporary file, then a rename).

    Missing parent directories are created. Raises :class:`~mondaytest.errors.InputError`
    (exit 2) when the file cannot be written (the path is the user's).
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
            Path(tmp).chmod(0o644)
            Path(tmp).replace(target)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(tmp).unlink()
            raise
    except OSError as exc:
        raise InputError(
            f"cannot write {target}: {exc.strerror or exc}",
            hint="check the path and that its directory is writable",
        ) from None
    return target


def append_text(path: str | os.PathLike[str], text: str) -> Path:
    """Append ``text`` to ``path`` (UTF-8), creating the file if needed."""
    target = Path(path)
    try:
        with target.open("a", encoding="utf-8", newline="") as fh:
            fh.write(text)
    except OSError as exc:
        raise InputError(
            f"cannot write {target}: {exc.strerror or exc}",
            hint="check the path and that it is writable",
        ) from None
    return target
