"""Open hours: read and replace the professional's Availability calendar through
the weekly-hours model of :mod:`booking.core.availability`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from accounts.models import User
from booking.busy_index import reindex_zone_dependent
from booking.core.availability import (
    WeeklyHours,
    availability_events,
    parse_weekly_hours,
    read_weekly_hours,
)
from booking.scheduling import professional_calendars
from caldav_server.store import CalendarStore


def get_hours(session: Session, professional: User, today: date) -> WeeklyHours:
    """What the Availability calendar says now, phone-made events included."""
    calendars = professional_calendars(session, professional)
    items = CalendarStore(session).list_items(calendars.availability_path)
    return read_weekly_hours([item.text for item in items], professional.timezone, today=today)


def put_hours(session: Session, professional: User, payload: Any, now: datetime) -> WeeklyHours:
    """Replace the Availability calendar with the events for ``payload`` (the API's
    shape) and adopt its time zone as the professional's. Validation errors raise
    :class:`booking.errors.InvalidWeeklyHours` before anything is written."""
    hours = parse_weekly_hours(payload)
    calendars = professional_calendars(session, professional)
    store = CalendarStore(session)
    store.lock_collection(calendars.availability_path)
    today = now.astimezone(hours.zone).date()
    wanted = dict(availability_events(hours, anchor=today, stamp=now))
    for item in store.list_items(calendars.availability_path):
        if item.uid not in wanted:
            store.delete_item(calendars.availability_path, item.href, actor="platform")
    for uid, ics in wanted.items():
        existing = store.get_item_by_uid(calendars.availability_path, uid)
        store.put_item(
            calendars.availability_path,
            ics,
            href=existing.href if existing else None,
            actor="platform",
        )
    if professional.timezone != hours.timezone:
        professional.timezone = hours.timezone
        session.flush()
        reindex_zone_dependent(session, calendars.principal)
    return hours
