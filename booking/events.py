"""Booking changes announced to the rest of the platform, inside the transaction
that made them.

Notifications write their outbox rows, payments their refunds, from here: a
subscriber runs in the same database transaction as the change, so either both
commit or neither does. Subscribers must not do slow I/O; they record work and
enqueue jobs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

ChangeKind = Literal["confirmed", "cancelled", "rescheduled"]
Actor = Literal["client", "professional", "system"]


@dataclass(frozen=True)
class BookingChanged:
    kind: ChangeKind
    booking_id: int
    actor: Actor
    previous_start: datetime | None = None


Subscriber = Callable[[Session, BookingChanged], None]
_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> Subscriber:
    """Register ``subscriber`` (idempotent); usable as a decorator."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def unsubscribe(subscriber: Subscriber) -> None:
    if subscriber in _subscribers:
        _subscribers.remove(subscriber)


def publish(session: Session, event: BookingChanged) -> None:
    """Call every subscriber in order; an exception aborts the caller's transaction."""
    for subscriber in list(_subscribers):
        subscriber(session, event)
