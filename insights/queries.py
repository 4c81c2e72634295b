"""The facts of one professional's insights, read in a few queries."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from accounts.models import User
from booking.core.intervals import Interval, local_midnight
from booking.models import CANCELLED, CONFIRMED, GROUP, Booking, Service
from booking.scheduling import group_occurrences
from insights.core import BookingFact, Insights, MoneyFact, OccurrenceFact, summarize
from payments.models import (
    REFUND_CANCELED,
    REFUND_FAILED,
    REFUND_NONE,
    SUCCEEDED,
    Payment,
    Refund,
)
from reviews.models import NoShow

# Refunds that are sent or on their way (not refused by policy, not failed for good).
_NOT_REFUNDED = (REFUND_NONE, REFUND_FAILED, REFUND_CANCELED)


def window_of(start: date, end: date, zone: ZoneInfo) -> Interval:
    """The instants of the local dates ``start`` to ``end`` inclusive."""
    return Interval(local_midnight(start, zone), local_midnight(end + timedelta(days=1), zone))


def insights_for(
    session: Session, professional: User, start: date, end: date, now: datetime
) -> Insights:
    zone = ZoneInfo(professional.timezone)
    window = window_of(start, end, zone)
    in_window = (
        (Booking.professional_id == professional.id)
        & (Booking.start >= window.start)
        & (Booking.start < window.end)
        & Booking.status.in_((CONFIRMED, CANCELLED))
    )
    rows = session.execute(
        select(
            Booking.start,
            Booking.created_at,
            Booking.status,
            Booking.source,
            Booking.group_session_id,
            exists().where(NoShow.booking_id == Booking.id).label("no_show"),
        ).where(in_window)
    ).all()
    facts = [
        BookingFact(
            start=row.start,
            created_at=row.created_at,
            cancelled=row.status == CANCELLED,
            no_show=bool(row.no_show),
            source=row.source,
            is_group=row.group_session_id is not None,
        )
        for row in rows
    ]
    paid = session.execute(
        select(Payment.amount, Payment.currency)
        .join(Booking, Booking.id == Payment.booking_id)
        .where(in_window, Payment.status == SUCCEEDED)
    ).all()
    refunded = session.execute(
        select(Refund.amount, Refund.currency)
        .join(Booking, Booking.id == Refund.booking_id)
        .where(in_window, Refund.status.not_in(_NOT_REFUNDED), Refund.amount > 0)
    ).all()
    money = [MoneyFact(row.amount, row.currency, refund=False) for row in paid] + [
        MoneyFact(row.amount, row.currency, refund=True) for row in refunded
    ]
    classes = session.scalars(
        select(Service).where(Service.professional_id == professional.id, Service.kind == GROUP)
    ).all()
    occurrences = [
        OccurrenceFact(service.capacity or 0, occurrence.seats_taken)
        for service in classes
        for occurrence in group_occurrences(session, service, professional, window)
        if window.start <= occurrence.interval.start < window.end
    ]
    return summarize(facts, money, occurrences, start=start, end=end, zone=zone, now=now)
