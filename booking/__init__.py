"""The scheduling core: services, open hours, busy time, slots and bookings.

The pure part (:mod:`booking.core.intervals`, :mod:`booking.core.slots`,
:mod:`booking.core.availability`, :mod:`booking.core.ical`) does no I/O and is
tested hardest. The services around it (:mod:`booking.catalog`,
:mod:`booking.hours`, :mod:`booking.scheduling`, :mod:`booking.bookings`,
:mod:`booking.sessions`) take a database session and write calendar events
through :class:`caldav_server.store.CalendarStore` in the same transaction.

:func:`include` hooks the busy-time index and the follow-up of professionals'
calendar edits into the platform's calendar writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from booking import busy_index, dav_changes
from booking.errors import HTTP_STATUS
from consult.db import Database
from consult.handoff import CommitHandOff, note
from consult.hookspecs import BookingChanged, CalendarItemChanged, ErrorStatuses, hookimpl
from consult.platform import Platform

# Booking changes a session made, counted once it commits.
CHANGES_KEY = "booking.changes"


class BookingHooks:
    """The booking layer's hook implementations for one platform."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @hookimpl
    def booking_changed(self, session: Session, change: BookingChanged) -> None:
        note(session, CHANGES_KEY, change.kind)

    @hookimpl
    def calendar_item_changed(self, session: Session, change: CalendarItemChanged) -> None:
        # The index first: a booking that follows the edit reads the new busy time.
        busy_index.on_item_change(session, change)
        dav_changes.on_item_change(session, change)

    @hookimpl
    def maintenance(self, now: datetime) -> Mapping[str, int]:
        return {
            "professionals' busy time extended": busy_index.extend_expansions(self.database, now)
        }

    @hookimpl
    def error_statuses(self) -> ErrorStatuses:
        return HTTP_STATUS


def include(platform: Platform) -> None:
    """Wire the booking layer into ``platform``: calendar writes keep the busy-time
    index and the bookings in step; committed changes are counted."""
    platform.register(BookingHooks(platform.database), "booking")
    changes = platform.metrics.counter(
        "consult_booking_changes_total",
        "Bookings confirmed, cancelled and rescheduled (committed).",
        ("change",),
    )

    def count(kinds: Sequence[str]) -> None:
        for kind in kinds:
            changes.labels(kind).inc()

    CommitHandOff[str](CHANGES_KEY, count).listen(platform.database)
