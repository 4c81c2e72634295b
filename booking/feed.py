"""The read-only ICS feed of a professional's bookings, for calendar apps that
can only subscribe (Google Calendar)."""

from __future__ import annotations

from datetime import datetime, timedelta

import icalendar
from sqlalchemy.orm import Session

from accounts.models import User
from booking.core.ical.validate import load_calendars
from booking.scheduling import professional_calendars
from caldav_server.store import CalendarStore
from consult.text import single_line

FEED_PAST = timedelta(days=90)
FEED_FUTURE = timedelta(days=730)


def bookings_feed(session: Session, professional: User, now: datetime) -> bytes:
    """One VCALENDAR with the Bookings calendar's events from 90 days ago on.

    Cancelled bookings stay in (STATUS:CANCELLED) so subscribers remove them; each
    time zone definition appears once.
    """
    calendars = professional_calendars(session, professional)
    items = CalendarStore(session).items_in_range(
        [calendars.bookings_path], now - FEED_PAST, now + FEED_FUTURE
    )
    feed = icalendar.Calendar()
    feed.add("PRODID", "-//Consult//Bookings feed//EN")
    feed.add("VERSION", "2.0")
    feed.add("CALSCALE", "GREGORIAN")
    feed.add("X-WR-CALNAME", single_line(f"{professional.name}: bookings"))
    feed.add("X-WR-TIMEZONE", professional.timezone)
    feed.add("REFRESH-INTERVAL", timedelta(minutes=15), parameters={"VALUE": "DURATION"})
    feed.add("X-PUBLISHED-TTL", "PT15M")
    zones: set[str] = set()
    for calendar in load_calendars(item.text for item in items):
        for component in calendar.subcomponents:
            if component.name == "VTIMEZONE":
                tzid = str(component.get("TZID"))
                if tzid in zones:
                    continue
                zones.add(tzid)
            feed.add_component(component)
    return bytes(feed.to_ical())
