"""The ``owners`` section: the original team (paged in the handoff window) and operations."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from mondaytest.spec.base import SpecModel
from mondaytest.spec.types import Id

__all__ = ["Contacts", "OwnersSection", "Person"]

_VKEY_RE = re.compile(r"^[^+\s]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$")


class Contacts(SpecModel):
    """How to reach a person; at least one channel is required."""

    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    """E-mail address."""
    pagerduty: str | None = None
    """PagerDuty user id (e.g. ``PMAYA01``)."""
    slack: str | None = None
    """Slack handle or member id (e.g. ``@tom``)."""
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 ()-]{5,20}$")
    """Phone number in international form."""

    @model_validator(mode="after")
    def _at_least_one(self) -> Contacts:
        if not any((self.email, self.pagerduty, self.slack, self.phone)):
            raise ValueError("give at least one contact: email, pagerduty, slack or phone")
        return self


class Person(SpecModel):
    """An engineer or operator named in the contract."""

    id: Id
    """Id used to refer to this person in rotations, approvals and waivers."""
    name: str = Field(min_length=1)
    """Full name."""
    contacts: Contacts
    """How to reach this person."""
    key: str | None = None
    """Optional Ed25519 verifier key (C2SP note vkey) with which this person signs waivers and
    approvals."""

    @field_validator("key")
    @classmethod
    def _vkey_shape(cls, value: str | None) -> str | None:
        if value is not None and not _VKEY_RE.match(value):
            raise ValueError(
                "not a verifier key: expected NAME+KEYID+BASE64 as printed by `monday audit keygen`"
            )
        return value


class OwnersSection(SpecModel):
    """Who wrote the system and who runs it."""

    original_team: list[Person] = Field(min_length=1)
    """The engineers who wrote the system: paged for production incidents until the handoff
    window closes."""
    operations: list[Person] = Field(min_length=1)
    """The operations team that runs the system after cutover."""

    def everyone(self) -> list[Person]:
        """All people, original team first."""
        return [*self.original_team, *self.operations]
