"""Bounded parsing of what people and programs send: ids, whole numbers, dates and
times that the database and the calendar code can hold.

Out-of-range input must be a clear 4xx, never an overflow deep inside SQLite
(64-bit integers), PostgreSQL (``integer`` columns are 32-bit) or ``datetime``
arithmetic (year 9999 plus a day). Every parser here returns None for what it
cannot accept; callers turn that into their own field error.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

# Row ids and every whole number we store fit a PostgreSQL ``integer``.
MAX_ID = 2**31 - 1
MIN_INT, MAX_INT = -(2**31), 2**31 - 1
# Dates the platform deals in: far enough on both sides for any real booking,
# history or recurrence, and far from datetime's own limits (years 1 and 9999).
EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(2199, 12, 31)
_MAX_TEXT = 64


def is_id(value: object) -> bool:
    """Whether ``value`` is an int (not a bool) that can be a row id."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def in_range(value: int) -> bool:
    """Whether a whole number fits the columns that store numbers."""
    return MIN_INT <= value <= MAX_INT


def date_in_range(value: date) -> bool:
    return EARLIEST_DATE <= value <= LATEST_DATE


def parse_date(value: object) -> date | None:
    """An ISO 8601 date (``2026-12-01``) between :data:`EARLIEST_DATE` and
    :data:`LATEST_DATE`, else None."""
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        return None
    try:
        parsed = date.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if date_in_range(parsed) else None


def parse_datetime(value: object, zone: ZoneInfo) -> datetime | None:
    """An ISO 8601 date-time (a value without offset is local to ``zone``) as an
    aware UTC datetime within the date bounds, else None."""
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if not date_in_range(parsed.date()):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
