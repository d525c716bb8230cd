"""The ``oncall`` section: rotations, overrides, escalation policies, routes and pagers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from mondaytest.spec.base import SpecModel
from mondaytest.spec.types import Duration, Id, SecretRef

__all__ = [
    "EmailPager",
    "EscalationLevel",
    "EscalationPolicy",
    "OncallSection",
    "Override",
    "PagerDutyPager",
    "PagerSpec",
    "Rotation",
    "Route",
    "Shift",
    "SlackPager",
    "WebhookPager",
]


class Shift(SpecModel):
    """When the first shift starts (local time in ``oncall.timezone``) and how long each lasts."""

    start: datetime
    """Start of the first shift, local wall-clock time in ``oncall.timezone``."""
    length: Duration
    """Length of one shift (ISO 8601, e.g. ``P7D``)."""


class Rotation(SpecModel):
    """A rotation: members take shifts in order."""

    members: list[Id] = Field(min_length=1)
    """Person ids in shift order."""
    shift: Shift
    """Shift start and length."""


class Override(SpecModel):
    """A temporary replacement on a rotation (each one is a state change in the log)."""

    rotation: Id
    """Rotation this override applies to."""
    who: Id
    """Person id on call instead during the interval."""
    start: datetime = Field(alias="from")
    """Start, local time in ``oncall.timezone``."""
    end: datetime = Field(alias="to")
    """End (exclusive), local time in ``oncall.timezone``."""
    reason: str = Field(min_length=1)
    """Why."""


class EscalationLevel(SpecModel):
    """One level of an escalation policy."""

    after: Duration
    """Delay after the incident opens (or the previous loop starts) before this level is paged."""
    notify: list[str] = Field(min_length=1)
    """Targets: ``rotation:NAME`` or ``person:ID``."""

    @field_validator("notify")
    @classmethod
    def _targets(cls, value: list[str]) -> list[str]:
        for target in value:
            kind, _, name = target.partition(":")
            if kind not in ("rotation", "person") or not name:
                raise ValueError(f"notify target {target!r} must be rotation:NAME or person:ID")
        return value


class EscalationPolicy(SpecModel):
    """Levels paged in turn until someone acknowledges."""

    levels: list[EscalationLevel] = Field(min_length=1)
    """Levels in order."""
    loops: int = Field(default=1, ge=1, le=10)
    """How many times the whole policy repeats before it gives up."""


class Route(SpecModel):
    """Sends matching alerts to an escalation policy; the first matching route wins."""

    match: dict[str, str] = Field(default_factory=dict)
    """Label equality matches, e.g. ``{failure_mode: provider-outage}``; empty matches all."""
    policy: Id
    """Escalation policy name."""


class PagerDutyPager(SpecModel):
    """PagerDuty Events API v2."""

    kind: Literal["pagerduty"]
    """Pager kind."""
    routing_key: SecretRef
    """Integration routing key, as a secret reference (``env:PD_ROUTING_KEY``)."""


class SlackPager(SpecModel):
    """Slack incoming webhook."""

    kind: Literal["slack"]
    """Pager kind."""
    webhook: SecretRef
    """Webhook URL, as a secret reference."""


class WebhookPager(SpecModel):
    """Generic JSON webhook."""

    kind: Literal["webhook"]
    """Pager kind."""
    url: str = Field(pattern=r"^https?://")
    """Endpoint URL."""
    secret: SecretRef | None = None
    """HMAC secret used to sign the body, as a secret reference."""


class EmailPager(SpecModel):
    """E-mail through an SMTP relay."""

    kind: Literal["email"]
    """Pager kind."""
    smtp: str = Field(pattern=r"^smtps?://")
    """SMTP relay URL (``smtp://host:port``)."""
    sender: str = Field(alias="from")
    """Sender address."""


PagerSpec = Annotated[
    PagerDutyPager | SlackPager | WebhookPager | EmailPager, Field(discriminator="kind")
]


class OncallSection(SpecModel):
    """Who is on call and how they are paged (extended by the on-call issue)."""

    timezone: str = "UTC"
    """IANA time zone in which shifts and overrides are written, e.g. ``Europe/London``."""
    rotations: dict[Id, Rotation] = Field(default_factory=dict)
    """Rotations keyed by name (``primary``, ``backup``, …)."""
    overrides: list[Override] = Field(default_factory=list)
    """Temporary replacements."""
    escalation: dict[Id, EscalationPolicy] = Field(default_factory=dict)
    """Escalation policies keyed by name. Until cutover + handoff window, the original team is
    added as a last level automatically."""
    routes: list[Route] = Field(default_factory=list)
    """Alert routes, first match wins."""
    pagers: list[PagerSpec] = Field(default_factory=list)
    """Where pages are delivered."""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(
                f"unknown time zone {value!r} — use an IANA name such as Europe/London or UTC"
            ) from None
        return value
