"""Recorded outputs as a target: answers come from a cassette or an earlier run."""

from __future__ import annotations

from typing import Any

from mondaytest.evals.cassette import Cassette
from mondaytest.evals.model import Case, Output, canonical_hash
from mondaytest.evals.targets.interface import TargetError, TargetInfo

__all__ = ["ReplayTarget"]


class ReplayTarget:
    """Answers from a :class:`Cassette` instead of calling anything.

    A call whose input changed since it was recorded (the input hash differs) or that was never
    recorded ends in a non-retryable error: replay never guesses.
    """

    def __init__(self, cassette: Cassette, role: str = "target") -> None:
        self._cassette = cassette
        self._role = role
        recorded = cassette.recorded_info(role)
        detail: dict[str, Any] = {
            "kind": "replay",
            "cassette": str(cassette.path),
            "recorded": recorded.to_json() if recorded else None,
        }
        fingerprint = recorded.fingerprint if recorded and recorded.fingerprint else ""
        self.info = TargetInfo("replay", str(cassette.path), fingerprint, detail)

    async def start(self) -> None:
        """Nothing to open."""

    async def call(self, case: Case, epoch: int) -> Any:
        """The recorded output for this case and epoch."""
        row = self._cassette.get(self._role, case.id, epoch)
        if row is None:
            raise TargetError(
                f"no recording for case {case.id!r} epoch {epoch} in {self._cassette.path}",
                retryable=False,
            )
        recorded_hash = row.get("input_hash")
        if recorded_hash is not None and recorded_hash != canonical_hash(case.input):
            raise TargetError(
                f"case {case.id!r} changed since it was recorded (input hash differs); "
                "record again with --record",
                retryable=False,
            )
        cost = row.get("cost")
        if isinstance(cost, int | float) and not isinstance(cost, bool):
            return Output(row.get("output"), cost=float(cost))
        return row.get("output")

    async def aclose(self) -> None:
        """Close the cassette."""
        self._cassette.close()
