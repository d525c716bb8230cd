"""Writing a report file: the only I/O the report package does."""

from __future__ import annotations

import os
from pathlib import Path

from mondaytest._util.files import write_atomic
from mondaytest.errors import InputError

__all__ = ["append_text", "write_text"]


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` as UTF-8, atomically (a temporary file, then a rename).

    Missing parent directories are created. Raises :class:`~mondaytest.errors.InputError`
    (exit 2) when the file cannot be written (the path is the user's).
    """
    return write_atomic(path, text.encode("utf-8"))


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
