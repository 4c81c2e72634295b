"""Following what professionals do to booked events from their own calendar app.

The calendar store calls :func:`on_item_change` inside the transaction of every
CalDAV write. When a professional deletes a booked event, marks it cancelled,
moves it, or removes a client from a group session, the bookings follow: they
are cancelled (or moved) *by the professional*, and the usual notifications go
out. Writes made by the platform itself (actor ``platform``) are ignored here.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import User
from booking import events
from booking.bookings import mark_cancelled
from booking.core.ical.expand import occurrences
from booking.core.ical.validate import parse_calendar
from booking.core.intervals import Interval
from booking.errors import InvalidCalendarData
from booking.models import ACTIVE_STATUSES, Booking, GroupSession, Service
from caldav_server.provisioning import BOOKINGS_CALENDAR
from caldav_server.store import principal_of
from consult.db import utcnow
from consult.hookspecs import BookingChanged, CalendarItemChanged

log = logging.getLogger(__name__)


def on_item_change(session: Session, change: CalendarItemChanged) -> None:
    """Store listener: reflect a professional's edits of booked events in the bookings."""
    if not change.actor.startswith("dav:") or change.uid is None:
        return
    if change.collection_path.split("/")[-1] != BOOKINGS_CALENDAR:
        return
    if change.kind == "move" and change.moved_to is not None and change.new_text is None:
        # Moving the event to another of their calendars is not a cancellation.
        return
    owner = _owner(session, principal_of(change.collection_path))
    if owner is None:
        return
    # UIDs are unique per collection only: a booking follows changes made in its own
    # professional's Bookings calendar, never an event that merely shares its UID.
    bookings = list(
        session.scalars(
            select(Booking).where(
                Booking.event_uid == change.uid,
                Booking.professional_id == owner.id,
                Booking.status.in_(ACTIVE_STATUSES),
            )
        )
    )
    if not bookings:
        return
    now = utcnow()
    if change.new_text is None:
        for booking in bookings:
            if booking.end > now:
                mark_cancelled(
                    session,
                    booking,
                    by="professional",
                    now=now,
                    reason="Cancelled from the professional's calendar.",
                )
        _cancel_session_rows(session, change.uid, owner.id, now)
        return
    try:
        calendar = parse_calendar(change.new_text)
    except InvalidCalendarData as error:
        log.warning("booked event %s rewritten unreadably: %s", change.uid, error)
        return
    zone = _zone(owner)
    for booking in bookings:
        if booking.end <= now:
            continue
        if booking.is_group:
            _follow_group_seat(session, booking, calendar, zone, now)
        else:
            _follow_one_on_one(session, booking, calendar, zone, now)


def _owner(session: Session, principal: str) -> User | None:
    """The professional whose calendar tree ``principal`` is, if any."""
    if not principal:
        return None
    return session.scalar(select(User).where(User.principal == principal))


def _zone(owner: User) -> ZoneInfo:
    try:
        return ZoneInfo(owner.timezone or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _cancel_session_rows(session: Session, uid: str, professional_id: int, now: datetime) -> None:
    group_session = session.scalar(
        select(GroupSession)
        .join(Service, Service.id == GroupSession.service_id)
        .where(GroupSession.event_uid == uid, Service.professional_id == professional_id)
    )
    if group_session is not None and group_session.cancelled_at is None:
        group_session.cancelled_at = now


def _follow_one_on_one(session, booking, calendar, zone, now) -> None:  # type: ignore[no-untyped-def]
    window = Interval(booking.start - timedelta(days=400), booking.start + timedelta(days=400))
    found = occurrences([calendar], window, zone, include_cancelled=True, max_occurrences=10)
    live = [o for o in found if not _is_cancelled(o.component)]
    if not live:
        mark_cancelled(
            session,
            booking,
            by="professional",
            now=now,
            reason="Cancelled from the professional's calendar.",
        )
        return
    first = live[0]
    if first.start != booking.start or first.end != booking.end:
        previous = booking.start
        booking.start, booking.end = first.start, first.end
        booking.sequence += 1
        session.flush()
        events.publish(
            session,
            BookingChanged("rescheduled", booking.id, "professional", previous_start=previous),
        )


def _follow_group_seat(session, booking, calendar, zone, now) -> None:  # type: ignore[no-untyped-def]
    client = session.get(User, booking.client_id)
    window = Interval(booking.start - timedelta(minutes=1), booking.start + timedelta(minutes=1))
    found = occurrences([calendar], window, zone, include_cancelled=True)
    match = [o for o in found if o.start == booking.start]
    reason = None
    if not match or _is_cancelled(match[0].component):
        reason = "The session was cancelled by the professional."
    elif client is not None and not _has_attendee(match[0].component, client.email):
        reason = "The professional removed this seat."
    if reason:
        mark_cancelled(session, booking, by="professional", now=now, reason=reason)


def _is_cancelled(component) -> bool:  # type: ignore[no-untyped-def]
    return str(component.get("STATUS", "")).upper() == "CANCELLED"


def _has_attendee(component, email: str) -> bool:  # type: ignore[no-untyped-def]
    value = component.get("ATTENDEE")
    attendees = value if isinstance(value, list) else ([value] if value is not None else [])
    wanted = email.strip().lower()
    return any(str(a).lower().removeprefix("mailto:") == wanted for a in attendees)
