"""Scheduling the sessions of a group class: one VEVENT (with RRULE when it
repeats) in the professional's Bookings calendar, written with its row in one
transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from accounts.models import User
from booking.bookings import Links, write_event_object
from booking.catalog import SessionInput, get_own_service, new_event_uid
from booking.core.ical.write import build_session_event
from booking.errors import ValidationError
from booking.models import GroupSession
from booking.scheduling import professional_calendars
from caldav_server.store import CalendarStore


def schedule_session(
    session: Session,
    professional: User,
    service_id: int,
    data: SessionInput,
    *,
    now: datetime,
    links: Links,
) -> GroupSession:
    """Add a one-off or recurring session to a group class the professional owns."""
    service = get_own_service(session, professional, service_id)
    if not service.is_group:
        raise ValidationError({"service": "Only group classes have sessions."})
    calendars = professional_calendars(session, professional)
    store = CalendarStore(session)
    store.lock_collection(calendars.bookings_path)
    uid = new_event_uid()
    group_session = GroupSession(
        service_id=service.id, event_uid=uid, start=data.start, rrule=data.rrule
    )
    session.add(group_session)
    session.flush()
    url = f"{links.base_url}/services/{service.id}"
    ics = build_session_event(
        uid=uid,
        start=data.start,
        end=data.start + timedelta(minutes=service.duration_minutes),
        summary=service.title,
        description=service.description,
        organizer_email=professional.email,
        organizer_name=professional.name,
        rrule=data.rrule,
        url=url,
        zone=calendars.zone,
        extra={
            "X-CONSULT-SERVICE-ID": str(service.id),
            "X-CONSULT-SESSION-ID": str(group_session.id),
        },
        now=now,
    )
    write_event_object(store, calendars.bookings_path, ics, f"{uid}.ics")
    return group_session
