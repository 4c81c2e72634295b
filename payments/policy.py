"""Cancellation policies: how much of a paid booking goes back to the client.

Pure functions on frozen dataclasses (no session, no clock of their own): the
policy of a service, the amount paid, the start and the moment of cancellation in,
a :class:`RefundDecision` out.

- A client who cancels at least ``full_hours`` before the start gets everything back;
  at least ``partial_hours`` before, ``partial_percent`` percent (rounded half up to
  the minor unit); later, nothing. A tier set to None is off.
- A cancellation by the professional, or by the platform, always refunds in full:
  the client did nothing wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from consult.hookspecs import Actor

Tier = Literal["full", "partial", "none"]


@dataclass(frozen=True)
class CancellationPolicy:
    """Full refund up to ``full_hours`` before; ``partial_percent`` up to
    ``partial_hours`` before; none after."""

    full_hours: int | None = 24
    partial_hours: int | None = None
    partial_percent: int = 0

    def __post_init__(self) -> None:
        if self.partial_hours is not None and not 0 < self.partial_percent < 100:
            raise ValueError("a partial tier needs a percentage between 1 and 99")
        if (
            self.full_hours is not None
            and self.partial_hours is not None
            and self.partial_hours >= self.full_hours
        ):
            raise ValueError("the partial tier must end closer to the start than the full one")

    @classmethod
    def of(cls, service: object) -> CancellationPolicy:
        """The policy stored on a :class:`booking.models.Service`."""
        full = getattr(service, "refund_full_hours", None)
        partial = getattr(service, "refund_partial_hours", None)
        percent = getattr(service, "refund_partial_percent", 0) or 0
        # The catalog validates policies; a row that slipped past loses its partial tier
        # rather than breaking every cancellation.
        if partial is not None and (
            not 0 < percent < 100 or (full is not None and partial >= full)
        ):
            partial = None
        return cls(full, partial, percent if partial is not None else 0)


@dataclass(frozen=True)
class RefundDecision:
    tier: Tier
    percent: int
    amount: int


def refund_due(
    policy: CancellationPolicy,
    paid: int,
    *,
    start: datetime,
    cancelled_at: datetime,
    by: Actor,
) -> RefundDecision:
    """What to refund of ``paid`` (minor units) for a cancellation at ``cancelled_at``
    of a booking starting at ``start`` (both aware). Never more than ``paid``."""
    if paid < 0:
        raise ValueError("paid must not be negative")
    if by != "client":
        return RefundDecision("full", 100, paid)
    before = start - cancelled_at
    if policy.full_hours is not None and before >= timedelta(hours=policy.full_hours):
        return RefundDecision("full", 100, paid)
    if policy.partial_hours is not None and before >= timedelta(hours=policy.partial_hours):
        percent = policy.partial_percent
        # Half up, in integers: no float ever touches money.
        return RefundDecision("partial", percent, (paid * percent + 50) // 100)
    return RefundDecision("none", 0, 0)


def _hours(hours: int) -> str:
    if hours % 24 == 0 and hours >= 48:
        return f"{hours // 24} days"
    return "1 hour" if hours == 1 else f"{hours} hours"


def describe(policy: CancellationPolicy) -> str:
    """The policy in one English sentence, for pages and the API."""
    parts = []
    if policy.full_hours is not None:
        if policy.full_hours == 0:
            parts.append("Full refund if you cancel before the start")
        else:
            parts.append(f"Full refund if you cancel at least {_hours(policy.full_hours)} before")
    if policy.partial_hours is not None:
        lead = "; " if parts else ""
        when = (
            "before the start"
            if policy.partial_hours == 0
            else f"at least {_hours(policy.partial_hours)} before"
        )
        parts.append(f"{lead}{policy.partial_percent}% back if you cancel {when}")
    if not parts:
        return "No refund if you cancel. A cancellation by the professional is refunded in full."
    return (
        "".join(parts)
        + "; no refund after that. A cancellation by the professional is refunded in full."
    )
