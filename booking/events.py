"""Booking changes announced to the rest of the platform, inside the transaction
that made them: the ``booking_changed`` hook (:mod:`consult.hookspecs`).

Notifications write their outbox rows, payments their refunds, sync its pushes
from there: an implementation runs in the same database transaction as the
change, so either both commit or neither does.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from consult.hookspecs import BookingChanged, hooks_of


def publish(session: Session, change: BookingChanged) -> None:
    """Tell the session's platform; an exception aborts the caller's transaction."""
    hooks_of(session).booking_changed(session=session, change=change)
