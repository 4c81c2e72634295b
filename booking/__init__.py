"""The scheduling core: services, open hours, busy time, slots and bookings.

The pure part (:mod:`booking.intervals`, :mod:`booking.slots`,
:mod:`booking.availability`, :mod:`booking.icalendar_events`) does no I/O and is
tested hardest. The services around it (:mod:`booking.catalog`,
:mod:`booking.hours`, :mod:`booking.scheduling`, :mod:`booking.bookings`,
:mod:`booking.sessions`) take a database session and write calendar events
through :class:`caldav_server.store.CalendarStore` in the same transaction.
:func:`install` hooks the busy-time index and the follow-up of professionals'
calendar edits into the store; every process that writes calendars calls it.
"""

from __future__ import annotations

_installed = False


def install() -> None:
    """Register the booking layer's store listeners (idempotent)."""
    global _installed
    if _installed:
        return
    from booking import busy_index, dav_changes
    from caldav_server.store import register_item_listener

    register_item_listener(busy_index.on_item_change)
    register_item_listener(dav_changes.on_item_change)
    _installed = True
