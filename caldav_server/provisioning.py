"""Create a professional's CalDAV home: the principal collection and the two
calendars the platform relies on, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from sqlalchemy.orm import Session

from caldav_server.store import CalendarStore

# Names of the calendars every professional gets (collection names under the principal).
BOOKINGS_CALENDAR = "bookings"
AVAILABILITY_CALENDAR = "availability"

DEFAULT_CALENDARS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        BOOKINGS_CALENDAR: MappingProxyType(
            {
                "D:displayname": "Bookings",
                "C:calendar-description": "Sessions booked through the platform.",
                "ICAL:calendar-color": "#2563ebff",
            }
        ),
        AVAILABILITY_CALENDAR: MappingProxyType(
            {
                "D:displayname": "Availability",
                "C:calendar-description": (
                    "Your open hours. Add or move events here to change when clients can book."
                ),
                "ICAL:calendar-color": "#16a34aff",
            }
        ),
    }
)


def provision_principal(session: Session, principal: str) -> None:
    """Ensure ``/principal/`` with the Bookings and Availability calendars exists."""
    store = CalendarStore(session)
    store.ensure_principal(principal)
    for name, props in DEFAULT_CALENDARS.items():
        path = f"{principal}/{name}"
        if not store.collection_exists(path):
            store.create_calendar(path, {**props, "C:supported-calendar-component-set": "VEVENT"})
