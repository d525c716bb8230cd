"""Value types shared by the contract's sections: ids, ISO 8601 durations, secret references."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any

from dateutil.relativedelta import relativedelta
from pydantic import AfterValidator, BeforeValidator, Field, GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

__all__ = ["Duration", "Id", "SecretRef", "parse_duration"]

_ID_RE = r"^[a-z0-9][a-z0-9_.-]{0,62}$"

Id = Annotated[
    str,
    Field(pattern=_ID_RE, description="Lower-case id: letters, digits, '-', '_', '.'; ≤ 63."),
]
"""A lower-case identifier used to refer to things elsewhere in the contract."""

_DURATION_RE = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


def parse_duration(text: str) -> relativedelta:
    """Parse an ISO 8601 duration (``P90D``, ``PT5M``, ``P7Y``) into a relativedelta.

    Only whole units are accepted (no fractions), which is all a contract needs; dateutil does
    the calendar arithmetic (years and months have no fixed length).
    """
    m = _DURATION_RE.match(text)
    if m is None:
        raise ValueError(
            f"{text!r} is not an ISO 8601 duration — write e.g. P90D, PT15M, P1W or P7Y"
        )
    parts = {k: int(v) for k, v in m.groupdict().items() if v is not None}
    return relativedelta(
        years=parts.get("years", 0),
        months=parts.get("months", 0),
        weeks=parts.get("weeks", 0),
        days=parts.get("days", 0),
        hours=parts.get("hours", 0),
        minutes=parts.get("minutes", 0),
        seconds=parts.get("seconds", 0),
    )


class Duration(str):
    """An ISO 8601 duration kept as written (``P90D``), with calendar-aware arithmetic."""

    __slots__ = ()

    @property
    def delta(self) -> relativedelta:
        """The duration as a relativedelta."""
        return parse_duration(str(self))

    def after(self, start: datetime) -> datetime:
        """The instant this duration after ``start``."""
        result: datetime = start + self.delta
        return result

    def approx_timedelta(self) -> timedelta:
        """The duration measured from the Unix epoch (exact for D/H/M/S; years use calendars)."""
        epoch = datetime(1970, 1, 1)
        return self.after(epoch) - epoch

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        def validate(value: str) -> Duration:
            parse_duration(value)
            return cls(value)

        return core_schema.no_info_after_validator_function(
            validate,
            core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: CoreSchema, handler: Any) -> Any:
        out = handler(schema)
        out.update({"format": "duration", "examples": ["P90D", "PT15M"]})
        return out


_SECRET_RE = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$")


def _check_secret(value: str) -> str:
    if "PRIVATE+KEY+" in value:  # a key pasted in (never repeated in the message)
        raise ValueError(
            "this holds a private key: secrets are never written into monday.yaml — save the "
            "key to a file and write file:PATH, or put it in an environment variable (env:VAR)"
        )
    if not _SECRET_RE.match(value):
        raise ValueError(
            "secrets are never written into monday.yaml — refer to them as env:VAR_NAME or "
            "file:path/to/secret"
        )
    return value


def _reject_non_str(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("expected a secret reference such as env:VAR_NAME")
    return value


SecretRef = Annotated[str, BeforeValidator(_reject_non_str), AfterValidator(_check_secret)]
"""A reference to a secret: ``env:VAR`` or ``file:PATH``; never the secret itself."""
