"""Domain errors of the booking core.

Every error the sans-IO core raises on purpose derives from :class:`BookingError`,
so an API layer can map the whole tree with one handler::

    BookingError
    ├── InvalidCalendarData     ICS text that cannot be parsed or that breaks RFC 5545
    ├── UnknownOccurrence       a RECURRENCE-ID that names no occurrence of the event
    ├── NotAllowed              the caller may not do this (e.g. a client offering services)
    ├── ServiceNotFound         no such service, or not one the caller may see
    ├── BookingNotFound         no such booking, or not one the caller is part of
    ├── InvalidTimezone         an unknown IANA zone name in a request
    ├── SlotUnavailable         the slot was free but is not any more (HTTP 409)
    ├── OutsideBookingWindow    outside open hours, notice, horizon or the step grid (422)
    ├── BookingClosed           the booking is cancelled or over; it cannot change
    ├── CalendarWriteFailed     the calendar event could not be written; nothing was kept
    └── ValidationError         user input; ``errors`` maps field paths to messages
        └── InvalidWeeklyHours  the weekly-hours payload of the availability API

Programming errors (a naive datetime, an interval whose end is not after its start)
raise :class:`ValueError` instead: they are bugs in the caller, not user mistakes.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "HTTP_STATUS",
    "BookingClosed",
    "BookingError",
    "BookingNotFound",
    "CalendarWriteFailed",
    "InvalidTimezone",
    "OutsideBookingWindow",
    "SlotUnavailable",
    "InvalidCalendarData",
    "InvalidWeeklyHours",
    "NotAllowed",
    "ServiceNotFound",
    "UnknownOccurrence",
    "ValidationError",
]


class BookingError(Exception):
    """Base class of every domain error raised by :mod:`booking`."""


class InvalidCalendarData(BookingError):
    """ICS data could not be parsed, or it lacks what RFC 5545 requires of it."""


class UnknownOccurrence(BookingError):
    """A RECURRENCE-ID was given that is not an occurrence of the recurring event."""


class NotAllowed(BookingError):
    """The caller is not allowed to do this; the message says why."""

    def __init__(self, message: str = "You are not allowed to do this.") -> None:
        super().__init__(message)


class ServiceNotFound(BookingError):
    """No such service, or it is deleted, or it belongs to someone else."""

    def __init__(self, message: str = "No such service.") -> None:
        super().__init__(message)


class ValidationError(BookingError):
    """User input failed validation.

    ``errors`` maps a field path such as ``"weekly.mon[0]"`` to a message that says what
    is wrong with it; the message of the exception summarises all of them.
    """

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors: dict[str, str] = dict(errors)
        summary = "; ".join(f"{field}: {message}" for field, message in self.errors.items())
        super().__init__(summary or "invalid input")


class InvalidWeeklyHours(ValidationError):
    """The weekly-hours payload (time zone, weekly intervals, date overrides) is invalid."""


class BookingNotFound(BookingError):
    """No such booking, or one the caller is not part of (indistinguishable on purpose)."""

    def __init__(self) -> None:
        super().__init__("No such booking.")


class InvalidTimezone(BookingError):
    """An unknown IANA time zone name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown time zone {name!r}; use an IANA name such as Europe/Berlin.")
        self.name = name


class SlotUnavailable(BookingError):
    """The requested slot is no longer free (taken, busy, full, or the day is full)."""


class OutsideBookingWindow(BookingError):
    """The requested start breaks a rule of the service: open hours, notice, horizon, grid."""


class BookingClosed(BookingError):
    """The booking can no longer be changed (cancelled, or already started)."""


class CalendarWriteFailed(BookingError):
    """Writing the calendar event failed, so the booking was not made or changed."""


# What each error means over HTTP: (status, machine-readable code).
HTTP_STATUS: Mapping[type[Exception], tuple[int, str]] = MappingProxyType(
    {
        ValidationError: (422, "validation_error"),
        NotAllowed: (403, "forbidden"),
        ServiceNotFound: (404, "not_found"),
        BookingNotFound: (404, "not_found"),
        InvalidTimezone: (400, "invalid_timezone"),
        SlotUnavailable: (409, "slot_unavailable"),
        OutsideBookingWindow: (422, "outside_booking_window"),
        BookingClosed: (409, "booking_closed"),
        CalendarWriteFailed: (503, "calendar_write_failed"),
        InvalidCalendarData: (422, "invalid_calendar_data"),
        UnknownOccurrence: (422, "unknown_occurrence"),
    }
)
