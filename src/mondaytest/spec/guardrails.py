"""The ``guardrails`` section: redaction and blocking steps that cannot be relaxed silently."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from mondaytest.spec.base import SpecModel
from mondaytest.spec.types import Id

__all__ = ["GuardrailSpec", "Waiver"]


class Waiver(SpecModel):
    """A signed, expiring exception to a guardrail; each one is a state change in the log."""

    reason: str = Field(min_length=1)
    """Why the guardrail is relaxed."""
    approver: Id
    """Id of the person (from ``owners``) who approved it."""
    expires: date
    """Last day the waiver is in force (at most 30 days after it is granted)."""
    signature: str | None = None
    """The approver's signature over the waiver (base64), checked against their key."""


class GuardrailSpec(SpecModel):
    """One guardrail applied to decisions (extended by the guardrails issue)."""

    id: Id
    """Id referred to by decisions."""
    kind: Literal["redact", "block"] = "redact"
    """``redact`` replaces personal data; ``block`` refuses the decision."""
    entities: list[str] = Field(default_factory=list)
    """Entity types the guardrail looks for (EMAIL, PHONE, PAYMENT_CARD, IBAN, …)."""
    operator: Literal["placeholder", "mask", "hmac", "pseudonym"] = "placeholder"
    """How a found entity is replaced."""
    on_error: Literal["block", "allow"] = "block"
    """What happens when the guardrail itself fails: ``block`` fails closed."""
    waivers: list[Waiver] = Field(default_factory=list)
    """Signed, expiring exceptions."""
