"""One error base for Monday: a message a person can act on, a hint, a place, an exit code.

Every error a user can cause derives from :class:`MondayError`. The CLI prints ``str(error)``
(never a traceback unless ``--debug``) and exits with :attr:`MondayError.exit_code`, following
the table in ARCHITECTURE.md: 1 the thing checked is bad, 2 the input is wrong, 3 Monday could
not do the work.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CheckFailed",
    "ConfigError",
    "HarnessError",
    "InputError",
    "Location",
    "MondayError",
    "StoreError",
]


@dataclass(frozen=True)
class Location:
    """Where in a file something is wrong: 1-based line and column (0 = unknown)."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line and self.col:
            return f"{self.file}:{self.line}:{self.col}"
        if self.line:
            return f"{self.file}:{self.line}"
        return self.file


class MondayError(Exception):
    """Base of every error Monday reports to a person.

    ``message`` says what is wrong, ``hint`` how to fix it, ``location`` where, and ``field``
    the dotted path of the offending field (when the error is about a document).
    """

    exit_code: int = 3

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        location: Location | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.location = location
        self.field = field

    def __str__(self) -> str:
        parts: list[str] = []
        if self.location is not None:
            parts.append(f"{self.location}: ")
        if self.field:
            parts.append(f"{self.field}: ")
        parts.append(self.message)
        if self.hint:
            parts.append(f" — {self.hint}")
        return "".join(parts)


class InputError(MondayError):
    """The user's input is wrong: usage, a file that cannot be parsed, a bad dataset (exit 2)."""

    exit_code = 2


class ConfigError(InputError):
    """The contract (``monday.yaml`` and its includes) is invalid (exit 2)."""


class CheckFailed(MondayError):  # noqa: N818 (reads as a verdict)
    """What was checked does not hold: gate failed, tampering found, below the level (exit 1)."""

    exit_code = 1


class HarnessError(MondayError):
    """Monday could not do the work: internal or harness failure (exit 3)."""

    exit_code = 3


class StoreError(HarnessError):
    """The store is unreachable, full, or refused the write (exit 3)."""
