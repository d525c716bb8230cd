"""Files: written atomically (a temporary file beside it, then a rename); read with a bound."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from mondaytest.errors import InputError

__all__ = ["read_at_most", "write_atomic"]


def write_atomic(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    hint: str = "check the path and that its directory is writable",
) -> Path:
    """Write ``data`` to ``path`` so a reader sees the old file or the new one, never a part.

    Missing parent directories are created; the file gets mode 0644. Raises
    :class:`~mondaytest.errors.InputError` (exit 2, ``cannot write PATH: reason`` with ``hint``)
    when it cannot be written: the path is the user's.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            Path(tmp).chmod(0o644)
            Path(tmp).replace(target)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(tmp).unlink()
            raise
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror or exc}", hint=hint) from None
    return target


def read_at_most(path: str | os.PathLike[str], limit: int) -> bytes:
    """At most ``limit + 1`` bytes of ``path``: enough for a parser with a ``limit`` to say the
    file is too large, without reading a huge (or endless, like ``/dev/zero``) one whole.
    Raises :class:`OSError` like :meth:`Path.read_bytes`."""
    with Path(path).open("rb") as fh:
        return fh.read(limit + 1)
